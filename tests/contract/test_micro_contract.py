"""Micro's official SDK, micro-so, decides: every simulator answer in every scenario and
error case validates against its models, every request our client sends (poll, test
connection, create, upload) is one it could send, the create form's rules are its
bulk_create params field by field, and the seed's example goes through the normalizer."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
import requests

from vendors.base import AccountConfig, InvalidSpec, Target, VendorError
from vendors.http import USER_AGENT, HttpSettings
from vendors.micro.client import IMPORT, OBJECT_TYPES, MicroClient
from vendors.micro.normalize import normalize_job
from vendors.micro.simulator import DEMO_KEY, DEMO_TEAM, SEED_FILE, MicroWorld, SimImport, install_demo, seed_job_text
from vendors.seeds import SEED_DIR
from vendors.simulator.core import Clock, SimServer, Simulator

from ..conftest import T0
from ..vendors.polling import poll_one
from . import micro_sdk
from .exchanges import Exchange, Recorder
from .schema_cases import field_cases

TEAM, OTHER_TEAM, KEY = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee", "99999999-8888-7777-6666-555555555555", "micro-key"
FAST = HttpSettings(connect_timeout=1, read_timeout=5, total_timeout=10, retries=0)
STREAM = Target(IMPORT, IMPORT)
# Each create-form field, and where micro-so puts it: the path, the body or a header.
FORM_TO_SDK = {
    "object_type": "path objectType",
    "rows": "objects",
    "dedupe_by": "options.dedupe_by",
    "case_insensitive": "options.caseInsensitive",
    "list_id": "options.list_id",
    "idempotency_key": "header Idempotency-Key",
}
NOT_OFFERED = {"objects[].list": "untyped in the SDK (`object`) and undocumented: nothing to offer"}


@dataclass
class Micro:
    url: str
    sim: Simulator
    world: MicroWorld
    recorder: Recorder

    def client(self, key: str = KEY, team: str = TEAM) -> MicroClient:
        return MicroClient(AccountConfig("micro", "t", {"team_id": team}, {"api_key": key}, base_url=self.url), FAST)

    def post(self, path: str, body: Any, key: str = KEY, **headers: str) -> requests.Response:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        headers = {"x-api-key": key, "Content-Type": "application/json", **headers}
        return requests.post(self.url + path, data=data, headers=headers, timeout=5)

    def get(self, path: str, key: str = KEY) -> requests.Response:
        return requests.get(self.url + path, headers={"x-api-key": key}, timeout=5)


def serve(install: Callable[[Simulator], MicroWorld]) -> Iterator[Micro]:
    sim = Simulator(Clock(T0, frozen=True))
    recorder = Recorder(sim)
    world = install(sim)
    server = SimServer(sim).start()
    try:
        yield Micro(server.url, sim, world, recorder)
    finally:
        server.stop()


def _world(sim: Simulator) -> MicroWorld:
    world = MicroWorld(teams={TEAM: KEY, OTHER_TEAM: "other-key"}, rate_limit=1000)
    world.install(sim)
    return world


@pytest.fixture
def micro() -> Iterator[Micro]:
    yield from serve(_world)


def rows(n: int, **extra: Any) -> list[dict[str, Any]]:
    return [{"email": f"user{i}@example.com", "name": f"User {i}", **extra} for i in range(n)]


# -- scenarios -----------------------------------------------------------------------
def client_flow(m: Micro) -> None:
    """Sync imports of every type, async jobs polled to complete and to failed, replays, expiry."""
    client = m.client()
    for object_type in OBJECT_TYPES:
        client.create(IMPORT, {"object_type": object_type, "rows": rows(3)})
    spec = {"object_type": "contact", "rows": rows(150), "dedupe_by": "email", "case_insensitive": True}
    [job] = client.create(IMPORT, {**spec, "list_id": "crm-1", "idempotency_key": "upload-1"}).run_keys
    client.create(IMPORT, {**spec, "list_id": "crm-1", "idempotency_key": "upload-1"})  # replayed
    [failing] = client.create(IMPORT, {"object_type": "deal", "rows": rows(120, note="fail the job")}).run_keys
    target = Target(IMPORT, IMPORT, (job, failing, "job_id"))
    client.poll([target])
    m.sim.clock.advance(30)
    client.poll([target])
    m.sim.clock.advance(31)
    client.poll([target])
    m.sim.clock.advance(7 * 86400)
    client.poll([target])  # expired: 404
    client.check_credentials()


def error_cases(m: Micro) -> None:
    """Every error the simulator gives on its own: 400, 401, 403, 404, 409, 429."""
    ok = {"objects": [{"default": {"email": "a@example.com"}}]}
    m.post(f"/v2/prism/{TEAM}/contact/import", ok, key="")  # 401: no key
    m.post(f"/v2/prism/{TEAM}/contact/import", ok, key="revoked")  # 403: not a key
    m.post(f"/v2/prism/{OTHER_TEAM}/contact/import", ok)  # 403: not this team's key
    m.post(f"/v2/prism/{TEAM}/comment/import", ok)  # 400: no such import
    m.post(f"/v2/prism/{TEAM}/contact/import", b"{not json")
    m.post(f"/v2/prism/{TEAM}/contact/import", {"objects": [{"default": "a@example.com"}]})
    m.post(f"/v2/prism/{TEAM}/contact/import", {**ok, "options": {"caseInsensitive": "yes"}})
    m.post(f"/v2/prism/{TEAM}/contact/import", {"objects": [{}]})  # a row error, not a 400
    m.post(f"/v2/prism/{TEAM}/contact/import", ok, **{"Idempotency-Key": "k"})
    m.post(f"/v2/prism/{TEAM}/contact/import", {"objects": []}, **{"Idempotency-Key": "k"})  # 409
    m.get(f"/v2/prism/{TEAM}/imports/imp_unknown")  # 404
    m.get(f"/v2/prism/{TEAM}/imports/job_id")  # the seed's example, verbatim
    m.get(f"/v2/prism/{TEAM}/properties")
    with contextlib.suppress(VendorError):
        m.client(key="revoked").check_credentials()
    m.world.rate_limit = 2
    for _ in range(4):
        m.get(f"/v2/prism/{TEAM}/properties")  # 429 with Retry-After


SCENARIOS = {"client flow": client_flow, "error cases": error_cases}


def run(scenario: Callable[[Micro], None]) -> list[Exchange]:
    for m in serve(_world):
        scenario(m)
        return m.recorder.take()
    raise AssertionError("unreachable")


def demo_exchanges() -> list[Exchange]:
    for m in serve(lambda sim: install_demo(sim, T0)):
        m.world.rate_limit = 1000
        client = m.client(DEMO_KEY, DEMO_TEAM)
        target = Target(IMPORT, IMPORT, ("mi-demo-live", "mi-demo-partial", "mi-demo-failed", "mi-demo-expired"))
        for _ in range(3):
            client.poll([target])
            m.sim.clock.advance(120)
        client.check_credentials()
        return m.recorder.take()
    raise AssertionError("unreachable")


def ours(exchanges: list[Exchange]) -> list[Exchange]:
    return [e for e in exchanges if e.request.headers.get("user-agent") == USER_AGENT]


@pytest.mark.parametrize("name", [*SCENARIOS, "demo"])
def test_every_simulator_answer_validates_against_the_sdk_models(name: str) -> None:
    exchanges = demo_exchanges() if name == "demo" else run(SCENARIOS[name])
    assert exchanges
    assert [p for e in exchanges for p in micro_sdk.response_problems(e)] == []


@pytest.mark.parametrize("name", [*SCENARIOS, "demo"])
def test_every_request_our_client_sends_is_one_the_sdk_would_send(name: str) -> None:
    exchanges = ours(demo_exchanges() if name == "demo" else run(SCENARIOS[name]))
    assert exchanges
    assert [p for e in exchanges for p in micro_sdk.request_problems(e.request)] == []


def test_the_scenarios_reach_every_answer() -> None:
    exchanges = [e for scenario in SCENARIOS.values() for e in run(scenario)] + demo_exchanges()
    assert {e.status for e in exchanges} == {200, 202, 400, 401, 403, 404, 409, 429}
    kinds = {e.request.path.rsplit("/", 2)[-2] for e in ours(exchanges) if e.request.method == "POST"}
    assert kinds == set(micro_sdk.import_object_types())


@pytest.mark.django_db
def test_a_csv_upload_through_the_create_page_sends_what_the_sdk_sends(micro, admin_client) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    from jobs.models import Account

    account = Account(name="mi", vendor="micro", base_url=micro.url, settings={"team_id": TEAM})
    account.credentials = {"api_key": KEY}
    account.save()
    csv = b"email,name\nada@example.com,Ada\nbob@example.com,\n"
    resp = admin_client.post(
        "/pipelines/new/",
        {
            "what": f"{account.uuid}:import",
            "object_type": "organization",
            "rows": SimpleUploadedFile("orgs.csv", csv),
            "dedupe_by": "email",
            "case_insensitive": "on",
        },
    )
    assert resp.status_code == 302
    [create] = micro.recorder.take()
    assert micro_sdk.request_problems(create.request) == [] and micro_sdk.response_problems(create) == []
    body = json.loads(create.request.body)
    assert body["options"] == {"dedupe_by": "email", "caseInsensitive": True}
    assert body["objects"][1] == {"default": {"email": "bob@example.com"}}


# -- the create form, field by field, against the SDK ---------------------------------
def test_the_object_types_are_the_sdks_bulk_imports() -> None:
    assert set(OBJECT_TYPES) == set(micro_sdk.import_object_types())
    [field] = [f for f in MicroClient(AccountConfig("micro", "t")).create_fields(IMPORT, {}) if f.name == "object_type"]
    assert set(field.choices) == set(micro_sdk.import_object_types()) and "comment" not in field.choices


def _sdk_field(path: str) -> dict[str, Any]:
    schema = micro_sdk.wire_schema("contact")
    node = schema
    for part in path.split("."):
        node = node["properties"][part]
        if "$ref" in node:
            node = schema["$defs"][node["$ref"].rsplit("/", 1)[-1]]
    return node


def test_every_form_field_is_an_sdk_parameter_with_its_type_and_requiredness() -> None:
    fields = {f.name: f for f in MicroClient(AccountConfig("micro", "t")).create_fields(IMPORT, {})}
    assert set(fields) == set(FORM_TO_SDK)
    schema = micro_sdk.wire_schema("contact")
    params = micro_sdk.bulk_create_params("contact").__annotations__
    for name, where in FORM_TO_SDK.items():
        if where.startswith("header "):
            assert "idempotency_key" in params and not fields[name].required
        elif where.startswith("path "):
            assert fields[name].required and fields[name].type == "choice"
        else:
            node = _sdk_field(where)
            top = where.split(".")[0]
            assert fields[name].required == (where == top and top in schema.get("required", ())), name
            assert (node.get("type") == "boolean") == (fields[name].type == "bool"), name
    # Every body field the SDK has is offered, or listed as not offered with the reason.
    sdk_fields = {f"options.{k}" for k in _sdk_field("options")["properties"]}
    sdk_fields |= {f"objects[].{k}" for k in schema["$defs"]["PrismObjectPropertiesParam"]["properties"]}
    offered = {w for w in FORM_TO_SDK.values() if "." in w} | {"objects[].default"}  # rows become defaults
    assert sdk_fields - offered == set(NOT_OFFERED)
    assert set(params) == {"team_id", "objects", "options", "idempotency_key"}  # a new SDK parameter fails here


def _client_accepts(spec: dict[str, Any]) -> bool:
    try:
        MicroClient(AccountConfig("micro", "t")).validate_create(IMPORT, spec)
    except InvalidSpec:
        return False
    return True


def test_the_simulator_accepts_a_body_exactly_when_the_sdk_types_do(micro) -> None:
    schema = micro_sdk.wire_schema("contact")
    base = {"objects": [{"default": {"email": "a@example.com"}}], "options": {"dedupe_by": "email"}}
    validator = micro_sdk.body_validator("contact")
    cases = field_cases(schema, base, schema, depth=2)
    assert len(cases) >= 8
    disagreements = []
    for case in cases:
        spec_ok = validator.is_valid(case.instance)
        status = micro.post(f"/v2/prism/{TEAM}/contact/import", case.instance).status_code
        if spec_ok != (status == 200):
            disagreements.append(f"{case}: SDK {spec_ok}, simulator {status}")
    assert disagreements == []


@pytest.mark.parametrize("object_type", OBJECT_TYPES)
@pytest.mark.parametrize(
    "extra",
    [
        {},
        {"dedupe_by": "email"},
        {"dedupe_by": "email", "case_insensitive": True, "list_id": "crm-1"},
        {"list_id": "11111111-2222-3333-4444-555555555555", "idempotency_key": "k" * 255},
    ],
    ids=["plain", "dedupe", "every option", "list and key"],
)
def test_whatever_the_form_accepts_is_sent_as_the_sdk_would(micro, object_type: str, extra: dict[str, Any]) -> None:
    spec = {"object_type": object_type, "rows": rows(2), **extra}
    assert _client_accepts(spec)
    micro.client().create(IMPORT, spec)
    [create] = micro.recorder.take()
    assert micro_sdk.request_problems(create.request) == []


@pytest.mark.parametrize(
    ("spec", "field", "why"),
    [
        ({"object_type": "comment", "rows": rows(1)}, "object_type", "no bulk import in the SDK"),
        ({"object_type": "contact", "rows": rows(1), "idempotency_key": "k" * 256}, "idempotency_key", "1-255"),
        # Ours, beyond the SDK's types: a slug no row has cannot dedupe anything.
        ({"object_type": "contact", "rows": rows(1), "dedupe_by": "phone"}, "dedupe_by", "no row has it"),
    ],
)
def test_the_form_refuses_what_micro_would(spec: dict[str, Any], field: str, why: str) -> None:
    with pytest.raises(InvalidSpec) as info:
        MicroClient(AccountConfig("micro", "t")).validate_create(IMPORT, spec)
    assert field in info.value.errors, why


# -- the seed's example through the normalizer ---------------------------------------
def test_the_seed_example_validates_and_normalizes() -> None:
    text = seed_job_text()
    assert text in (SEED_DIR / SEED_FILE).read_text()
    body = json.loads(text)
    assert micro_sdk.ImportGetResponse.model_validate(body).status == "complete"
    obs = normalize_job(STREAM, body)
    assert (obs.run_key, obs.state, obs.items[0].data["existing"]) == ("job_id", "succeeded", True)


def test_every_status_the_sdk_knows_maps_to_a_state() -> None:
    from typing import get_args

    statuses = get_args(micro_sdk.ImportGetResponse.model_fields["status"].annotation)
    for status in statuses:
        assert normalize_job(STREAM, {"job_id": "j", "status": status, "total": 1}).state != "unknown", status


def test_an_earlier_comment_import_still_polls() -> None:
    for m in serve(_world):  # a job started as a comment import before Pipewatch stopped offering it
        m.world.jobs["imp_comment"] = SimImport("imp_comment", T0, [{"id": None, "created": True}], 0)
        m.sim.clock.advance(timedelta(hours=1).total_seconds())
        [obs] = poll_one(m.client(), Target(IMPORT, IMPORT, ("imp_comment",))).observations
        assert obs.state == "succeeded"
