"""Account polls as a vendor client hands them over (no HTTP), for the writer's fast tests."""

from __future__ import annotations

from jobs import polling
from jobs.leases import Lease
from jobs.models import Account, Pipeline
from jobs.writer import PollOutcome, PollSummary, write
from vendors import base as vb

from ..conftest import T0

IMPORT, EXPORT = "import_connector", "export_pipeline"


def pipeline(account: Account, external_id: str, kind: str = IMPORT, **kwargs: object) -> Pipeline:
    return Pipeline.objects.create(account=account, kind=kind, external_id=external_id, **kwargs)


def seen(p: Pipeline, key: str, state: str = vb.RUNNING, **kwargs: object) -> vb.Observation:
    status = str(kwargs.pop("status", state.upper()))
    raw = {"id": key, "status": status, **{k: str(v) for k, v in kwargs.items()}}
    return vb.Observation(p.target(), key, state, status, raw=raw, **kwargs)  # type: ignore[arg-type]


def answer(p: Pipeline, *observations: vb.Observation, **kwargs: object) -> vb.TargetResult:
    return vb.TargetResult(p.target(), list(observations), **kwargs)  # type: ignore[arg-type]


def poll(
    account: Account, *results: vb.TargetResult, now=T0, lease: Lease | None = None, **kwargs: object
) -> PollSummary:
    """What `polling.poll_account` hands the writer after asking the vendor, every pipeline due."""
    account = Account.objects.get(pk=account.pk)
    outcome = PollOutcome(account, now, polling.pipelines_to_poll(account, now, only_due=False), list(results))
    outcome.duration_ms = 7
    for name, value in kwargs.items():
        setattr(outcome, name, value)
    return write(outcome, lease)
