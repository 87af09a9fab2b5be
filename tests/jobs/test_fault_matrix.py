"""The fault matrix: for every vendor, every fault, through the real poll path against the
simulator. For each: no crash, a poll outcome of the right kind with a readable message,
backoff as specified, earlier runs and snapshots untouched, the account's or pipeline's
health shows the problem, and polling recovers when the fault ends."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from jobs import polling
from jobs.config import register_job
from jobs.models import Account, Pipeline, PollAttempt, Run, Snapshot
from vendors.posthog.sim_demo import s3_hourly, stripe_charges
from vendors.posthog.sim_exports import SimExport
from vendors.posthog.sim_tables import SimSchema, SimSource
from vendors.posthog.sim_world import SimProject
from vendors.posthog.simulator import DEMO_KEY, DEMO_PROJECT, PostHogWorld, SimKey
from vendors.registry import VENDORS
from vendors.simulator.core import Clock, Fault, SimServer, Simulator
from vendors.simulator.scenarios import build

from ..conftest import T0


@dataclass
class VendorCase:
    vendor: str
    path: str  # the fault applies to requests under this path
    settings: dict
    credentials: dict
    pipelines: list[tuple[str, str]]  # (kind, external_id); one-shot kinds get `jobs`
    jobs: list[str] = field(default_factory=list)
    missing_fields: object = None  # a 200 body that lacks what the client needs
    unknown_status: object = None  # a 200 body whose status string nobody documented
    # One-shot jobs: a 404 for a job we know means the vendor forgot it (expired).
    gone_on_404: bool = False
    status_path: str = ""  # where `unknown_status` is served, when not every call under `path` takes one shape
    # The simulator to poll, when the demo's part is too big to poll 3 times per fault.
    simulator: Callable[[Clock], Simulator] | None = None

    @property
    def unknown_status_path(self) -> str:
        return self.status_path or self.path


CASES = [
    VendorCase(
        "mixpanel",
        "/api/app",
        {"project_id": "12345"},
        {"username": "demo-svc", "secret": "demo-secret"},
        [("import_connector", "s3-events")],
        missing_fields={"status": "ok", "results": {"url": None}},
        unknown_status={"status": "ok", "results": {"data": [{"id": "x1", "status": "defrosting", "start_time": ""}]}},
    ),
    VendorCase(
        "statsig",
        "/console",
        {"window_days": 10},
        {"api_key": "console-demo-key"},
        [("ingestion", "snowflake-prod/events")],
        missing_fields={"message": "ok", "pagination": {}},
        unknown_status={
            "message": "ok",
            "data": [
                {
                    "ds": "2026-11-19T00:00:00Z",
                    "status": "DEFROSTING",
                    "ingestion_dataset": "events",
                    "source_name": "snowflake-prod",
                    "ingestion_source": None,
                    "message": None,
                    "timestamp": None,
                }
            ],
        },
    ),
]
CASES += [
    VendorCase(
        "fullstory",
        "/v2/events",
        {},
        {"api_key": "demo-fullstory-key"},
        [("events_import", "events_import")],
        jobs=["fs-demo-live"],
        gone_on_404=True,
        missing_fields={"imports": 1},
        unknown_status={"imports": 0, "errors": 0, "job": {"id": "fs-demo-live", "status": "DEFROSTING"}},
    ),
    VendorCase(
        "micro",
        "/v2/prism",
        {"team_id": "11111111-2222-3333-4444-555555555555"},
        {"api_key": "demo-micro-key"},
        [("import", "import")],
        jobs=["mi-demo-live"],
        gone_on_404=True,
        missing_fields={"total": 10},
        unknown_status={"job_id": "mi-demo-live", "status": "defrosting", "total": 1},
    ),
]


def small_posthog(clock: Clock) -> Simulator:
    """A day of one hourly export (one failed interval) and of one hourly table: the demo's
    ten days of four exports are 1,250 intervals to record, 20 times a plain case's poll."""
    sim = Simulator(clock)
    born = clock.now() - timedelta(days=1)
    project = SimProject(DEMO_PROJECT)
    export = SimExport("Events to S3", "hour", {"type": "S3", "config": {"bucket_name": "b"}}, born, s3_hourly)
    source = SimSource("Stripe", born)
    source.schemas = [SimSchema("charges", source.id, "1hour", born, stripe_charges)]
    project.exports[export.id], project.sources[source.id] = export, source
    PostHogWorld(keys={DEMO_KEY: SimKey({DEMO_PROJECT})}, projects={DEMO_PROJECT: project}).install(sim)
    return sim


CASES += [
    VendorCase(
        "posthog",
        "/api/projects",
        {"project_id": str(DEMO_PROJECT)},
        {"api_key": DEMO_KEY},
        [],  # the project's ids are made at start: the baseline poll discovers its pipelines
        missing_fields={"count": 1, "next": None},  # a list page without its results
        unknown_status={  # both an export (its detail) and its runs page: the same path serves both
            "id": "matrix-export",
            "name": "Matrix export",
            "next": None,
            "results": [
                {
                    "id": "matrix-run",
                    "status": "Defrosting",
                    "data_interval_start": "2026-11-19T00:00:00Z",
                    "data_interval_end": "2026-11-19T01:00:00Z",
                    "created_at": "2026-11-19T01:00:05Z",
                }
            ],
        },
        status_path=f"/api/projects/{DEMO_PROJECT}/batch_exports",  # tables' jobs are a plain array
        simulator=small_posthog,
    ),
]
CASES = [c for c in CASES if c.vendor in VENDORS]

# fault -> (expected poll outcome, a fragment of its message)
FAULTS: dict[str, tuple[Callable[[VendorCase], Fault | None], str, str]] = {
    "timeout": (lambda c: Fault("timeout", path=c.path, seconds=3), "transient", "did not answer"),
    "refused": (lambda c: None, "transient", "refused"),
    "500": (
        lambda c: Fault("status", path=c.path, status=500, body={"message": "boom", "error": "boom"}),
        "transient",
        "boom",
    ),
    "502-html": (lambda c: Fault("html", path=c.path, status=502), "transient", "502"),
    "429": (
        lambda c: Fault(
            "status",
            path=c.path,
            status=429,
            body={"message": "slow down", "error": "slow down"},
            headers={"Retry-After": "120"},
        ),
        "rate_limited",
        "slow down",
    ),
    "401": (
        lambda c: Fault("status", path=c.path, status=401, body={"message": "bad key", "error": "bad key"}),
        "auth",
        "bad key",
    ),
    "403": (
        lambda c: Fault("status", path=c.path, status=403, body={"message": "no role", "error": "no role"}),
        "auth",
        "no role",
    ),
    "404": (
        lambda c: Fault("status", path=c.path, status=404, body={"message": "gone", "error": "gone"}),
        "not_found",
        "gone",
    ),
    "not-json": (lambda c: Fault("not_json", path=c.path), "bad_response", "expected JSON"),
    "wrong-shape": (lambda c: Fault("wrong_shape", path=c.path, body=[1, 2, 3]), "bad_response", ""),
    "missing-fields": (lambda c: Fault("wrong_shape", path=c.path, body=c.missing_fields), "bad_response", ""),
    "10MB-body": (lambda c: Fault("huge", path=c.path), "bad_response", "cap"),
    "trickle": (lambda c: Fault("trickle", path=c.path, seconds=4), "transient", "longer than"),
    "invalid-utf8": (lambda c: Fault("bad_utf8", path=c.path), "bad_response", "UTF-8"),
}


@pytest.fixture
def world(request: pytest.FixtureRequest) -> Iterator[tuple[SimServer, Clock]]:
    clock = Clock(T0, frozen=True)
    case: VendorCase = request.node.callspec.params["case"]
    server = SimServer(case.simulator(clock) if case.simulator else build("demo", clock)).start()
    with time_machine.travel(T0, tick=True):
        yield server, clock
    server.stop()


def _account(case: VendorCase, url: str) -> Account:
    account = Account(name=f"{case.vendor}-matrix", vendor=case.vendor, base_url=url, settings=case.settings)
    account.credentials = case.credentials
    account.save()
    for kind, external_id in case.pipelines:
        pipeline = Pipeline.objects.create(account=account, kind=kind, external_id=external_id)
        for job_id in case.jobs:
            register_job(pipeline, job_id)
    return account


def _poll(account: Account) -> polling.PollSummary:
    account.refresh_from_db()
    return polling.poll_now(account)


def _outcome(account: Account, summary: polling.PollSummary) -> tuple[str, str]:
    """The poll outcome: account-wide, or the first pipeline-level problem."""
    if summary.outcome != "ok":
        return summary.outcome, summary.message
    problem = Pipeline.objects.filter(account=account).exclude(poll_error_kind="").first()
    return (problem.poll_error_kind, problem.poll_error_message) if problem else ("ok", "")


@pytest.mark.django_db
@pytest.mark.parametrize("fault_name", list(FAULTS))
@pytest.mark.parametrize("case", CASES, ids=[c.vendor for c in CASES])
def test_fault(case: VendorCase, fault_name: str, world) -> None:
    server, _ = world
    account = _account(case, server.url)
    baseline = _poll(account)
    assert baseline.outcome == "ok", baseline.line()
    runs_before = list(Run.objects.order_by("pk").values())
    snapshots_before = list(Snapshot.objects.order_by("pk").values())
    assert runs_before, "the baseline poll must leave data to protect"

    make_fault, expected, fragment = FAULTS[fault_name]
    if fault_name == "404" and case.gone_on_404:
        return _expired_on_404(case, server, account)
    fault = make_fault(case)
    if fault is None:  # refused connection: nobody listens on the account's port
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            dead = s.getsockname()[1]
        Account.objects.filter(pk=account.pk).update(base_url=f"http://127.0.0.1:{dead}")
    else:
        server.simulator.inject(fault)
    started = timezone.now()
    summary = _poll(account)  # must not raise

    kind, message = _outcome(account, summary)
    assert kind == expected, summary.line()
    assert fragment.lower() in message.lower(), message
    assert message and all(ch.isprintable() for ch in message)
    attempt = PollAttempt.objects.filter(account=account).order_by("-at", "-id").first()
    assert attempt.outcome == kind
    # earlier data untouched: the same rows, with the same values
    assert list(Run.objects.filter(pk__in=[r["id"] for r in runs_before]).order_by("pk").values()) == runs_before
    snapshot_ids = [s["id"] for s in snapshots_before]
    assert list(Snapshot.objects.filter(pk__in=snapshot_ids).order_by("pk").values()) == snapshots_before
    account.refresh_from_db()
    pipelines = list(Pipeline.objects.select_related("account", "current_run").filter(account=account))
    if kind in ("transient", "auth", "rate_limited"):
        assert account.backoff_until is not None and account.backoff_until > started
        if kind == "rate_limited":
            assert account.backoff_until >= started + timedelta(seconds=120)
            assert account.consecutive_errors == 1  # one 429 is obeyed, not yet "blind"
        else:
            assert all(p.health().status == "unknown" for p in pipelines)
    else:
        assert any(p.health().status == "unknown" for p in pipelines)

    # the fault ends: polling recovers by itself
    server.simulator.clear_faults()
    Account.objects.filter(pk=account.pk).update(base_url=server.url, backoff_until=None)
    recovered = _poll(account)
    assert _outcome(account, recovered)[0] == "ok", recovered.line()
    pipelines = list(Pipeline.objects.select_related("account", "current_run").filter(account=account))
    assert all(p.health().status != "unknown" for p in pipelines)


@pytest.mark.django_db
@pytest.mark.parametrize("case", CASES, ids=[c.vendor for c in CASES])
def test_unknown_status_is_kept_raw_not_a_crash(case: VendorCase, world) -> None:
    server, _ = world
    account = _account(case, server.url)
    _poll(account)
    server.simulator.inject(Fault("wrong_shape", path=case.unknown_status_path, body=case.unknown_status))
    summary = _poll(account)
    assert summary.outcome == "ok", summary.line()
    odd = Run.objects.filter(pipeline__account=account, state="unknown").first()
    assert odd is not None and odd.vendor_status.lower() == "defrosting"


def _expired_on_404(case: VendorCase, server: SimServer, account: Account) -> None:
    """One-shot kinds: the job is flagged expired and closed; what we saw stays."""
    job = Run.objects.get(pipeline__account=account, external_id=case.jobs[0])
    snapshots = list(Snapshot.objects.filter(run=job).order_by("pk").values())
    server.simulator.inject(Fault("status", path=case.path, status=404, body={"message": "gone", "code": "gone"}))
    summary = _poll(account)
    assert summary.outcome == "ok", summary.line()
    job.refresh_from_db()
    assert "expired" in job.flags and job.closed
    assert list(Snapshot.objects.filter(run=job).order_by("pk").values())[: len(snapshots)] == snapshots
    server.simulator.clear_faults()
    assert _poll(account).outcome in ("ok", "idle")
