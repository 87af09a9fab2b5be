"""One account poll's whole outcome, written in one transaction (ADR 8).

`jobs.polling` asks the vendor and hands `write` a `PollOutcome`: the results it got (up to
an account-wide error or the poll's deadline), that error, and whether the account's
pipelines were listed. `write` reads the runs they name, compares them (`jobs.recording`),
changes the pipelines' and the account's poll state through their models' methods, and
sends it all under the lease's fence: the runs in a few statements, the pipelines' fields
that moved (those that moved alike in one UPDATE), the attempt, and the account, which
gives the lease back. Known runs, first sight, jobs gone, a pipeline's error, an
account's: one path, one commit, about ten statements however many pipelines.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from django.db import transaction

from vendors import base as vb

from . import health
from .bulk import Moved, insert, update_fields
from .leases import Lease
from .models import Account, Pipeline, PollAttempt
from .recording import Recording, RecordStats, Seen, held_runs, seen, storable_run_key

log = logging.getLogger(__name__)

EXTERNAL_ID_MAX = Pipeline._meta.get_field("external_id").max_length
WRITTEN = (*Pipeline.POLL_STATE, *Pipeline.ROLLUP, *health.FIELDS)  # what a poll may change on a pipeline
ATTEMPT_FIELDS = ("account", "at", "duration_ms", "outcome", "targets", "http_status", "retry_after", "message")


class PollerBug(vb.VendorError):
    """Our own failure while polling (a bug, undecryptable credentials): recorded as the
    account's poll error, then raised."""

    kind = "internal"
    account_wide = True


@dataclass
class PollSummary:
    account: str
    outcome: str = "ok"  # ok | idle | busy | lost | <error kind> | internal
    message: str = ""
    pipelines: int = 0
    discovered: int = 0
    stats: RecordStats = field(default_factory=RecordStats)
    duration_ms: int = 0

    def line(self) -> str:
        if self.outcome in ("idle", "busy", "lost"):
            return f"{self.account}: {self.outcome} ({self.message})"
        s = self.stats
        text = (
            f"{self.account}: {self.outcome}, {self.pipelines} pipeline(s), "
            f"{s.runs_created} new run(s), {s.runs_changed} changed, {s.snapshots} snapshot(s) "
            f"in {self.duration_ms} ms"
        )
        if self.discovered:
            text += f", {self.discovered} discovered"
        return f"{text}: {self.message}" if self.message else text


@dataclass
class PollOutcome:
    """What one account poll learned."""

    account: Account
    now: datetime
    pipelines: list[Pipeline]  # the ones asked about (due, or all for "poll now"); current runs loaded
    results: list[vb.TargetResult] = field(default_factory=list)  # in the vendor's order
    error: vb.VendorError | None = None  # the account could not be polled (what came before stands)
    cut: vb.OutOfTime | None = None  # the poll's time ran out: the pipelines not answered stay due
    listed: bool = False  # its pipelines were listed (discovery)
    duration_ms: int = 0


@dataclass
class _Answer:
    pipeline: Pipeline
    result: vb.TargetResult
    scheduled: bool  # polled because it was due (or listed with its runs): its next poll moves
    seen: list[Seen] = field(default_factory=list)


def write(outcome: PollOutcome, lease: Lease | None) -> PollSummary:
    """Write the outcome in one transaction, under the lease's fence when there is one; the
    same transaction gives the lease back."""
    account, now = outcome.account, outcome.now
    summary = PollSummary(account=account.name, pipelines=len(outcome.pipelines), duration_ms=outcome.duration_ms)
    error_before = account.poll_error_kind  # a change of it may change every pipeline's alert
    touched = list(outcome.pipelines)
    moved = Moved(Pipeline, WRITTEN)  # each pipeline's row: only what moved
    moved.remember(touched)
    with lease.fenced() if lease else transaction.atomic():
        answers, problem = _answers(outcome, summary, touched, moved)
        ok = [a for a in answers if a.result.error is None]
        held = held_runs(
            {a.pipeline.pk: a.seen for a in ok},
            {a.pipeline.pk: a.result.gone for a in ok if a.result.gone},
            whole=[a.pipeline.pk for a in ok if a.pipeline.missing_days],
        )
        recording = Recording(now)
        for a in answers:
            if a.result.error is not None:
                a.pipeline.record_poll_error(a.result.error)
                continue
            runs = held.of(a.pipeline)
            recording.observe(a.pipeline, a.seen, runs, held.provisional.get(a.pipeline.pk, ()))
            recording.gone(a.pipeline, [r for k in a.result.gone if (r := runs.get(storable_run_key(k)))])
            a.pipeline.record_answer(a.result.info)
        recording.write()  # the rollups follow the runs: the next poll's pace reads them
        for a in answers:
            if a.scheduled:
                a.pipeline.record_polled(now)
        summary.stats = recording.stats

        attempt = _record_account(outcome, summary, problem)
        for pipeline in touched:
            pipeline.account = account  # as just recorded: its poll problem decides "unknown"
        recheck = account.poll_error_kind != error_before
        if recheck:  # credentials broken or fixed: every pipeline's alert may change
            Pipeline.objects.filter(account=account).update(next_check_at=now)
        health.rederive(touched, now, recheck=recheck)
        moved.save(touched)
        insert([attempt], ATTEMPT_FIELDS)
        fields = Account.POLL_STATE
        if lease is not None:  # done: the next tick may claim it
            account.lease_until = account.lease_token = None
            fields += ("lease_until", "lease_token")
        update_fields([account], fields)
    if lease is not None:
        lease.released = True
    return summary


def _answers(
    outcome: PollOutcome, summary: PollSummary, touched: list[Pipeline], moved: Moved
) -> tuple[list[_Answer], vb.VendorError | None]:
    """Each result with its pipeline: the one asked about, or one the vendor listed (found
    or created here; `touched`, `moved` and `summary` learn of it). Also the first target's
    error, which the attempt reports."""
    by_key = {p.target().key: p for p in outcome.pipelines}
    answers: list[_Answer] = []
    answered: set[int] = set()
    problem: vb.VendorError | None = None
    for result in outcome.results:
        pipeline = by_key.get(result.target.key)
        scheduled = pipeline is not None
        if pipeline is None:  # listed, not asked about
            if result.error is not None or not result.target.external_id:
                continue
            if len(result.target.external_id) > EXTERNAL_ID_MAX:
                # Cannot be stored, and a digest would not do: we must send the id back.
                problem = problem or vb.BadResponse(
                    f"the vendor listed a pipeline ({result.target.kind}) whose id is"
                    f" {len(result.target.external_id):,} characters long (at most {EXTERNAL_ID_MAX} are kept):"
                    " not tracked"
                )
                continue
            pipeline, created = _discovered(outcome.account, result)
            if pipeline is None:
                continue  # known but paused: monitoring was stopped on purpose
            summary.discovered += created
            touched.append(pipeline)
            moved.remember([pipeline])
            # A new pipeline listed without its runs (nessie) stays due: polled next tick.
            scheduled = created and bool(result.observations)
        if pipeline.pk in answered:
            continue
        answered.add(pipeline.pk)
        if result.error is not None:
            problem = problem or result.error
        answers.append(_Answer(pipeline, result, scheduled, seen(result.observations)))
    return answers, problem


def _discovered(account: Account, result: vb.TargetResult) -> tuple[Pipeline | None, bool]:
    """A pipeline the vendor listed: start tracking it, or use the one we track (not
    paused) that simply was not due. Returns (pipeline or None, created)."""
    pipeline, created = Pipeline.objects.select_related("current_run").get_or_create(
        account=account,
        kind=result.target.kind,
        external_id=result.target.external_id,
        defaults={"name": result.name[:200], "source": "discovered"},
    )
    if pipeline.paused:
        return None, False
    pipeline.account = account
    return pipeline, created


def _record_account(outcome: PollOutcome, summary: PollSummary, problem: vb.VendorError | None) -> PollAttempt:
    """The account's poll state and its attempt (not saved); the summary's outcome and message."""
    account, now, error = outcome.account, outcome.now, outcome.error
    counts = {"duration_ms": outcome.duration_ms, "targets": len(outcome.pipelines)}
    if error is not None:
        summary.outcome, summary.message = error.kind, str(error)
        attempt = account.record_poll_error(now, error, **counts)
        log.warning(
            "poll %s failed (%s), next try in %.0f s: %s",
            account.name,
            error.kind,
            (account.backoff_until - now).total_seconds() if account.backoff_until else 0,
            error,
        )
        return attempt
    reported: vb.VendorError | None = problem
    if outcome.cut is not None:
        left = sum(1 for p in outcome.pipelines if p.last_polled_at != now)
        reported = vb.OutOfTime(
            f"{outcome.cut.message}: {left} of {len(outcome.pipelines)} pipeline(s) left for the next poll"
        )
    if reported is not None:
        summary.message = f"{reported.kind}: {reported}"
    return account.record_poll(now, problem=reported, listed=outcome.listed and outcome.cut is None, **counts)
