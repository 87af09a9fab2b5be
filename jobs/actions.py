"""What people do to pipelines: create, cancel, pause, resume, run now, poll now, register
a job. Each action calls the vendor through the same client as polling, answers with an
`ActionResult` the pages and the API show as is, and writes an audit event, refused
attempts included."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils import timezone

from vendors import base as vb
from vendors.adapter import CANCEL, CREATE, PAUSE, RUN_NOW
from vendors.operations import RUN, Fact, Operation
from vendors.registry import VENDORS

from . import audit, health
from .config import register_job
from .models import CANCELED_AT, PAUSED, Account, Pipeline, Run
from .naming import default_name, stream_name
from .polling import client_for_account, poll_now
from .recording import record_observations
from .redaction import redact

log = logging.getLogger(__name__)


@dataclass
class ActionResult:
    ok: bool
    message: str
    pipelines: list[Pipeline] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    field_errors: dict[str, str] = field(default_factory=dict)
    http_status: int | None = None


def kept_spec(spec: dict[str, Any]) -> dict[str, Any]:
    """The spec as we keep it: secrets redacted at any depth, bulky payloads summarized."""
    return redact(
        {k: f"({len(v)} rows)" if k in ("requests", "rows") and isinstance(v, list) else v for k, v in spec.items()}
    )


def _audit(actor: Any, action: str, label: str, outcome: str, **detail: Any) -> None:
    audit.record(action, actor=actor, target_type="pipeline", target_label=label, outcome=outcome, detail=detail)


def _refused(action: str, label: str, actor: Any, exc: vb.VendorError, **detail: Any) -> ActionResult:
    _audit(actor, action, label, "refused", error=str(exc), kind=exc.kind, **detail)
    return ActionResult(False, f"The vendor refused: {exc}", http_status=exc.http_status)


def create(account: Account, kind: str, spec: dict[str, Any], actor: Any, stream: str = "") -> ActionResult:
    """Validate as the vendor would, call it, and start tracking what it created."""
    client = client_for_account(account)
    label = f"{account.name}/{kind}"
    if CREATE not in client.capabilities_for(kind):
        return ActionResult(False, f"{client.label} cannot create {kind!r} from here")
    try:
        cleaned = client.validate_create(kind, spec)
    except vb.InvalidSpec as exc:
        _audit(actor, "pipeline.create", label, "invalid", errors=exc.errors, spec=kept_spec(spec))
        return ActionResult(False, "Please correct the highlighted fields.", field_errors=exc.errors)
    try:
        result = client.create(kind, cleaned)
    except vb.VendorError as exc:
        return _refused("pipeline.create", label, actor, exc, spec=kept_spec(cleaned))

    now = timezone.now()
    pipelines: list[Pipeline] = []
    with transaction.atomic():
        targets = list(result.targets)
        if not targets and (result.run_keys or result.observations):
            targets = [vb.Target(kind, stream or kind)]  # one-shot jobs join a stream
        asked = default_name(account.vendor, client.label, kind, cleaned)
        joins_stream = bool(result.run_keys or result.observations)
        for target in targets:
            pipeline, made = Pipeline.objects.get_or_create(
                account=account,
                kind=target.kind,
                external_id=target.external_id,
                defaults={
                    "source": "created",
                    "config": kept_spec(cleaned),
                    "next_poll_at": now,
                    "name": stream_name(client.label, target.kind) if joins_stream else asked,
                },
            )
            if not made and not pipeline.name and joins_stream:
                Pipeline.objects.filter(pk=pipeline.pk).update(name=stream_name(client.label, target.kind))
            pipelines.append(pipeline)
        stream_pipeline = pipelines[0] if pipelines else None
        if stream_pipeline is not None:
            for key in result.run_keys:
                register_job(stream_pipeline, key, label=asked)
            if result.observations:
                record_observations(stream_pipeline, result.observations, now)
                keys = [o.run_key for o in result.observations]
                Run.objects.filter(pipeline=stream_pipeline, external_id__in=keys, label="").update(label=asked)
                stream_pipeline.save(
                    update_fields=["current_run", "last_success_at", "last_failure_at", "last_failure_message"]
                )
            Pipeline.objects.filter(pk__in=[p.pk for p in pipelines]).update(next_poll_at=now)
    _audit(
        actor,
        "pipeline.create",
        label,
        "ok",
        message=result.message,
        details=result.details,
        pipelines=[p.external_id for p in pipelines],
        runs=result.run_keys,
        spec=kept_spec(cleaned),
    )
    return ActionResult(True, result.message, pipelines=pipelines, details=result.details)


# Vendor actions: the capability the pipeline's kind must declare (its adapter says).
VENDOR_ACTIONS = {"run-now": RUN_NOW, "vendor-pause": PAUSE, "vendor-resume": PAUSE, "cancel": CANCEL}


def available(pipeline: Pipeline) -> list[str]:
    """The actions that make sense for this pipeline now, in button order: what its kind's
    capabilities allow, nothing at the vendor once it was canceled there."""
    if pipeline.canceled_at:
        return []  # the vendor deleted it: nothing to pause, resume, run or poll any more
    offered = ["resume"] if pipeline.paused else ["poll", "pause"]
    cls = VENDORS.get(pipeline.account.vendor)
    capabilities = cls.capabilities_for(pipeline.kind) if cls else frozenset()
    paused = (pipeline.vendor_info or {}).get("paused")  # where the vendor says, offer only the way out
    hidden = {"vendor-pause"} if paused is True else {"vendor-resume"} if paused is False else set()
    return offered + [a for a, needs in VENDOR_ACTIONS.items() if needs in capabilities and a not in hidden]


def kind_operations(pipeline: Pipeline) -> tuple[Operation, ...]:
    """Every operation of the pipeline's kind, whatever its state (none once canceled)."""
    cls = VENDORS.get(pipeline.account.vendor)
    return () if cls is None or pipeline.canceled_at else cls.operations_for(pipeline.kind)


def vendor_facts(pipeline: Pipeline) -> list[Fact]:
    """What the vendor reports about the pipeline, as its kind's adapter words it."""
    cls = VENDORS.get(pipeline.account.vendor)
    return cls.facts_for(pipeline.kind, pipeline.vendor_info or {}) if cls else []


def operations(pipeline: Pipeline) -> list[Operation]:
    """The kind's pipeline-wide operations offered now (vendors/operations.py), in order."""
    return [op for op in kind_operations(pipeline) if op.offered(pipeline.vendor_info or {})]


def run_operations(pipeline: Pipeline, run: Run) -> list[Operation]:
    """The kind's operations on one run that apply to its state (retry a failed interval)."""
    return [op for op in kind_operations(pipeline) if op.applies_to(run.state)]


def operate(
    pipeline: Pipeline, name: str, actor: Any, values: dict[str, Any] | None = None, run: Run | None = None
) -> ActionResult:
    """Do one of the kind's operations at the vendor: on the pipeline, or on `run`."""
    client = client_for_account(pipeline.account)
    op = client.operation(pipeline.kind, name)
    label = f"{pipeline.account.name}/{pipeline.kind}/{pipeline.external_id}"
    where = {"run": run.external_id} if run is not None else {}
    if op is None or pipeline.canceled_at or (op.scope == RUN) != (run is not None):
        what = "this pipeline" if run is None else "a run"
        return ActionResult(False, f"{client.label} offers no {name!r} for {what} of {pipeline.kind} here")
    if run is None and not op.offered(pipeline.vendor_info or {}) and op.listed:
        return ActionResult(False, f"{op.label.rstrip('…')} is not available for this pipeline now.")
    if run is not None and not op.applies_to(run.state):
        states = ", ".join(sorted(op.run_states))
        return ActionResult(False, f"{op.label.rstrip('…')} applies to {states} runs; this one is {run.state}.")
    try:
        message = client.perform(pipeline.target(), name, run.external_id if run else "", dict(values or {}))
    except vb.InvalidSpec as exc:
        _audit(actor, f"pipeline.{name}", label, "invalid", errors=exc.errors, **where)
        return ActionResult(False, "Please correct the highlighted fields.", field_errors=exc.errors)
    except vb.VendorError as exc:
        return _refused(f"pipeline.{name}", label, actor, exc, **where)
    Pipeline.objects.filter(pk=pipeline.pk).update(next_poll_at=timezone.now())  # see its effect soon
    _audit(actor, f"pipeline.{name}", label, "ok", message=message, values=kept_spec(values or {}), **where)
    return ActionResult(True, message)


def cancel(pipeline: Pipeline, actor: Any) -> ActionResult:
    client = client_for_account(pipeline.account)
    label = f"{pipeline.account.name}/{pipeline.kind}/{pipeline.external_id}"
    if CANCEL not in client.capabilities_for(pipeline.kind):
        return ActionResult(False, f"{client.label} offers no cancel for {pipeline.kind}")
    if pipeline.canceled_at:  # asking again would only earn the vendor's 404
        _audit(actor, "pipeline.cancel", label, "refused", error="already canceled at the vendor")
        return ActionResult(False, "This pipeline was already canceled at the vendor.")
    try:
        message = client.cancel(pipeline.target())
    except vb.VendorError as exc:
        return _refused("pipeline.cancel", label, actor, exc)
    # The vendor may erase the pipeline and its history; ours is kept, marked canceled
    # (in vendor_info, which polls merge into and never drop).
    info = {**(pipeline.vendor_info or {}), CANCELED_AT: timezone.now().isoformat()}
    Pipeline.objects.filter(pk=pipeline.pk).update(
        paused=True, health_status=PAUSED, incident_since=None, vendor_info=info
    )
    _audit(actor, "pipeline.cancel", label, "ok", message=message)
    return ActionResult(True, f"{message} Our history of it is kept; monitoring is paused.")


def set_vendor_paused(pipeline: Pipeline, paused: bool, actor: Any) -> ActionResult:
    """Pause or resume the pipeline at the vendor (nessie)."""
    client = client_for_account(pipeline.account)
    label = f"{pipeline.account.name}/{pipeline.kind}/{pipeline.external_id}"
    action = "pipeline.vendor_pause" if paused else "pipeline.vendor_resume"
    if PAUSE not in client.capabilities_for(pipeline.kind):
        return ActionResult(False, f"{client.label} cannot pause {pipeline.kind} at the vendor")
    try:
        message = client.pause(pipeline.target()) if paused else client.resume(pipeline.target())
    except vb.VendorError as exc:
        return _refused(action, label, actor, exc)
    _audit(actor, action, label, "ok", message=message)
    return ActionResult(True, message)


def set_monitoring_paused(pipeline: Pipeline, paused: bool, actor: Any) -> ActionResult:
    """Stop or restart polling this pipeline; nothing is sent to the vendor."""
    if not paused and pipeline.canceled_at:
        return ActionResult(False, "This pipeline was canceled at the vendor; there is nothing to poll.")
    now = timezone.now()
    Pipeline.objects.filter(pk=pipeline.pk).update(paused=paused, next_poll_at=now)
    health.store(Pipeline.objects.select_related("account", "current_run").filter(pk=pipeline.pk), now)
    label = f"{pipeline.account.name}/{pipeline.kind}/{pipeline.external_id}"
    _audit(actor, "pipeline.pause" if paused else "pipeline.resume", label, "ok")
    return ActionResult(True, "Monitoring paused." if paused else "Monitoring resumed; polling now.")


def run_now(pipeline: Pipeline, actor: Any) -> ActionResult:
    client = client_for_account(pipeline.account)
    label = f"{pipeline.account.name}/{pipeline.kind}/{pipeline.external_id}"
    if RUN_NOW not in client.capabilities_for(pipeline.kind):
        return ActionResult(False, f"{client.label} cannot start {pipeline.kind} on demand")
    try:
        result = client.run_now(pipeline.target())
    except vb.VendorError as exc:
        return _refused("pipeline.run_now", label, actor, exc)
    Pipeline.objects.filter(pk=pipeline.pk).update(next_poll_at=timezone.now())
    _audit(actor, "pipeline.run_now", label, "ok", message=result.message)
    return ActionResult(True, result.message, details=result.details)


def poll_pipeline_now(pipeline: Pipeline, actor: Any) -> ActionResult:
    Pipeline.objects.filter(pk=pipeline.pk).update(next_poll_at=timezone.now())
    summary = poll_now(pipeline.account)
    label = f"{pipeline.account.name}/{pipeline.kind}/{pipeline.external_id}"
    ok = summary.outcome in ("ok", "idle")
    _audit(actor, "pipeline.poll_now", label, "ok" if ok else summary.outcome, line=summary.line())
    return ActionResult(ok, summary.line())


def register(pipeline: Pipeline, job_id: str, actor: Any) -> ActionResult:
    label = f"{pipeline.account.name}/{pipeline.kind}/{pipeline.external_id}"
    if not pipeline.is_one_shot:
        return ActionResult(False, f"{pipeline.kind} pipelines are not streams of jobs; nothing to register")
    job_id = job_id.strip()
    if not job_id or len(job_id) > 255:
        return ActionResult(
            False,
            "external_id must be a job id of 1 to 255 characters",
            field_errors={"external_id": "required, at most 255 characters"},
        )
    created = register_job(pipeline, job_id)
    _audit(actor, "run.register", label, "ok", job=job_id, created=created)
    return ActionResult(True, "Job registered; polling now." if created else "Job was already tracked.")
