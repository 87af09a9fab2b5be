"""Schemathesis, a fuzzer we did not write, against the live schema served by the app (WSGI,
in this test's database): valid and invalid requests for every operation, as a reader and as
an operator whose token may write. Its checks: no 5xx, every response matches the schema,
every status is one the schema documents. Real objects stand behind most generated ids, so
writes reach the vendor simulator and the database, not only the 404 path."""

from __future__ import annotations

import uuid
import zlib
from collections.abc import Iterator

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

from dashboard.auth import issue_token
from jobs import polling
from jobs.failures import incidents
from jobs.models import Account, Pipeline
from vendors.posthog.simulator import DEMO_KEY, DEMO_PROJECT, install_demo
from vendors.simulator.core import Clock, SimServer, Simulator

from ..conftest import T0, patient_vendor_http, user_with_role

CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance]
EXAMPLES = 25


@pytest.fixture
def posthog_export(db, settings) -> Iterator[str]:
    """A PostHog export its simulator paused: "unpause-backfill" is an operation it takes (again and again)."""
    patient_vendor_http(settings)
    clock = Clock(T0, frozen=True)
    simulator = Simulator(clock)
    install_demo(simulator, T0)
    server = SimServer(simulator).start()
    try:
        account = Account(name="ph", vendor="posthog", base_url=server.url, settings={"project_id": str(DEMO_PROJECT)})
        account.credentials = {"api_key": DEMO_KEY}
        account.save()
        polling.poll_now(account)
        yield str(Pipeline.objects.get(account=account, name="Events to Snowflake").uuid)
    finally:
        server.stop()


@pytest.fixture(params=["read", "operate"])
def identity(request, polled, posthog_export) -> Iterator[dict[str, object]]:
    user = user_with_role("fuzzer", "operator")
    token = issue_token(user, name="schemathesis", scope=request.param)
    jobs = Account(name="fs", vendor="fullstory", base_url="http://127.0.0.1:9")
    jobs.credentials = {"api_key": "na1.unused"}
    jobs.save()
    stream = Pipeline.objects.create(account=jobs, kind="events_import", external_id="events_import")
    seen: list[tuple[str, str, int]] = []
    yield {
        # The WSGI transport hands the body back as sent, undecoded: ask for it plain (gzip has its own tests).
        "headers": {"Authorization": f"Bearer {token}", "Accept-Encoding": "identity"},
        "pipelines": [str(p.uuid) for p in [*polled.values(), stream]],
        "incidents": [i.id for i in incidents()],
        "operable": posthog_export,
        "seen": seen,
    }
    # Once every operation's examples ran: the fuzzing reached what it was meant to reach.
    writes: dict[str, set[int]] = {}
    for method, path, status in seen:
        if method in ("POST", "PATCH"):
            writes.setdefault(f"{method} {path}", set()).add(status)
    assert len(writes) == 7, writes
    for path, statuses in writes.items():
        if request.param == "read":
            # 404: an id that is no UUID matches no route at all (PATCH /pipelines/{uuid}/), before any auth
            assert 403 in statuses and statuses <= {403, 404}, f"{path}: a read token got past the scope check"
        elif path == "POST /api/v1/accounts/":  # the admin's: an operator's token is refused whatever it sends
            assert statuses <= {400, 403}, f"{path}: an operator got past the admin check: {sorted(statuses)}"
        elif path != "POST /api/v1/pipelines/new/":  # random account names and kinds: 400s are right
            assert any(200 <= s < 300 for s in statuses), f"{path}: no write succeeded: {sorted(statuses)}"


@pytest.fixture
def api_schema(identity):
    # As Django's test client does: a request must not close the test's connection (its transaction).
    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
    try:
        yield schemathesis.openapi.from_wsgi(
            "/api/v1/openapi.json", get_wsgi_application(), headers=identity["headers"]
        )
    finally:
        for signal in (request_started, request_finished):
            signal.connect(close_old_connections)


schema = schemathesis.pytest.from_fixture("api_schema")


def _real_ids(case, identity: dict[str, object]) -> None:
    """Most well-formed ids become real ones (by the generated value: reproducible)."""
    params = case.path_parameters or {}

    def pick(value: object) -> int:
        return zlib.crc32(str(value).encode())

    generated = params.get("pipeline_uuid")
    try:
        valid = generated is not None and uuid.UUID(str(generated)) is not None
    except ValueError:
        valid = False
    if valid and pick(generated) % 4:
        params["pipeline_uuid"] = identity["pipelines"][pick(generated) % len(identity["pipelines"])]
    if "incident_id" in params and identity["incidents"] and pick(params["incident_id"]) % 2:
        params["incident_id"] = identity["incidents"][0]
    if "name" in params and pick(params["name"]) % 3 == 0:  # an operation that exists, on a pipeline that has it
        params["name"], params["pipeline_uuid"], case.body = "unpause-backfill", identity["operable"], {}


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_the_api_holds_to_its_schema(case, identity) -> None:
    _real_ids(case, identity)
    response = case.call_and_validate(headers=identity["headers"], checks=CHECKS)
    if case.method.upper() == case.operation.method.upper():  # not the coverage phase's other-method probes
        identity["seen"].append((case.method.upper(), case.operation.path, response.status_code))
