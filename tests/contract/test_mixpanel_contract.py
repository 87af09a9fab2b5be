"""Mixpanel: what our client sends and what our simulator answers, judged by Mixpanel's own
OpenAPI files (vendors/mixpanel/spec/) with openapi-core, over real HTTP.

The simulator runs the demo world (`make run`'s) on a frozen clock; a recorder around its
handler keeps every request and answer. Client operations must send only what the spec
declares; every answer, in every scenario and error case, must match the schema of its
status, or be one of the open statuses listed in mixpanel_specs.py with the API's error
envelope.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
import requests

from vendors import base as vb
from vendors.base import AccountConfig, Target
from vendors.http import HttpSettings
from vendors.mixpanel.client import MixpanelClient
from vendors.mixpanel.simulator import CyclingRuns, MixpanelWorld, SimConnector, install_demo
from vendors.simulator.core import Clock, SimServer, Simulator

from ..conftest import T0
from . import mixpanel_specs as specs
from .openapi_recorder import Exchange, Recorder

FAST = HttpSettings(connect_timeout=1, read_timeout=3, total_timeout=5, retries=0)
CONNECTOR_UUID = "123e4567-e89b-12d3-a456-426614174000"  # the legacy spec's ids are uuids
SERVICE_ACCOUNT = ("demo-svc", "demo-secret")
PROJECT = "12345"
SEED_PROJECT, SEED_SECRET = "9876543210", "seed-api-secret"
BQ_PIPELINE = "events-daily-bigquery-monoschema"


@dataclass
class World:
    url: str
    clock: Clock
    mixpanel: MixpanelWorld
    recorder: Recorder

    def client(self, project: str = PROJECT, **credentials: str) -> MixpanelClient:
        account = AccountConfig(
            "mixpanel",
            "contract",
            {"project_id": project},
            credentials or dict(zip(("username", "secret"), SERVICE_ACCOUNT, strict=True)),
            base_url=self.url,
        )
        client = MixpanelClient(account, FAST)
        client.now = self.clock.now
        return client

    def get(self, path: str, auth: tuple[str, str] | None = SERVICE_ACCOUNT, **params: str) -> requests.Response:
        return requests.get(self.url + path, params=params, auth=auth, timeout=5)

    def send(self, method: str, path: str, auth: tuple[str, str] | None = SERVICE_ACCOUNT, **kw) -> requests.Response:
        return requests.request(method, self.url + path, auth=auth, timeout=5, **kw)


@pytest.fixture
def world() -> Iterator[World]:
    clock = Clock(T0, frozen=True)
    sim = Simulator(clock)
    mixpanel = install_demo(sim, T0 - timedelta(minutes=20))
    mixpanel.projects[PROJECT].add(
        SimConnector(CONNECTOR_UUID, label="spec-shaped id", cycle=CyclingRuns(T0 - timedelta(hours=1), period=300))
    )
    recorder = Recorder(sim)
    server = SimServer(sim).start()
    try:
        yield World(server.url, clock, mixpanel, recorder)
    finally:
        server.stop()


# -- what our client sends ------------------------------------------------------------
def _poll(kind: str, external_id: str) -> Callable[[World], object]:
    return lambda w: w.client().poll([Target(kind, external_id)])


def _create(w: World) -> object:
    return w.client().create("export_pipeline", specs.example_spec("gcs-raw", w.clock.now().date()))


CLIENT_OPERATIONS: dict[str, tuple[Callable[[World], object], set[str]]] = {
    "poll import_connector": (_poll("import_connector", CONNECTOR_UUID), {"get-connector-logs"}),
    "poll warehouse_import": (_poll("warehouse_import", "4242"), {"get-import-history"}),
    "poll export_pipeline": (
        _poll("export_pipeline", BQ_PIPELINE),
        {"list-warehouse-pipeline-jobs", "get-warehouse-pipeline-status", "list-warehouse-pipeline-sync-dates"},
    ),
    "poll export_pipeline with a project secret": (
        lambda w: w.client(SEED_PROJECT, api_secret=SEED_SECRET).poll([Target("export_pipeline", BQ_PIPELINE)]),
        {"list-warehouse-pipeline-jobs", "get-warehouse-pipeline-status", "list-warehouse-pipeline-sync-dates"},
    ),
    "discover": (lambda w: w.client().poll([], discover=True), {"list-warehouse-pipeline-jobs"}),
    "test connection": (lambda w: w.client().check_credentials(), {"list-warehouse-imports"}),
    "test connection with a project secret": (
        lambda w: w.client(SEED_PROJECT, api_secret=SEED_SECRET).check_credentials(),
        {"list-warehouse-pipeline-jobs"},
    ),
    "create": (_create, {"create-warehouse-pipeline"}),
    "cancel": (lambda w: w.client().cancel(Target("export_pipeline", BQ_PIPELINE)), {"cancel-warehouse-pipeline"}),
    "pause": (lambda w: w.client().pause(Target("export_pipeline", BQ_PIPELINE)), {"pause-warehouse-pipeline"}),
    "resume": (lambda w: w.client().resume(Target("export_pipeline", BQ_PIPELINE)), {"resume-warehouse-pipeline"}),
    "run now": (lambda w: w.client().run_now(Target("warehouse_import", "4243")), {"run-an-import"}),
}


def auth_scheme_problems(exchange: Exchange, expected_user: str) -> list[str]:
    """Both Mixpanel schemes are HTTP Basic: the user tells a service account from a project
    secret, and the app APIs (warehouse, legacy) take service accounts only."""
    creds = exchange.request.basic_auth()
    if creds is None:
        return [f"{exchange.label}: no HTTP Basic credentials"]
    if creds[0] != expected_user:
        return [f"{exchange.label}: sent as {creds[0]!r}, the operation's scheme needs {expected_user!r}"]
    return []


@pytest.mark.parametrize("operation", CLIENT_OPERATIONS)
def test_every_client_request_follows_the_spec(world: World, operation: str) -> None:
    drive, expected_ops = CLIENT_OPERATIONS[operation]
    drive(world)
    exchanges = world.recorder.take()
    assert specs.operation_ids(exchanges) == expected_ops
    user = SEED_SECRET if "project secret" in operation else SERVICE_ACCOUNT[0]
    problems = [p for e in exchanges for p in specs.request_problems(e) + auth_scheme_problems(e, user)]
    assert problems == []


def test_client_requests_to_every_create_type_follow_the_spec(world: World) -> None:
    for kind in specs.CREATE_SCHEMAS:
        project = world.mixpanel.projects[PROJECT]
        project.pipelines.clear()  # room for each type under the per-project limits
        world.client().create("export_pipeline", specs.example_spec(kind, world.clock.now().date()))
    exchanges = world.recorder.take()
    assert len(exchanges) == len(specs.CREATE_SCHEMAS)
    assert [p for e in exchanges for p in specs.request_problems(e)] == []
    assert all(e.response.status == 200 for e in exchanges)


# -- what our simulator answers -----------------------------------------------------------
def _every_connector_over_time(w: World) -> None:
    for _ in range(12):  # queued, running, succeeded and failed runs, and the seed samples
        for cid in w.mixpanel.projects[PROJECT].connectors:
            first = w.get(f"/api/app/projects/{PROJECT}/connectors/{cid}/history")
            cursor = first.json()["results"]["url"] if first.status_code == 200 else None
            if cursor:
                w.get(f"/api/app/projects/{PROJECT}/connectors/{cid}/history", cursor=cursor)
        w.clock.advance(47)


def _every_pipeline_over_time(w: World) -> None:
    for _ in range(8):
        for pid, project in list(w.mixpanel.projects.items()):
            auth = (project.username, project.secret)
            w.get("/api/2.0/nessie/pipeline/jobs", auth, project_id=pid)
            for name in list(project.pipelines):
                for extra in ({}, {"summary": "true"}, {"summary": "false"}):
                    w.get("/api/2.0/nessie/pipeline/status", auth, project_id=pid, name=name, **extra)
                w.get("/api/2.0/nessie/pipeline/timeline", auth, project_id=pid, name=name)
        w.clock.advance(3 * 3600)


def _every_import_over_time(w: World) -> None:
    for step in range(10):
        w.get(f"/api/app/projects/{PROJECT}/warehouse-sources/imports")
        for iid in w.mixpanel.projects[PROJECT].imports:
            w.get(f"/api/app/projects/{PROJECT}/warehouse-sources/imports/{iid}/history")
        if step in (2, 3):  # a second trigger while the first sync runs
            w.send("PUT", f"/api/app/projects/{PROJECT}/warehouse-sources/imports/4243/manual-sync", json={})
        w.clock.advance(41)


def _creates(w: World) -> None:
    today = w.clock.now().date()
    for kind in specs.CREATE_SCHEMAS:
        w.mixpanel.projects[PROJECT].pipelines.clear()
        form = {**specs.example_spec(kind, today), "project_id": PROJECT}
        w.send("POST", "/api/2.0/nessie/pipeline/create", data=_form(form))
        for _, bad in specs.invalid_variants(kind, today):
            w.send("POST", "/api/2.0/nessie/pipeline/create", data=_form({**bad, "project_id": PROJECT}))


def _form(spec: dict) -> list[tuple[str, str]]:
    out = []
    for key, value in spec.items():
        for item in value if isinstance(value, list) else [value]:
            out.append((key, str(item).lower() if isinstance(item, bool) else str(item)))
    return out


def _actions(w: World) -> None:
    for name in (BQ_PIPELINE, "no-such-pipeline"):
        for action in ("pause", "pause", "resume", "resume", "cancel"):
            w.send("POST", f"/api/2.0/nessie/pipeline/{action}", data={"name": name, "project_id": PROJECT})


def _auth_failures(w: World) -> None:
    paths = [
        f"/api/app/projects/{PROJECT}/connectors/s3-events/history",
        f"/api/app/projects/{PROJECT}/warehouse-sources/imports",
        f"/api/app/projects/{PROJECT}/warehouse-sources/imports/4242/history",
        "/api/2.0/nessie/pipeline/jobs",
        "/api/2.0/nessie/pipeline/status",
    ]
    for path in paths:
        query = {"project_id": PROJECT, "name": BQ_PIPELINE}
        w.get(path, None, **query)  # no credentials
        w.get(path, ("demo-svc", "wrong"), **query)
        w.get(path.replace(PROJECT, "777"), **{**query, "project_id": "777"})  # not this account's project
        w.get(path, (SEED_SECRET, ""), **query)  # a project secret of another project
    w.send("PUT", f"/api/app/projects/{PROJECT}/warehouse-sources/imports/4242/manual-sync", None, json={})
    w.send("POST", "/api/2.0/nessie/pipeline/pause", ("demo-svc", "x"), data={"name": BQ_PIPELINE})


def _not_found(w: World) -> None:
    w.get(f"/api/app/projects/{PROJECT}/connectors/no-such-connector/history")
    w.mixpanel.projects[PROJECT].legacy_api_removed = True  # Mixpanel today
    w.get(f"/api/app/projects/{PROJECT}/connectors/s3-events/history")
    w.mixpanel.projects[PROJECT].legacy_api_removed = False
    for iid in ("99", "not-a-number"):
        w.get(f"/api/app/projects/{PROJECT}/warehouse-sources/imports/{iid}/history")
        w.send("PUT", f"/api/app/projects/{PROJECT}/warehouse-sources/imports/{iid}/manual-sync", json={})
    for op in ("status", "timeline"):
        w.get(f"/api/2.0/nessie/pipeline/{op}", project_id=PROJECT, name="no-such-pipeline")


def _bad_requests(w: World) -> None:
    w.get("/api/2.0/nessie/pipeline/status", name=BQ_PIPELINE)  # a service account without project_id
    w.get("/api/2.0/nessie/pipeline/jobs", project_id="twelve")
    w.send("POST", "/api/2.0/nessie/pipeline/cancel", data={"project_id": PROJECT})
    w.send("PUT", f"/api/app/projects/{PROJECT}/warehouse-sources/imports/4242/manual-sync")  # no JSON body
    w.get(f"/api/app/projects/{PROJECT}x/warehouse-sources/imports")


def _rate_limited(w: World) -> None:
    w.mixpanel.projects[PROJECT].rate_limit = 2
    for _ in range(3):
        w.get(f"/api/app/projects/{PROJECT}/connectors/s3-events/history")
    for _ in range(2):
        w.get(f"/api/app/projects/{PROJECT}/warehouse-sources/imports/4242/history")
        w.get("/api/2.0/nessie/pipeline/jobs", project_id=PROJECT)


def _seed_project(w: World) -> None:
    auth = (SEED_SECRET, "")
    w.get("/api/2.0/nessie/pipeline/jobs", auth)  # the seed: a project secret names its project
    w.get("/api/2.0/nessie/pipeline/jobs", auth, project_id=SEED_PROJECT)
    name = "company-july-2016-backfill-hourly-monoschema"
    for extra in ({}, {"summary": "true"}, {"status": "canceled"}):
        w.get("/api/2.0/nessie/pipeline/status", auth, project_id=SEED_PROJECT, name=name, **extra)
        w.send("POST", "/api/2.0/nessie/pipeline/status", auth, data={"name": name, **extra})  # the seed POSTs
    w.get("/api/2.0/nessie/pipeline/timeline", auth, project_id=SEED_PROJECT, name=name)


SCENARIOS: dict[str, tuple[Callable[[World], None], set[str]]] = {
    "legacy history over time": (_every_connector_over_time, {"get-connector-logs"}),
    "data pipelines over time": (
        _every_pipeline_over_time,
        {"list-warehouse-pipeline-jobs", "get-warehouse-pipeline-status", "list-warehouse-pipeline-sync-dates"},
    ),
    "warehouse imports over time": (
        _every_import_over_time,
        {"list-warehouse-imports", "get-import-history", "run-an-import"},
    ),
    "create, every type and each refusal": (_creates, {"create-warehouse-pipeline"}),
    "pause, resume, cancel": (
        _actions,
        {"pause-warehouse-pipeline", "resume-warehouse-pipeline", "cancel-warehouse-pipeline"},
    ),
    "auth failures": (
        _auth_failures,
        {
            "get-connector-logs",
            "list-warehouse-imports",
            "get-import-history",
            "run-an-import",
            "list-warehouse-pipeline-jobs",
            "get-warehouse-pipeline-status",
            "pause-warehouse-pipeline",
        },
    ),
    "unknown ids": (
        _not_found,
        {"get-connector-logs", "get-import-history", "run-an-import", "get-warehouse-pipeline-status"}
        | {"list-warehouse-pipeline-sync-dates"},
    ),
    "requests the spec refuses": (
        _bad_requests,
        {"get-warehouse-pipeline-status", "list-warehouse-pipeline-jobs", "cancel-warehouse-pipeline"}
        | {"run-an-import", "list-warehouse-imports"},
    ),
    "rate limited": (
        _rate_limited,
        {"get-connector-logs", "get-import-history", "list-warehouse-pipeline-jobs"},
    ),
    "the seed's project": (
        _seed_project,
        {"list-warehouse-pipeline-jobs", "get-warehouse-pipeline-status", "list-warehouse-pipeline-sync-dates"},
    ),
}


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_simulator_answer_follows_the_spec(world: World, scenario: str) -> None:
    drive, expected_ops = SCENARIOS[scenario]
    drive(world)
    exchanges = world.recorder.take()
    assert exchanges and expected_ops <= specs.operation_ids(exchanges)
    assert [p for e in exchanges for p in specs.response_problems(e)] == []


def test_the_scenarios_reach_every_status_the_simulator_gives(world: World) -> None:
    """Documented and open statuses alike: each one the simulator can give is exercised."""
    for drive, _ in SCENARIOS.values():
        drive(world)
    seen = {(specs.api_for(e.request.path).name, e.response.status) for e in world.recorder.take()}
    expected = {(api.name, s) for api in specs.APIS for s in (200, 401, 403, 429)}
    expected |= {(specs.DATA_PIPELINES.name, s) for s in (400, 404)}
    expected |= {(specs.WAREHOUSE.name, s) for s in (400, 404)} | {(specs.LEGACY.name, 404)}
    assert expected <= seen


def test_a_rate_limited_answer_is_a_rate_limit_error_with_its_retry_after(world: World) -> None:
    world.mixpanel.projects[PROJECT].rate_limit, world.mixpanel.projects[PROJECT].retry_after = 0, 7
    [result] = world.client().poll([Target("warehouse_import", "4242")])
    assert isinstance(result.error, vb.RateLimited) and result.error.retry_after == 7
