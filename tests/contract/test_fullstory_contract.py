"""FullStory's own swagger files decide: every simulator answer in every scenario and error
case, every request our client sends (poll, errors, test connection, create, upload), the
create form's rules field by field, and every published example through the normalizers."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from vendors.base import AccountConfig, InvalidSpec, Target, VendorError
from vendors.fullstory import request_rules
from vendors.fullstory.client import EVENTS, USERS, FullStoryClient, error_parser
from vendors.fullstory.normalize import created_job_id, normalize_errors_page, normalize_job
from vendors.fullstory.simulator import (
    DEMO_KEY,
    ENVELOPES,
    SEED_FILE,
    FullStoryWorld,
    SimJob,
    install_demo,
    seed_job_text,
)
from vendors.http import USER_AGENT, HttpSettings
from vendors.seeds import SEED_DIR
from vendors.simulator.core import Clock, SimServer, Simulator

from ..conftest import T0
from .exchanges import Exchange, Recorder
from .schema_cases import Case, deref, field_cases
from .swagger2_validation import Swagger2

SPEC_DIR = Path(__file__).resolve().parents[2] / "vendors" / "fullstory" / "spec"
SPEC = Swagger2(SPEC_DIR / "events.swagger.json", SPEC_DIR / "users.swagger.json", name="FullStory batch import")
KEY, STANDARD = "na1.contract-key", "na1.standard-key"
FAST = HttpSettings(connect_timeout=1, read_timeout=5, total_timeout=10, retries=0)
ROW_DEFINITIONS = {EVENTS: "fullstory.v2.events.CreateEventRequest", USERS: "fullstory.v2.users.BatchUserImportRequest"}
BODY_DEFINITIONS = {
    EVENTS: "fullstory.v2.events.CreateBatchEventsImportJobRequest",
    USERS: "fullstory.v2.users.CreateBatchUserImportJobRequest",
}
VALID_ROWS = {EVENTS: {"name": "Signed Up"}, USERS: {"uid": "user-1"}}


@dataclass
class FS:
    url: str
    sim: Simulator
    world: FullStoryWorld
    recorder: Recorder

    def client(self, key: str = KEY) -> FullStoryClient:
        return FullStoryClient(AccountConfig("fullstory", "t", {}, {"api_key": key}, base_url=self.url), FAST)

    def get(self, path: str, key: str = KEY, **params: str) -> requests.Response:
        return requests.get(self.url + path, params=params, headers={"Authorization": f"Basic {key}"}, timeout=5)

    def post(self, path: str, body: Any, key: str = KEY, **headers: str) -> requests.Response:
        headers = {"Authorization": f"Basic {key}", **headers}
        return requests.post(self.url + path, json=body, headers=headers, timeout=5)


def serve(install: Callable[[Simulator], FullStoryWorld]) -> Iterator[FS]:
    sim = Simulator(Clock(T0, frozen=True))
    recorder = Recorder(sim)
    world = install(sim)
    server = SimServer(sim).start()
    try:
        yield FS(server.url, sim, world, recorder)
    finally:
        server.stop()


def _world(sim: Simulator) -> FullStoryWorld:
    world = FullStoryWorld(keys={KEY}, standard_keys={STANDARD})
    world.install(sim)
    return world


@pytest.fixture
def fs() -> Iterator[FS]:
    yield from serve(_world)


# -- scenarios: each drives one part of the API, through our client where it has a call --
def client_flow(fs: FS) -> None:
    """Create (split and replayed), poll while processing, then completed, failed and paged errors."""
    client = fs.client()
    events = [{"name": "Signed Up", "properties": {"n": i}} for i in range(3)] + [{"name": "fail: Upgraded"}]
    [ev_job] = client.create(EVENTS, {"requests": events, "shared": {"context": {"browser": {}}}}).run_keys
    users = [{"uid": f"u{i}", "email": f"u{i}@example.com"} for i in range(250)] + [{"uid": "fail-1"}]
    [us_job] = client.create(USERS, {"requests": users, "idempotency_key": "upload-1"}).run_keys
    client.create(USERS, {"requests": users, "idempotency_key": "upload-1"})  # replayed
    client.poll([Target(EVENTS, "e", (ev_job,)), Target(USERS, "u", (us_job,))])  # processing
    fs.world.jobs["many"] = SimJob("many", "users", T0, rows=400, failed_rows=230, process_seconds=1)
    fs.sim.clock.advance(fs.world.process_seconds)
    client.poll([Target(EVENTS, "e", (ev_job, "gone-job")), Target(USERS, "u", (us_job, "many"))])
    client.check_credentials()


def reads_of_every_job(fs: FS) -> None:
    """Status, errors and imports of every job, on /v2 and /v2beta, before and after it ends."""
    fs.world.jobs["ok"] = SimJob("ok", "events", T0, rows=150, process_seconds=30)
    fs.world.jobs["part"] = SimJob("part", "users", T0, rows=120, failed_rows=5, process_seconds=30)
    for _ in range(2):
        for prefix in ("/v2", "/v2beta"):
            for kind, job in (("events", "ok"), ("users", "part"), ("events", "abd123%3D")):
                fs.get(f"{prefix}/{kind}/batch/{job}")
                fs.get(f"{prefix}/{kind}/batch/{job}/errors")
                fs.get(f"{prefix}/{kind}/batch/{job}/imports", include_schema="false")
                fs.get(f"{prefix}/{kind}/batch/{job}/imports", page_token="100")
        fs.sim.clock.advance(31)


def error_cases(fs: FS) -> None:
    """Every error the simulator gives on its own: 400, 401, 403, 404, 429."""
    fs.world.jobs["u"] = SimJob("u", "users", T0, rows=3, process_seconds=0)
    fs.get("/v2/events/batch/u", key="na1.wrong")  # 401
    with contextlib.suppress(VendorError):
        fs.client("na1.wrong").check_credentials()
    fs.get("/v2/users/batch/u/imports", key=STANDARD)  # 403: user data needs Architect or Admin
    fs.get("/v2/events/batch/nope")  # 404
    fs.get("/v2/events/batch/nope/errors")
    fs.get("/v2/users/batch/u/errors", page_token="not-a-token")  # 400
    fs.post("/v2/events/batch", {"requests": [{"properties": {}}]})  # 400: name is required
    fs.post("/v2/users/batch", {"requests": [{"uid": "x" * 300}]})
    fs.post("/v2beta/users/batch", {"requests": [{"uid": "x", "email": 5}]})
    fs.post("/v2beta/events/batch", {"requests": [{"name": "Signed Up"}], "shared": {"context": {"device": {}}}})
    fs.post("/v2/users/batch", [1, 2])
    fs.post("/v2/users/batch", {"requests": [{"uid": "a"}]}, **{"Idempotency-Key": "k"})
    fs.post("/v2/users/batch", {"requests": [{"uid": "b"}]}, **{"Idempotency-Key": "k"})  # a different body
    fs.world.rate_limit = 1
    fs.get("/v2/users/batch/u")
    fs.get("/v2/users/batch/u")  # 429 with Retry-After


SCENARIOS = {"client flow": client_flow, "reads of every job": reads_of_every_job, "error cases": error_cases}


def demo_exchanges() -> list[Exchange]:
    """`make run`'s demo world through our client and every read, over two demo laps."""
    for fs in serve(lambda sim: install_demo(sim, T0)):
        client = fs.client(DEMO_KEY)
        targets = [
            Target(EVENTS, "e", ("fs-demo-done", "fs-demo-expired", "fs-demo-live")),
            Target(USERS, "u", ("fs-demo-partial",)),
        ]
        for _ in range(3):
            client.poll(targets)
            for kind, job in (("events", "fs-demo-live"), ("events", "fs-demo-done"), ("users", "fs-demo-partial")):
                for what in ("errors", "imports"):
                    fs.get(f"/v2/{kind}/batch/{job}/{what}", key=DEMO_KEY)
            fs.sim.clock.advance(150)
        return fs.recorder.take()
    raise AssertionError("unreachable")


def run(scenario: Callable[[FS], None]) -> list[Exchange]:
    for fs in serve(_world):
        scenario(fs)
        return fs.recorder.take()
    raise AssertionError("unreachable")


def ours(exchanges: list[Exchange]) -> list[Exchange]:
    return [e for e in exchanges if e.request.headers.get("user-agent") == USER_AGENT]


# -- every answer, every request -----------------------------------------------------
@pytest.mark.parametrize("name", [*SCENARIOS, "demo"])
def test_every_simulator_answer_matches_the_published_schema(name: str) -> None:
    exchanges = demo_exchanges() if name == "demo" else run(SCENARIOS[name])
    assert exchanges
    assert [p for e in exchanges for p in SPEC.response_problems(e)] == []


@pytest.mark.parametrize("name", ["client flow", "error cases", "demo"])
def test_every_request_our_client_sends_matches_the_published_schema(name: str) -> None:
    exchanges = ours(demo_exchanges() if name == "demo" else run(SCENARIOS[name]))
    assert exchanges
    assert [p for e in exchanges for p in SPEC.request_problems(e.request)] == []


def test_the_scenarios_reach_every_batch_operation_and_every_answer_it_gives() -> None:
    exchanges = [e for scenario in SCENARIOS.values() for e in run(scenario)] + demo_exchanges()
    seen = {(SPEC.operation(e.request.method, e.request.path).id, e.status) for e in exchanges}
    batch_ops = {op.id for op in SPEC.operations if "/batch" in op.template}
    assert {op for op, _ in seen} == batch_ops
    assert {status for _, status in seen} == {200, 202, 400, 401, 403, 404, 429}
    client_ops = {SPEC.operation(e.request.method, e.request.path).id for e in ours(exchanges)}
    assert {"CreateBatchEventsImportJob", "CreateBatchUserImportJob", "GetBatchEventsImportStatus"} <= client_ops
    assert {"GetBatchUserImportStatus", "GetBatchUserImportErrors"} <= client_ops


@pytest.mark.django_db
def test_an_upload_through_the_create_page_sends_what_the_schema_allows(fs, admin_client) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    from jobs.models import Account

    account = Account(name="fs", vendor="fullstory", base_url=fs.url)
    account.credentials = {"api_key": KEY}
    account.save()
    ndjson = (
        b'{"name": "Signed Up", "user": {"uid": "u1"}}\n{"name": "Upgraded", "timestamp": "2026-11-20T12:00:00Z"}\n'
    )
    resp = admin_client.post(
        "/pipelines/new/",
        {"what": f"{account.uuid}:{EVENTS}", "requests": SimpleUploadedFile("events.ndjson", ndjson)},
    )
    assert resp.status_code == 302
    [create] = fs.recorder.take()
    assert SPEC.request_problems(create.request) == [] and SPEC.response_problems(create) == []
    assert json.loads(create.request.body)["requests"][1]["name"] == "Upgraded"


# -- what the simulator lists is what was sent ---------------------------------------
def test_imports_and_errors_list_the_requests_that_were_sent(fs) -> None:
    users = [{"uid": "ada", "email": "ada@example.com"}, {"id": "fs-42", "uid": "bob"}, {"uid": "fail-carl"}]
    [job] = fs.client().create(USERS, {"requests": users}).run_keys
    events = [{"name": "Signed Up", "properties": {"plan": "pro"}}, {"name": "fail: Checkout"}]
    [ev] = fs.client().create(EVENTS, {"requests": events}).run_keys
    fs.sim.clock.advance(fs.world.process_seconds)
    imported = fs.get(f"/v2/users/batch/{job}/imports").json()["results"]
    assert imported == [{**users[0], "id": imported[0]["id"]}, users[1]]  # FullStory's id, kept or assigned
    assert imported[0]["id"].startswith("fsu-")
    assert [r["user"] for r in fs.get(f"/v2/users/batch/{job}/errors").json()["results"]] == [users[2]]
    assert fs.get(f"/v2/events/batch/{ev}/imports").json()["results"] == events[:1]
    assert [r["event"] for r in fs.get(f"/v2/events/batch/{ev}/errors").json()["results"]] == events[1:]


# -- the create form's rules, field by field, from the spec ---------------------------
def _cases(kind: str) -> list[Case]:
    schema, _ = SPEC.definition(ROW_DEFINITIONS[kind])
    doc = next(d for d in SPEC.docs if ROW_DEFINITIONS[kind] in d["definitions"])
    return field_cases(schema, VALID_ROWS[kind], doc)


def _client_accepts(kind: str, body: dict[str, Any]) -> bool:
    try:
        FullStoryClient(AccountConfig("fullstory", "t")).validate_create(kind, body)
    except InvalidSpec:
        return False
    return True


@pytest.mark.parametrize("kind", [EVENTS, USERS])
def test_the_client_and_the_simulator_accept_a_row_exactly_when_the_spec_does(fs, kind: str) -> None:
    _, body_validator = SPEC.definition(BODY_DEFINITIONS[kind])
    path = f"/v2/{'events' if kind == EVENTS else 'users'}/batch"
    disagreements = []
    for case in _cases(kind):
        body = {"requests": [case.instance]}
        spec_ok = body_validator.is_valid(body)
        client_ok = _client_accepts(kind, body)
        sim_ok = fs.post(path, body).status_code == 200
        if not spec_ok == client_ok == sim_ok:
            disagreements.append(f"{case}: spec {spec_ok}, client {client_ok}, simulator {sim_ok}")
    assert disagreements == []
    assert len(_cases(kind)) >= 20  # the spec gave us something to check


@pytest.mark.parametrize("kind", [EVENTS, USERS])
def test_the_body_is_checked_as_the_spec_says(fs, kind: str) -> None:
    schema, validator = SPEC.definition(BODY_DEFINITIONS[kind])
    doc = next(d for d in SPEC.docs if BODY_DEFINITIONS[kind] in d["definitions"])
    path = f"/v2/{'events' if kind == EVENTS else 'users'}/batch"
    for case in field_cases(schema, {"requests": [VALID_ROWS[kind]]}, doc, depth=2):
        spec_ok = validator.is_valid(case.instance)
        assert (fs.post(path, case.instance).status_code == 200) == spec_ok, case
        if case.label.startswith("requests") and case.instance != {"requests": []}:  # an empty upload sends nothing
            assert _client_accepts(kind, case.instance) == spec_ok, case
    # A field the spec does not have is not sent: users have no shared context.
    assert _client_accepts(EVENTS, {"requests": [VALID_ROWS[EVENTS]], "shared": {"context": {}}})
    assert not _client_accepts(USERS, {"requests": [VALID_ROWS[USERS]], "shared": {"context": {}}})


def _compare(rule: request_rules.Rule, schema: dict[str, Any], doc: dict[str, Any], where: str, depth: int) -> list:
    schema = deref(schema, doc)
    types = {"string": str, "object": dict, "boolean": bool, "array": list}
    found = []
    if types.get(schema.get("type", "object")) is not rule.type:
        found.append(f"{where}: spec type {schema.get('type')}, ours {rule.type.__name__}")
    if schema.get("maxLength") != rule.max_length or schema.get("maxProperties") != rule.max_properties:
        found.append(f"{where}: spec limits {schema.get('maxLength')}/{schema.get('maxProperties')}")
    if depth > 0:
        props = schema.get("properties", {})
        if set(props) != set(rule.fields):
            found.append(f"{where}: spec fields {sorted(props)}, ours {sorted(rule.fields)}")
        required = {n for n, r in rule.fields.items() if r.required}
        if set(schema.get("required", ())) != required:
            found.append(f"{where}: spec requires {schema.get('required')}, ours {sorted(required)}")
        for name in set(props) & set(rule.fields):
            found += _compare(rule.fields[name], props[name], doc, f"{where}.{name}", depth - 1)
    return found


@pytest.mark.parametrize(
    ("rule", "definition", "depth"),
    [
        (request_rules.EVENT, ROW_DEFINITIONS[EVENTS], 2),
        (request_rules.USER, ROW_DEFINITIONS[USERS], 2),
        (request_rules.EVENTS_BODY, BODY_DEFINITIONS[EVENTS], 3),
        (request_rules.USERS_BODY, BODY_DEFINITIONS[USERS], 1),
    ],
    ids=["event row", "user row", "events body", "users body"],
)
def test_the_rule_table_is_the_spec_field_by_field(rule, definition: str, depth: int) -> None:
    schema, _ = SPEC.definition(definition)
    doc = next(d for d in SPEC.docs if definition in d["definitions"])
    assert _compare(rule, schema, doc, definition.rsplit(".", 1)[-1], depth) == []


@pytest.mark.parametrize("kind", [EVENTS, USERS])
def test_the_form_fields_are_the_spec_body_and_headers(kind: str) -> None:
    op, body = SPEC.body_schema("POST", f"/v2/{'events' if kind == EVENTS else 'users'}/batch")
    body = deref(body, op.doc)
    headers = {p["name"].lower().replace("-", "_"): p for p in op.parameters("header").values()}
    for field in FullStoryClient(AccountConfig("fullstory", "t")).create_fields(kind, {}):
        if field.name in body["properties"]:
            assert field.required == (field.name in body.get("required", ())), field.name
        else:
            assert field.name in headers and field.required == bool(headers[field.name].get("required")), field.name


# -- every published example through the normalizers ---------------------------------
def _examples() -> list[tuple[str, Any]]:
    """(definition or response, example) for every example in both files and the seed."""
    found = []
    for doc in SPEC.docs:
        for name, schema in doc["definitions"].items():
            if "example" in schema:
                found.append((name, schema["example"]))
            fields = {k: p["example"] for k, p in schema.get("properties", {}).items() if "example" in p}
            if name.endswith("JobStatusResponse") and fields:  # only its fields carry examples: put them together
                found.append((name, fields))
        for item in doc["paths"].values():
            for op in item.values():
                for status, response in op["responses"].items():
                    if "example" in response.get("schema", {}):
                        found.append((f"{status} response", response["schema"]["example"]))
    seed = (SEED_DIR / SEED_FILE).read_text()
    found.append(("seed: job details", json.loads(seed_job_text())))
    found += [(f"seed: {status} response", {"message": m, "code": c}) for status, (m, c) in ENVELOPES.items()]
    assert all(m in seed for m, _ in ENVELOPES.values())
    unique = {(name, json.dumps(example, sort_keys=True)): (name, example) for name, example in found}
    return list(unique.values())


def _normalize(name: str, example: Any) -> None:
    target = Target(EVENTS, "e")
    if name.endswith(("JobStatusResponse", "job details")):
        obs = normalize_job(target, example)
        assert obs.run_key and obs.state in ("running", "succeeded", "failed")
    elif name.endswith("JobMetadata"):
        assert normalize_job(target, {"imports": 0, "errors": 0, "job": example}).state == "running"
    elif name.endswith("CreateBatchUserImportJobResponse"):
        assert created_job_id(example)
    elif name.endswith("GetBatchUserImportErrorsResponse"):
        items, _, total = normalize_errors_page(example)
        assert items and total == int(example["total_records"]) and all(i.data for i in items)
    elif name.endswith("FailedUserImport"):
        [item] = normalize_errors_page({"results": [example]})[0]
        assert item.message and item.data == example["user"]
    elif name.endswith(("ErrorResponse", "response")):
        assert error_parser(example) == (example["code"], example["message"])
    elif name.endswith("CreateBatchUserImportJobRequest"):
        assert _client_accepts(USERS, example)
    elif name.endswith("BatchUserImportRequest"):
        assert _client_accepts(USERS, {"requests": [example]})
    else:
        raise AssertionError(f"no normalizer routed for {name}")


ROUTED = (
    "JobStatusResponse",
    "JobMetadata",
    "CreateBatchUserImportJobResponse",
    "GetBatchUserImportErrorsResponse",
    "FailedUserImport",
    "ErrorResponse",
    "CreateBatchUserImportJobRequest",
    "BatchUserImportRequest",
)


def _routed(name: str) -> bool:
    return name.endswith((*ROUTED, "response", "job details"))


@pytest.mark.parametrize(
    ("name", "example"), [(n, e) for n, e in _examples() if _routed(n)], ids=lambda v: v if isinstance(v, str) else ""
)
def test_every_published_example_goes_through_our_code(name: str, example: Any) -> None:
    _normalize(name, example)


def test_the_only_examples_left_out_belong_to_calls_pipewatch_does_not_make() -> None:
    unused = {"CreateUserRequest", "CreateUserResponse", "GetUserResponse", "ListUsersResponse"}
    unused |= {"UpdateUserRequest", "UpdateUserResponse", "GetBatchUserImportsResponse", "BatchUserImportResponse"}
    left_out = {name.rsplit(".", 1)[-1] for name, _ in _examples() if not _routed(name)}
    assert left_out == unused
