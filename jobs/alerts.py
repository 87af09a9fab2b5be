"""Alerts that fire once per change, never on every poll.

`evaluate` reads the state-change rows the poller wrote (marking them processed) and
the derived health of every pipeline, and compares each pipeline's alert condition with
the last one people were told about (`Pipeline.alerted_condition`). Only a difference
makes an `AlertEvent`; matching channels get one `AlertDelivery` each, sent by
`deliver_due` with bounded retries. Muted pipelines and maintenance windows still get
their event (shown on the pages), marked suppressed, with no deliveries.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import QuerySet
from django.urls import reverse
from django.utils import timezone

from vendors import base as vb

from . import egress, health, payload
from .bulk import update_fields
from .models import Account, AlertChannel, AlertDelivery, AlertEvent, Pipeline, StateChange, day_label
from .recording import HISTORY
from .suppression import suppressions
from .vocabulary import OK, RECOVERED, Condition

log = logging.getLogger(__name__)

RETRY_DELAYS = (30, 120, 600)  # seconds between attempts; then the delivery gives up


def suppression(pipeline: Pipeline, now: datetime) -> str:
    """Why an alert for this pipeline would not be sent now ("" when it would)."""
    found = suppressions([pipeline], now).get(pipeline.pk)
    return found.text if found else ""


def _texts(pipeline: Pipeline, kind: str) -> tuple[str, str]:
    name = pipeline.display_name
    vendor = pipeline.account.vendor_label
    link = settings.SITE_URL + reverse("pipeline", args=[pipeline.uuid])
    run = pipeline.current_run
    reason = pipeline.health().reason
    failure = run.error_message if run is not None and run.state == vb.FAILED else ""
    if not failure and pipeline.missing_days:  # the newest run is fine; older days are not
        oldest = min(pipeline.missing_days)
        failure = f"{reason}. {day_label(oldest)}: {pipeline.missing_days[oldest].get('message', '')}"
    it = f"{vendor} {pipeline.kind} '{name}'"
    lines = {
        Condition.FAILED: f"{it} failed: {failure or reason}",
        Condition.PARTIAL: f"{it} finished with failed rows: {run.error_message if run else ''}",
        Condition.STUCK: f"{it} is stuck: {reason}",
        Condition.LATE: f"{it} is late: {reason}",
        Condition.CREDENTIALS: f"{vendor} account '{pipeline.account.name}' cannot be polled: {reason}",
        RECOVERED: f"{it} is healthy again.",
    }
    team = pipeline.owning_team
    title = f"[{kind.upper()}] {vendor} · {name}" + (f" · team {team.name}" if team else "")
    owner = f"Team: {team.name}\n" if team else ""
    body = f"{lines[kind]}\nPipeline: {name} ({pipeline.kind}, account {pipeline.account.name})\n{owner}{link}"
    return title, body


# What a scan reads: what health, the alert condition and the streak need, and what an
# event's text names (the rest of a row, the run's raw payload above all, stays unread).
SCAN_FIELDS = (
    "uuid",
    "account_id",
    "kind",
    "external_id",
    "name",
    "paused",
    "muted_until",
    "team_id",
    "empty_day_is_failure",
    "poll_error_kind",
    "poll_error_message",
    "last_polled_at",
    "last_success_at",
    "created_at",
    "vendor_info",
    "expected_every_seconds",
    "stuck_after_seconds",
    "stuck_after_learned",
    "health_status",
    "incident_since",
    "next_check_at",
    "missing_days",
    "missing_since",
    "last_failure_at",
    "alerted_condition",
    "consecutive_failures",
    "current_run__state",
    "current_run__vendor_status",
    "current_run__error_message",
    "current_run__flags",
    "current_run__counts",
    "current_run__last_change_at",
    "current_run__finished_at",
    "current_run__uuid",
    "current_run__external_id",
    "current_run__error_code",
    "current_run__error_kind",
)


def evaluate(now: datetime | None = None, *, scan_all: bool = True, checks_due: bool = False) -> int:
    """Create events for every changed condition; return how many were created.

    `scan_all=False` looks only at pipelines with new state changes (failed, recovered),
    and with `checks_due` also at those whose `next_check_at` has come (ADR 14): stuck and
    late starting with time, health moved by a poll, the account's credentials broken or
    fixed. `scan_all` looks at every pipeline (a check by hand; the tick never does)."""
    now = now or timezone.now()
    with transaction.atomic():
        pending = StateChange.objects.filter(processed_at=None).select_for_update(skip_locked=True)
        failed_runs: dict[int, int] = {}
        changed: set[int] = set()
        for change in pending.only("pipeline_id", "new_state", "old_state", "reason"):
            changed.add(change.pipeline_id)
            if change.new_state == vb.FAILED and change.reason != HISTORY:
                failed_runs[change.pipeline_id] = failed_runs.get(change.pipeline_id, 0) + 1
            elif change.new_state == vb.SUCCEEDED:
                failed_runs[change.pipeline_id] = -1  # a success ends the streak
        StateChange.objects.filter(pk__in=pending.values("pk")).update(processed_at=now)

    created = 0
    stale_health: list[Pipeline] = []
    # Conditions and streaks that moved with nothing to send (a first look says "ok", a
    # success ends a streak): written together at the end, not a transaction each (a
    # first scan of 10,000 new pipelines made 10,000 commits).
    quiet: list[Pipeline] = []
    if checks_due and not scan_all:
        changed |= set(checks_due_query(now))  # at most a batch: the rest stays due for the next scan
    if not (scan_all or changed):
        return created
    pipelines = Pipeline.objects.select_related("current_run").only(*SCAN_FIELDS)
    accounts = Account.objects.all()
    if not scan_all:
        pipelines = pipelines.filter(pk__in=changed)
        accounts = accounts.filter(pk__in=Pipeline.objects.filter(pk__in=changed).values("account_id"))
    # Accounts read once and shared: joined, the scan built one account per pipeline row.
    by_pk = {a.pk: a for a in accounts}
    for pipeline in pipelines.iterator(chunk_size=1000):
        if (account := by_pk.get(pipeline.account_id)) is not None:  # else one created since: read it
            pipeline.account = account
        status = pipeline.health(now)
        if health.derive(pipeline, now, status, scanned=True):
            stale_health.append(pipeline)  # stuck and late come with time, not with polls
        if pipeline.paused:
            continue
        streak = failed_runs.get(pipeline.pk)
        failures = pipeline.consecutive_failures
        if streak is not None:
            pipeline.consecutive_failures = 0 if streak < 0 else failures + streak
        cond = health.alert_condition(pipeline, status)
        if cond is None or cond == pipeline.alerted_condition:
            if cond == Condition.FAILED and streak is not None and streak > 0:
                with transaction.atomic():  # still failing: channels waiting for N in a row
                    _late_threshold_deliveries(pipeline)
                    pipeline.save(update_fields=["consecutive_failures"])
            elif pipeline.consecutive_failures != failures:
                quiet.append(pipeline)  # only the streak moved (a success after successes: not even that)
            continue
        kind = _event_kind(pipeline.alerted_condition, cond)
        pipeline.alerted_condition = cond
        if not kind:
            quiet.append(pipeline)
            continue
        with transaction.atomic():  # the event and the condition it announces, together
            _create_event(pipeline, kind, now)
            created += 1
            pipeline.save(update_fields=["alerted_condition", "consecutive_failures"])
    with transaction.atomic():
        update_fields(quiet, ["alerted_condition", "consecutive_failures"])
        health.write(stale_health)
    return created


def checks_due_query(now: datetime) -> QuerySet[Pipeline, int]:
    """Pipelines whose next check has come, longest waiting first, a batch at most (by index)."""
    return (
        Pipeline.objects.filter(next_check_at__lte=now)
        .order_by("next_check_at")
        .values_list("pk", flat=True)[: settings.ALERT_SCAN_BATCH]
    )


def _event_kind(previous: str, current: str) -> str | None:
    if current == previous:
        return None
    if current == OK:
        return RECOVERED if previous not in ("", OK) else None
    return current


def _create_event(pipeline: Pipeline, kind: str, now: datetime) -> AlertEvent:
    title, body = _texts(pipeline, kind)
    since, trouble = pipeline.incident_since, None
    if kind == RECOVERED:
        trouble = _trouble_events(pipeline)
        # It says when the trouble it ends began: the first event of that trouble said so.
        began = trouble[0].payload.get("since") if trouble else None
        since = datetime.fromisoformat(began) if began else None
    event = AlertEvent.objects.create(
        pipeline=pipeline,
        kind=kind,
        title=title,
        message=body,
        at=now,
        consecutive_failures=pipeline.consecutive_failures,
        suppressed=suppression(pipeline, now),
        payload=payload.build(pipeline, kind, now, title, body, since),
    )
    if not event.suppressed:
        told = _told_of_trouble(trouble) if trouble is not None else None
        deliveries = [
            AlertDelivery(event=event, channel=channel, next_attempt_at=now)
            for channel in AlertChannel.objects.filter(enabled=True).prefetch_related("teams")
            if channel.routes(pipeline, kind)
            and _threshold_met(channel, pipeline, kind)
            and (told is None or channel.pk in told)
        ]
        AlertDelivery.objects.bulk_create(deliveries)
    return event


def _threshold_met(channel: AlertChannel, pipeline: Pipeline, kind: str) -> bool:
    if kind != Condition.FAILED:
        return True
    return max(1, pipeline.consecutive_failures) >= channel.min_consecutive_failures


def _trouble_events(pipeline: Pipeline) -> list[AlertEvent]:
    """The events since the last recovery (the trouble a recovery now ends), oldest first."""
    last = pipeline.alert_events.filter(kind=RECOVERED).order_by("-pk").values_list("pk", flat=True).first()
    return list(pipeline.alert_events.filter(pk__gt=last or 0).exclude(kind=RECOVERED).order_by("pk"))


def _told_of_trouble(trouble: list[AlertEvent]) -> set[int]:
    """Channels that were sent something about the trouble a recovery ends: a recovery goes
    only where the failure went."""
    return set(AlertDelivery.objects.filter(event__in=trouble).values_list("channel_id", flat=True))


def _late_threshold_deliveries(pipeline: Pipeline) -> None:
    """Still failing, one failure more: channels waiting for N in a row hear of it now."""
    event = pipeline.alert_events.filter(kind=Condition.FAILED, suppressed="").first()
    if event is None:
        return
    for channel in AlertChannel.objects.filter(enabled=True, min_consecutive_failures=pipeline.consecutive_failures):
        if channel.routes(pipeline, Condition.FAILED):
            AlertDelivery.objects.get_or_create(event=event, channel=channel)


# Keys apprise's JSON body has itself (a payload key equal to one would rename it).
APPRISE_JSON_KEYS = frozenset({"version", "title", "message", "attachments", "type"})


def send(
    channel: AlertChannel, title: str, body: str, severity: str = "info", structured: dict[str, Any] | None = None
) -> None:
    """Deliver one message; raise with a readable reason when it did not go out.

    `severity` is apprise's notification type (info, success, warning, failure); a JSON
    webhook also gets the `structured` payload's fields beside apprise's own. The egress
    policy is checked again here (DNS may have changed since the channel was saved), and the
    send runs inside the connection guard, so nothing connects to an address the policy
    refuses, redirects included."""
    url = channel.url
    if url.startswith("email://"):
        send_mail(title, body, None, [url.removeprefix("email://")], fail_silently=False)
        return
    import apprise
    from apprise.plugins.custom_json import NotifyJSON

    destinations = egress.channel_destinations(url)  # ValueError when apprise cannot read it
    if problem := egress.channel_problem(url):
        raise egress.EgressRefused(problem)
    notifier = apprise.Apprise()
    if not notifier.add(url):
        raise ValueError("apprise does not understand this channel URL")
    if structured:
        for plugin in notifier:
            if isinstance(plugin, NotifyJSON):
                plugin.payload_extras.update({k: v for k, v in structured.items() if k not in APPRISE_JSON_KEYS})
    errors: list[str] = []

    def keep_problems(entry: object, plugin: object) -> None:
        if getattr(entry, "level", "") in ("WARNING", "ERROR", "CRITICAL"):
            errors.append(str(getattr(entry, "message", entry)))

    notify_type = apprise.NotifyType(severity if severity in {t.value for t in apprise.NotifyType} else "info")
    with egress.guarded_connections(destinations) as refused:
        sent = notifier.notify(body=body, title=title, notify_type=notify_type, timeout=10, log_callback=keep_problems)
    if refused:
        raise egress.EgressRefused(refused[0])
    if not sent:
        raise RuntimeError("; ".join(e for e in errors if e)[:500] or "the service refused the notification")


def deliver_due(now: datetime | None = None, limit: int = 50) -> int:
    """Send due deliveries; failures retry after RETRY_DELAYS, then give up. Returns sent."""
    now = now or timezone.now()
    sent = 0
    with transaction.atomic():
        due = list(
            AlertDelivery.objects.select_for_update(skip_locked=True)
            .filter(status=AlertDelivery.PENDING, next_attempt_at__lte=now)
            .select_related("event", "channel")[:limit]
        )
        # Claim them: a second sender running at the same time skips these rows.
        AlertDelivery.objects.filter(pk__in=[d.pk for d in due]).update(next_attempt_at=now + timedelta(minutes=5))
    for delivery in due:
        started = time.monotonic()
        try:
            event = delivery.event
            send(delivery.channel, event.title, event.message, payload.severity(event.kind), event.payload)
        except Exception as exc:
            _failed(delivery, f"{type(exc).__name__}: {exc}", started, now)
        else:
            delivery.status, delivery.sent_at, delivery.last_error = AlertDelivery.SENT, timezone.now(), ""
            delivery.attempts += 1
            delivery.duration_ms = int((time.monotonic() - started) * 1000)
            delivery.save()
            AlertChannel.objects.filter(pk=delivery.channel_id).update(consecutive_delivery_failures=0)
            sent += 1
    return sent


def _failed(delivery: AlertDelivery, error: str, started: float, now: datetime) -> None:
    delivery.attempts += 1
    delivery.last_error = error
    delivery.duration_ms = int((time.monotonic() - started) * 1000)
    if delivery.attempts > len(RETRY_DELAYS):
        delivery.status = AlertDelivery.GAVE_UP
    else:
        delivery.next_attempt_at = now + timedelta(seconds=RETRY_DELAYS[delivery.attempts - 1])
    delivery.save()
    channel = delivery.channel
    channel.consecutive_delivery_failures += 1
    AlertChannel.objects.filter(pk=channel.pk).update(
        consecutive_delivery_failures=channel.consecutive_delivery_failures
    )
    log.warning("alert delivery to %s failed (attempt %s): %s", channel.name, delivery.attempts, error)


def send_test(channel: AlertChannel) -> str:
    """The "send test" button: deliver now, record it in the log, say what happened."""
    title = f"[TEST] Pipewatch channel '{channel.name}'"
    body = f"This is a test from Pipewatch at {settings.SITE_URL}. If you read this, the channel works."
    started = time.monotonic()
    try:
        send(channel, title, body)
    except Exception as exc:
        return f"failed after {int((time.monotonic() - started) * 1000)} ms: {exc}"
    return f"sent in {int((time.monotonic() - started) * 1000)} ms"
