# Two commands set everything up: `make run` (the product with demo data) and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
export DJANGO_SETTINGS_MODULE := dashboard.settings

.PHONY: run soak run-setup test test-future mutation lint format bench bench-scale venv dev-deps demo-data clean api-schema

$(BIN)/.installed: requirements.txt
	test -d $(VENV) || $(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(BIN)/.dev-installed: $(BIN)/.installed requirements-dev.txt
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

# FullStory's official Node SDK for the contract tests, pinned by its package-lock.json.
NODE_SDK := tests/contract/fullstory_node
$(NODE_SDK)/node_modules/.package-lock.json: $(NODE_SDK)/package-lock.json
	npm ci --prefix $(NODE_SDK) --no-audit --no-fund

venv: $(BIN)/.installed
dev-deps: $(BIN)/.dev-installed

var/credentials.key: | $(BIN)/.installed
	mkdir -p var
	$(BIN)/python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())" > $@
	chmod 600 $@

## make run: venv, pinned requirements, migrate, demo admin + demo config, then the
## simulator, web, worker and beat in the foreground (Ctrl-C stops them all). Each runs under
## devtools.keep_running: a crash is restarted and reported; one that keeps crashing stops all.
run soak run-setup: export DEBUG ?= true
run soak run-setup: export POLL_ACTIVE_SECONDS ?= 5
run soak run-setup: export POLL_IDLE_SECONDS ?= 15
run-setup: $(BIN)/.installed var/credentials.key
	mkdir -p var/broker/queue var/broker/control var/broker/processed
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py demo_setup

run: run-setup
	$(BIN)/honcho -f Procfile.dev start

## make soak: the same process set for SOAK_SECONDS (default 2 h), checked every minute: every
## process up, /healthz ok, polls landing. Report in var/soak/report.json; exit 1 on any problem.
SOAK_SECONDS ?= 7200
soak: run-setup
	$(BIN)/python -m devtools.soak --seconds $(SOAK_SECONDS)

## make test: the whole suite against PostgreSQL, Redis, Chromium and Node.js (none is optional).
test: export TESTING = true
test: export DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/pipewatch
test: export REDIS_URL ?= redis://127.0.0.1:6379/15
test: $(BIN)/.dev-installed $(NODE_SDK)/node_modules/.package-lock.json
	$(BIN)/python -m pytest $(PYTEST_ARGS)

## make bench: benchmarks on PostgreSQL and Redis (bench/README.md); a benchmark, not a test.
## Its own database (dropped and recreated) and Redis db 9; `make bench BENCH_ARGS=--quick` for a smoke run.
bench: export DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/pipewatch_bench
bench: export REDIS_URL ?= redis://127.0.0.1:6379/9
bench: $(BIN)/.dev-installed
	$(BIN)/python -m bench.run $(BENCH_ARGS)

## make bench-scale: the central paths (tick, alert scan, housekeeping, pages) at 100,000 and
## 1,000,000 pipelines built inside PostgreSQL (BENCH_SCALE_PIPELINES=100000 for one size).
bench-scale: export DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/pipewatch_bench
bench-scale: export REDIS_URL ?= redis://127.0.0.1:6379/9
bench-scale: $(BIN)/.dev-installed
	$(BIN)/python -m bench.run --only scale $(BENCH_ARGS)

## make api-schema: regenerate docs/api/openapi.json from the code (tests/api fails while they differ).
api-schema: export TESTING = true
api-schema: $(BIN)/.installed
	$(BIN)/python manage.py api_schema

## make test-future: tests/jobs and tests/browser as if the machine's clock read a day years ahead,
## then a day before the fixtures' T0 (PW_TEST_PRETEND_NOW): no test may depend on today's date.
## `make test-future PRETEND_DATES=2031-06-15T12:00:00+00:00 FUTURE_TESTS=tests/jobs` for less.
PRETEND_DATES ?= 2031-06-15T12:00:00+00:00 2025-03-01T08:00:00+00:00
FUTURE_TESTS ?= tests/jobs tests/browser
test-future: export TESTING = true
test-future: export DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/pipewatch
test-future: export REDIS_URL ?= redis://127.0.0.1:6379/15
test-future: $(BIN)/.dev-installed
	for when in $(PRETEND_DATES); do \
	  echo "--- as if it were $$when"; \
	  PW_TEST_PRETEND_NOW=$$when $(BIN)/python -m pytest -q -p no:cacheprovider $(FUTURE_TESTS) $(PYTEST_ARGS) || exit 1; \
	done

## make mutation: mutmut over the vendor normalizers, jobs/health.py and the recording code ([tool.mutmut] in
## pyproject.toml), with their fast unit tests; the tree is copied to ./mutants (gitignored).
## Prints the score per module; `$(BIN)/mutmut browse` or `mutmut show <name>` for survivors.
MUTATION_CHILDREN ?= 2
mutation: export TESTING = true
mutation: export DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/pipewatch_mutation
mutation: export REDIS_URL ?= redis://127.0.0.1:6379/15
mutation: $(BIN)/.dev-installed
	$(BIN)/mutmut run --max-children $(MUTATION_CHILDREN)
	$(BIN)/python -m devtools.mutation_score --min 85

lint: export TESTING = true
lint: $(BIN)/.dev-installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/vulture
	$(BIN)/python manage.py makemigrations --check --dry-run

format: $(BIN)/.dev-installed
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf var/db.sqlite3 var/broker var/celerybeat-schedule*
