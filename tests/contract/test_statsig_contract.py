"""Statsig's own Console API description decides (openapi-core): every simulator answer in
every scenario and error case, every request our client sends (poll, discovery, test
connection, backfill), the backfill form field by field, every status of the spec's
vocabulary, and every published example through the normalizers."""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from jsonschema import Draft4Validator
from openapi_schema_validator import OAS30Validator

from vendors.base import AccountConfig, InvalidSpec, Target, VendorError
from vendors.http import USER_AGENT, HttpSettings
from vendors.seeds import SEED_DIR
from vendors.simulator.core import Clock, SimServer, Simulator
from vendors.statsig.client import BACKFILL, BACKFILLS, StatsigClient, error_parser
from vendors.statsig.normalize import INGESTION_STATES, ingestion_state, normalize_ingestion
from vendors.statsig.runs import RUN_STATES, backfill_run_id, normalize_run, run_state
from vendors.statsig.simulator import (
    BUSY_KEY,
    DEMO_KEY,
    SEED_KEY,
    STATSIG_SEED,
    SimConsole,
    SimSource,
    StatsigWorld,
    install_demo,
    scripted_day,
    seed_console,
    seed_status_example,
)

from ..conftest import T0
from . import openapi3_validation as oa
from .exchanges import Exchange, Recorder
from .schema_cases import field_cases

SPEC_FILE = Path(__file__).resolve().parents[2] / "vendors" / "statsig" / "spec" / "console-api.openapi.json"
SPEC_DATA = json.loads(SPEC_FILE.read_text())
KEY = "console-contract-key-0123"
FAST = HttpSettings(connect_timeout=1, read_timeout=5, total_timeout=10, retries=0)
STATUS, RUNS, BACKFILL_PATH = (
    "/console/v1/ingestion/status",
    "/console/v1/ingestion/runs",
    "/console/v1/ingestion/backfill",
)
# Answers the spec does not list, each with Statsig's `{status, message}` envelope:
# every endpoint can be rate limited (no vendor documents its 429), the status endpoint
# refuses bad dates and filters, and /runs is authenticated like its siblings.
UNDOCUMENTED = {
    ("GET", STATUS, 400),
    ("GET", STATUS, 429),
    ("GET", RUNS, 400),
    ("GET", RUNS, 401),
    ("GET", RUNS, 429),
    ("GET", RUNS + "/{id}", 429),
    ("POST", BACKFILL_PATH, 401),
    ("POST", BACKFILL_PATH, 429),
}


def envelope(status: int) -> Draft4Validator:
    """Statsig's error body, as the spec gives it for 400, 401 and 404."""
    schema = {"type": "object", "properties": {"status": {"enum": [status]}, "message": {"type": "string"}}}
    return Draft4Validator({**schema, "required": ["status", "message"]})


@pytest.fixture(scope="module")
def openapi() -> Any:
    return oa.load(SPEC_FILE)


@dataclass
class Statsig:
    url: str
    sim: Simulator
    world: StatsigWorld
    recorder: Recorder

    def client(self, key: str = KEY, **settings: object) -> StatsigClient:
        account = AccountConfig("statsig", "t", dict(settings), {"api_key": key}, base_url=self.url)
        return StatsigClient(account, FAST, now=self.sim.clock.now)

    def get(self, path: str, key: str = KEY, **params: Any) -> requests.Response:
        return requests.get(self.url + path, params=params, headers={"STATSIG-API-KEY": key}, timeout=5)

    def post(self, path: str, body: Any, key: str = KEY) -> requests.Response:
        return requests.post(self.url + path, json=body, headers={"STATSIG-API-KEY": key}, timeout=5)


def serve(install: Callable[[Simulator], StatsigWorld]) -> Iterator[Statsig]:
    sim = Simulator(Clock(T0, frozen=True))
    recorder = Recorder(sim)
    world = install(sim)
    server = SimServer(sim).start()
    try:
        yield Statsig(server.url, sim, world, recorder)
    finally:
        server.stop()


def _world(sim: Simulator) -> StatsigWorld:
    today = T0.date()
    snowflake = SimSource("snowflake-prod", "events", "snowflake")
    snowflake.days = [
        scripted_day(today - timedelta(days=1), at=T0 - timedelta(minutes=30), gap=20 * 60, rows=500),
        scripted_day(today - timedelta(days=2), ("IMPORT_SCHEDULED", "QUERY_ERROR"), message="bad SQL for {ds}"),
        scripted_day(today - timedelta(days=3), ("IMPORT_SCHEDULED", "IMPORT_STARTED", "DEDUPE_RUNNING")),
        *(scripted_day(today - timedelta(days=n), rows=n) for n in range(4, 9)),
    ]
    metrics = SimSource("dbx-metrics", "Metrics", "databricks", days=[scripted_day(today - timedelta(days=1))])
    world = StatsigWorld([SimConsole(KEY).add(snowflake, metrics), seed_console()], page_size=4)
    world.install(sim)
    return world


@pytest.fixture
def statsig() -> Iterator[Statsig]:
    yield from serve(_world)


BACKFILL_SPEC = {"datestamp_start": "2026-11-10", "datestamp_end": "2026-11-12", "type": "snowflake-v2"}


# -- scenarios -----------------------------------------------------------------------
def client_flow(s: Statsig) -> None:
    """Discovery across pages, day runs as the clock moves, backfills followed to their end."""
    client = s.client(window_days=10)
    client.poll([Target("ingestion", "snowflake-prod/events")], discover=True)
    runs = [
        client.create(BACKFILL, {**BACKFILL_SPEC, "dataset": dataset, "source": source}).run_keys[0]
        for dataset, source in (("Events", "snowflake-prod"), ("Metrics", ["dbx-metrics"]), ("Events", None))
    ]
    for _ in range(4):
        s.sim.clock.advance(40)
        client.poll([Target(BACKFILL, "backfills", (*runs, "no-such-run"))])
    client.poll([Target("ingestion", "snowflake-prod/events")], discover=True)
    client.check_credentials()


def error_cases(s: Statsig) -> None:
    """Every error the simulator gives on its own: 400, 401, 404, 429."""
    day = T0.date().isoformat()
    s.get(STATUS, key="console-wrong", startDate=day, endDate=day)  # 401 (the seed's body)
    s.get(RUNS + "/abc", key="console-wrong")
    s.get(RUNS, key="console-wrong")
    s.post(BACKFILL_PATH, {**BACKFILL_SPEC, "dataset": "Events"}, key="console-wrong")
    s.get(STATUS, startDate=day)  # 400: endDate is required
    s.get(STATUS, startDate="2026-13-01", endDate=day)
    s.get(STATUS, startDate=day, endDate=day, dataset="export_events")  # not in the spec's enum
    s.get(STATUS, startDate=day, endDate=day, status="DEDUPE_RUNNING")
    s.get(STATUS, startDate=day, endDate=day, dataset="Metrics", statuses=["IMPORT_SUCCESSFUL", "ROWS_INSERTED"])
    s.get(RUNS, page="x")
    s.get(RUNS + "/no-such-run")  # 404
    s.post(BACKFILL_PATH, {**BACKFILL_SPEC, "dataset": "export_events"})  # 400
    s.post(BACKFILL_PATH, {"datestamp_start": day, "dataset": "Events"})
    s.post(BACKFILL_PATH, {**BACKFILL_SPEC, "dataset": "Events", "datestamp_end": "12/11/2026"})
    with contextlib.suppress(VendorError):
        s.client("console-wrong").check_credentials()
    busy = SimConsole(BUSY_KEY, rate_limits=((1, 30.0),))
    s.world.add(busy)
    for _ in range(2):
        s.get(STATUS, key=BUSY_KEY, startDate=day, endDate=day)  # 429 with Retry-After
        s.get(RUNS, key=BUSY_KEY)
        s.get(RUNS + "/abc", key=BUSY_KEY)
        s.post(BACKFILL_PATH, {**BACKFILL_SPEC, "dataset": "Events"}, key=BUSY_KEY)


def runs_listing(s: Statsig) -> None:
    """`GET /runs` page by page, and each run by id, while backfills advance."""
    for dataset in ("Events", "Metrics", "Events"):
        s.post(BACKFILL_PATH, {**BACKFILL_SPEC, "dataset": dataset})
    for _ in range(3):
        for page in (1, 2):
            for run in s.get(RUNS, page=page, limit=2).json()["data"]:
                s.get(f"{RUNS}/{run['runID']}")
        s.sim.clock.advance(60)


SCENARIOS = {"client flow": client_flow, "error cases": error_cases, "runs listing": runs_listing}


def run(scenario: Callable[[Statsig], None]) -> list[Exchange]:
    for s in serve(_world):
        scenario(s)
        return s.recorder.take()
    raise AssertionError("unreachable")


def demo_exchanges() -> list[Exchange]:
    for s in serve(lambda sim: install_demo(sim, T0)):
        client = s.client(DEMO_KEY, window_days=10)
        for _ in range(4):
            client.poll([Target(BACKFILL, "backfills", ("demo-backfill-done", "demo-backfill-retry"))], discover=True)
            s.get(RUNS, key=DEMO_KEY)
            s.sim.clock.advance(20 * 60)
        client.check_credentials()
        with contextlib.suppress(VendorError):
            s.client(BUSY_KEY).check_credentials()
            s.client(BUSY_KEY).check_credentials()
        return s.recorder.take()
    raise AssertionError("unreachable")


def ours(exchanges: list[Exchange]) -> list[Exchange]:
    return [e for e in exchanges if e.request.headers.get("user-agent") == USER_AGENT]


def _template(path: str) -> str:
    return RUNS + "/{id}" if path.startswith(RUNS + "/") else path


def _seed_verbatim(exchange: Exchange) -> bool:
    return exchange.request.headers.get("statsig-api-key") == SEED_KEY and exchange.status == 200


def answer_problems(openapi: Any, exchanges: list[Exchange]) -> list[str]:
    problems = []
    for e in exchanges:
        key = (e.request.method, _template(e.request.path), e.status)
        if _seed_verbatim(e):  # Statsig's own example, which its schema refuses: served as published
            assert e.body.decode() == seed_status_example() and oa.response_problems(openapi, e)
        elif found := oa.response_problems(openapi, e):
            if key in UNDOCUMENTED and all("ResponseNotFound" in p for p in found):
                problems += [f"{e}: {v.message}" for v in envelope(e.status).iter_errors(e.json())]
            else:
                problems += found
    return problems


# -- every answer, every request -----------------------------------------------------
@pytest.mark.parametrize("name", [*SCENARIOS, "demo"])
def test_every_simulator_answer_matches_the_published_spec(openapi, name: str) -> None:
    exchanges = demo_exchanges() if name == "demo" else run(SCENARIOS[name])
    assert exchanges
    assert answer_problems(openapi, exchanges) == []


@pytest.mark.parametrize("name", ["client flow", "error cases", "demo"])
def test_every_request_our_client_sends_matches_the_published_spec(openapi, name: str) -> None:
    exchanges = ours(demo_exchanges() if name == "demo" else run(SCENARIOS[name]))
    assert exchanges
    assert [p for e in exchanges for p in oa.request_problems(openapi, e.request)] == []


def test_the_scenarios_reach_every_operation_and_answer(openapi) -> None:
    exchanges = [e for scenario in SCENARIOS.values() for e in run(scenario)] + demo_exchanges()
    seen = {(e.request.method, _template(e.request.path), e.status) for e in exchanges}
    documented = {
        (method.upper(), path, int(status))
        for path in (STATUS, RUNS, RUNS + "/{id}", BACKFILL_PATH)
        for method, op in SPEC_DATA["paths"][path].items()
        for status in op["responses"]
    }
    assert documented <= seen  # every answer the spec lists for these endpoints, produced
    assert seen - documented == UNDOCUMENTED  # and only the open ones besides
    client_calls = {(e.request.method, _template(e.request.path)) for e in ours(exchanges)}
    assert client_calls == {("GET", STATUS), ("GET", RUNS + "/{id}"), ("POST", BACKFILL_PATH)}


def test_a_backfill_run_lists_its_statuses_as_objects(statsig) -> None:
    run_id = statsig.post(BACKFILL_PATH, {**BACKFILL_SPEC, "dataset": "Events"}).json()["data"]["runID"]
    statsig.sim.clock.advance(30)
    run = statsig.get(f"{RUNS}/{run_id}").json()["data"]
    [by_date, *_] = run["granularHistory"][0]["statusByDate"]
    assert by_date["statuses"] == run["runHistory"] and set(by_date["statuses"][0]) == {"statusTimestamp", "status"}
    assert [e["status"] for e in run["runHistory"]] == ["download_started", "started", "enqueued"]  # newest first


# -- the backfill form, field by field, from the spec ---------------------------------
def _backfill_schema(openapi: Any) -> dict[str, Any]:
    return oa.schema(openapi, "IngestionBackfillContractDto")


def test_the_backfill_form_is_the_spec_field_by_field(openapi) -> None:
    schema = _backfill_schema(openapi)
    fields = {f.name: f for f in StatsigClient(AccountConfig("statsig", "t")).create_fields(BACKFILL, {})}
    assert set(fields) == set(schema["properties"])
    assert {n for n, f in fields.items() if f.required} == set(schema["required"])
    for name, prop in schema["properties"].items():
        assert set(fields[name].choices) == set(prop.get("enum", ())), name  # same choices, none added
    assert "export_events" not in fields["dataset"].choices


def _client_accepts(body: dict[str, Any]) -> bool:
    try:
        StatsigClient(AccountConfig("statsig", "t"), now=lambda: T0).validate_create(BACKFILL, body)
    except InvalidSpec:
        return False
    return True


# Where the spec's letter and its evident intent differ, the intent decides what we accept.
INTENT = {
    # `nullable: true` beside `oneOf` but without `type` adds nothing in OpenAPI 3.0.3;
    # Statsig plainly means "no source". The client sends no `source` then, never null.
    "source null": True,
}


def test_client_simulator_and_spec_agree_on_every_backfill_case(openapi, statsig) -> None:
    schema = _backfill_schema(openapi)
    validator = OAS30Validator(schema)
    base = {"datestamp_start": "2024-01-01", "datestamp_end": "2024-01-01", "type": "s3", "dataset": "Events"}
    cases = field_cases(schema, base, SPEC_DATA)
    assert len(cases) >= 20 and set(INTENT) <= {c.label for c in cases}
    disagreements = []
    for case in cases:
        spec_ok = INTENT.get(case.label, validator.is_valid(case.instance))
        client_ok = _client_accepts(case.instance)
        sim_ok = statsig.post(BACKFILL_PATH, case.instance).status_code == 200
        if not spec_ok == client_ok == sim_ok:
            disagreements.append(f"{case}: spec {spec_ok}, client {client_ok}, simulator {sim_ok}")
        if client_ok:  # what the client sends is valid to the letter
            cleaned = StatsigClient(AccountConfig("statsig", "t"), now=lambda: T0).validate_create(
                BACKFILL, case.instance
            )
            assert validator.is_valid(cleaned), case
    assert disagreements == []


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"datestamp_start": "2024-13-01"}, "datestamp_start"),  # the spec's words: a valid YYYY-MM-DD date
        ({"datestamp_end": "01/02/2024"}, "datestamp_end"),
    ],
)
def test_dates_are_valid_yyyy_mm_dd_for_client_and_simulator(statsig, change: dict, field: str) -> None:
    body = {"datestamp_start": "2024-01-01", "datestamp_end": "2024-01-02", "type": "s3", "dataset": "Events", **change}
    assert not _client_accepts(body)
    resp = statsig.post(BACKFILL_PATH, body)
    assert resp.status_code == 400 and field in resp.json()["message"]


# -- the status vocabulary, from the spec and the seed --------------------------------
def _seed_status_enum() -> list[str]:
    text = (SEED_DIR / STATSIG_SEED).read_text()
    block = re.search(r"- name: status\n(?:.*\n)*?\s+enum:\n((?:\s+- '?[A-Z%][A-Za-z_]*'?\n)+)", text)
    assert block, "the seed lists the status filter's values"
    return [v.strip().strip("'") for v in re.findall(r"- (.*)", block[1])]


def _spec_status_enum() -> list[str]:
    [param] = [p for p in SPEC_DATA["paths"][STATUS]["get"]["parameters"] if p["name"] == "status"]
    return param["schema"]["enum"]


def test_the_seeds_status_vocabulary_is_within_the_specs() -> None:
    assert set(_seed_status_enum()) <= set(_spec_status_enum())  # so the simulator accepting the spec's accepts both


@pytest.mark.parametrize("status", sorted(set(_spec_status_enum()) | set(_seed_status_enum())))
def test_every_published_status_has_a_state(status: str) -> None:
    state = ingestion_state(status)[0]
    assert status in INGESTION_STATES
    assert (state == "unknown") == (status == "%Other")


def _spec_run_statuses() -> set[str]:
    text = json.dumps(SPEC_DATA["paths"][RUNS]) + json.dumps(SPEC_DATA["paths"][RUNS + "/{id}"])
    return set(re.findall(r'"(?:status|latestStatus|latestSourceStatus)": "([a-z_]+)"', text))


def test_every_run_status_in_the_specs_examples_is_in_the_table() -> None:
    statuses = _spec_run_statuses()
    assert statuses and statuses <= set(RUN_STATES)
    assert all(run_state(s)[0] != "unknown" for s in statuses)


# -- every published example through the normalizers ----------------------------------
def _examples(path: str, method: str = "get") -> dict[str, Any]:
    found = {}
    for status, response in SPEC_DATA["paths"][path][method]["responses"].items():
        content = response["content"]["application/json"]
        if "example" in content:
            found[status] = content["example"]
        for name, example in content.get("examples", {}).items():
            found[f"{status} {name}"] = example["value"]
    return found


def test_the_status_example_normalizes() -> None:
    [group] = normalize_ingestion(_examples(STATUS)["200"])  # a bare array, as the seed shows it too
    [obs] = group.observations
    assert (obs.run_key, obs.state, obs.vendor_status) == ("2023-09-07", "running", "BACKFILL_STARTED")
    assert normalize_ingestion(json.loads(seed_status_example()))[0].observations[0].state == "running"


def test_the_run_examples_normalize() -> None:
    listed = SPEC_DATA["paths"][RUNS]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    one = SPEC_DATA["paths"][RUNS + "/{id}"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    bodies = [{"message": "listed", "data": r} for r in listed["example"]["data"]] + [one["example"]]
    states = {normalize_run(BACKFILLS, body, T0).state for body in bodies}
    assert len(bodies) >= 5 and states == {"succeeded", "failed"}


def test_the_backfill_and_error_examples_parse() -> None:
    answer = SPEC_DATA["paths"][BACKFILL_PATH]["post"]["responses"]["200"]["content"]["application/json"]["example"]
    assert backfill_run_id(answer) == "string"
    errors = {**_examples(STATUS), **_examples(RUNS + "/{id}"), **_examples(BACKFILL_PATH, "post")}
    errors = {k: v for k, v in errors.items() if k[0] in "45"}
    assert len(errors) == 3
    for example in errors.values():
        code, message = error_parser(example)
        assert code == str(example["status"]) and message and "xxxXXX" not in message  # the echoed key, redacted
