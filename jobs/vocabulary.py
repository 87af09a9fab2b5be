"""The words for health and trouble, defined once: pages, the API, metrics, alerts and the
database (the fields' choices) all read them from here.

- `HealthStatus`: a pipeline's health, derived by `Pipeline.health()`: the overview's
  counters and `?health=` filter, the API's `health`, the metric's `health` label, the
  alert payload's `health`.
- `Condition`: what is wrong when health is trouble: an incident's `what` (failures page,
  API) and an alert's `event` (payload, channel filters), which adds `recovered`.
- `ErrorKind` (vendors.base, where vendors name it): why it went wrong, a run's or a poll's;
  `MEANINGS` says what each means for people: whose problem, what to do, the poll problem.

Every value is public (API fields and filters, `pipewatch.alert/1`, metric labels, page
filters): none changes without docs/api.md and docs/alert-payload.md saying so.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import models

from vendors.base import ErrorKind


class HealthStatus(models.TextChoices):
    """Most urgent first: the overview's order and its counters'."""

    FAILING = "failing", "Failing"
    STUCK = "stuck", "Stuck"
    LATE = "late", "Late"
    UNKNOWN = "unknown", "Unknown"
    RUNNING = "running", "Running"
    HEALTHY = "healthy", "Healthy"
    PAUSED = "paused", "Paused"


FAILING, STUCK, LATE, UNKNOWN, RUNNING, HEALTHY, PAUSED = HealthStatus
HEALTHS: tuple[str, ...] = tuple(HealthStatus.values)
# Health that is trouble: it has a `since` and may be an incident (unknown only with a poll error).
TROUBLE = (FAILING, STUCK, LATE, UNKNOWN)


class Condition(models.TextChoices):
    FAILED = "failed", "Failed"
    PARTIAL = "partial", "Partial"  # finished, with failed rows
    STUCK = "stuck", "Stuck"
    LATE = "late", "Late"
    CREDENTIALS = "credentials", "Credentials"  # the vendor refuses the account's credentials
    UNPOLLABLE = "unpollable", "Unpollable"  # we cannot see it for another reason: shown, never alerted


# The health a condition comes from: its colour on the pages.
HEALTH_OF = {
    Condition.FAILED: FAILING,
    Condition.PARTIAL: FAILING,
    Condition.STUCK: STUCK,
    Condition.LATE: LATE,
    Condition.CREDENTIALS: UNKNOWN,
    Condition.UNPOLLABLE: UNKNOWN,
}
# A pipeline's condition by its stored health, where one GROUP BY counts them (partial is failed).
CONDITION_OF = {FAILING: Condition.FAILED, STUCK: Condition.STUCK, LATE: Condition.LATE, UNKNOWN: Condition.UNPOLLABLE}

# Alerts: the conditions people are told of; `recovered` ends them; `ok` is what the
# pipeline remembers (`alerted_condition`) after telling people it is fine.
ALERTED = (Condition.FAILED, Condition.PARTIAL, Condition.STUCK, Condition.LATE, Condition.CREDENTIALS)
RECOVERED = "recovered"
OK = "ok"
EVENTS: tuple[str, ...] = (*(c.value for c in ALERTED), RECOVERED)
EVENT_CHOICES = [*((c.value, c.label) for c in ALERTED), (RECOVERED, "Recovered")]
ALERTED_CHOICES = [(OK, "OK"), *((c.value, c.label) for c in ALERTED)]
# An event's severity, which is also apprise's notification type (colour, icon, priority).
SEVERITY = {
    Condition.FAILED: "failure",
    Condition.PARTIAL: "failure",
    Condition.CREDENTIALS: "failure",
    Condition.STUCK: "warning",
    Condition.LATE: "warning",
    RECOVERED: "success",
}


@dataclass(frozen=True)
class Meaning:
    whose: str  # whose problem it is, for the failures page and the API's `whose`
    hint: str = ""  # what to do about it
    problem: str = "Cannot poll"  # an account poll error of this kind, as health and pages say it


# What an error kind means for people. A stuck or late incident's kind is its condition.
MEANINGS: dict[str, Meaning] = {
    ErrorKind.AUTH: Meaning(
        "ours: credentials",
        "Check the account's credentials and the service account's role (Admin or Owner for Mixpanel).",
        "Credentials rejected",
    ),
    ErrorKind.CONFIG: Meaning(
        "ours: configuration", "Fix the pipeline's settings at the vendor (compression, format, bucket, prefix)."
    ),
    ErrorKind.QUERY: Meaning("ours: the query", "Check the SQL or query the vendor runs against your warehouse."),
    ErrorKind.RATE_LIMITED: Meaning(
        "ours: request volume",
        "Too many requests: we back off and obey Retry-After; lower the poll rate if it persists.",
        "Rate limited repeatedly",
    ),
    ErrorKind.TIMEOUT: Meaning(
        "theirs: timed out",
        "The vendor timed out; it usually retries by itself. Check again after the next window.",
    ),
    ErrorKind.VENDOR: Meaning(
        "theirs: vendor error",
        "A vendor-side error; usually retried by the vendor. Contact their support if it repeats.",
    ),
    ErrorKind.TRANSIENT: Meaning(
        "theirs: vendor unreachable",
        "The vendor is unreachable or failing (5xx). We retry with backoff.",
        "Vendor unreachable",
    ),
    ErrorKind.BAD_RESPONSE: Meaning(
        "theirs: unreadable reply",
        "The vendor replied with something we cannot read; it may be an outage page.",
        "Vendor sent an unreadable reply",
    ),
    ErrorKind.NOT_FOUND: Meaning(
        "ours: unknown id", "The vendor does not know this id: it was deleted, expired, or the id is wrong."
    ),
    ErrorKind.REJECTED: Meaning("ours: the request", problem="Vendor refused the request"),
    ErrorKind.INTERNAL: Meaning("ours: Pipewatch itself", problem="Our poller failed"),
    ErrorKind.DEADLINE: Meaning("ours: the poll ran out of time", "The rest is polled next time; nothing to do."),
    ErrorKind.EMPTY: Meaning(
        "theirs or the source's: no data",
        "The day loaded no rows: check that the source had data for it (empty days count as failures here).",
    ),
    Condition.STUCK: Meaning(
        "unknown", "Running without progress: check the vendor's console; cancel and restart if it is wedged."
    ),
    Condition.LATE: Meaning("unknown", "No success within the expected interval: check the schedule at the vendor."),
}
UNKNOWN_MEANING = Meaning("unknown")


def meaning(kind: str) -> Meaning:
    return MEANINGS.get(kind, UNKNOWN_MEANING)
