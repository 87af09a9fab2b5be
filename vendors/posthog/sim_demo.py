"""The PostHog demo world: exports and warehouse tables that succeed, fail, get retried,
pause themselves and run while you watch, with ten days of history (three beyond the
default seven-day run listing)."""

from __future__ import annotations

from datetime import datetime, timedelta

from .sim_exports import Plan, Script, SimExport, always
from .sim_tables import SimSchema, SimSource
from .sim_world import SimProject

HISTORY = timedelta(days=10)


def _hour_index(start: datetime) -> int:
    return int(start.timestamp() // 3600)


def s3_hourly(start: datetime, attempt: int = 0) -> Plan:
    """Hourly events to S3: one interval in 31 fails for a day's worth of credentials."""
    if _hour_index(start) % 31 == 7 and not attempt:  # a retry lands
        return Plan("Failed", 40, 0, "S3: An error occurred (AccessDenied) when calling the PutObject operation")
    return Plan("Completed", 45, 20_000 + _hour_index(start) % 977)


def bigquery_daily(start: datetime, attempt: int = 0) -> Plan:
    if start.day % 4 == 0 and not attempt:
        return Plan(
            "FailedRetryable",
            120,
            0,
            "BigQuery: 403 Quota exceeded: Your table exceeded quota for imports or query appends",
        )
    return Plan("Completed", 300, 1_250_000, records_failed=17 if start.day % 5 == 0 else 0)


def snowflake_broken(start: datetime, attempt: int = 0) -> Plan:
    """Every interval fails after a password rotation: PostHog pauses the export by itself."""
    return Plan("Failed", 20, 0, "Snowflake: 250001 (08001): Incorrect username or password was specified.")


def postgres_live(start: datetime, attempt: int = 0) -> Plan:
    if start.minute == 45 and _hour_index(start) % 3 == 0:
        return Plan("Completed", 200, 0)  # an empty interval: nothing happened upstream
    return Plan("Completed", 400, 3_000 + start.minute * 11)


def stripe_charges(start: datetime, attempt: int = 0) -> Plan:
    return Plan("Completed", 240, 1_800 + start.minute)


def stripe_customers(limit_from: datetime) -> Script:
    """The project hit its rows-synced billing limit a day and a half ago."""

    def plan(start: datetime, attempt: int = 0) -> Plan:
        if start >= limit_from:
            return Plan(
                "BillingLimitReached", 5, 0, "Your account has reached its data warehouse rows synced billing limit"
            )
        return Plan("Completed", 90, 420)

    return plan


def hubspot_contacts(start: datetime, attempt: int = 0) -> Plan:
    return Plan("Failed", 30, 0, "HubSpot: 401 Unauthorized: the private app token has been revoked")


def demo_project(project_id: int, origin: datetime) -> SimProject:
    born = origin - HISTORY
    project = SimProject(project_id)
    exports = [
        SimExport(
            "Events to S3",
            "hour",
            {"type": "S3", "config": {"bucket_name": "acme-events", "region": "eu-west-1", "prefix": "posthog/"}},
            born,
            s3_hourly,
        ),
        SimExport(
            "Persons to BigQuery",
            "day",
            {"type": "BigQuery", "config": {"project_id": "acme-analytics", "dataset_id": "posthog"}},
            born,
            bigquery_daily,
            model="persons",
        ),
        SimExport(
            "Events to Snowflake",
            "hour",
            {"type": "Snowflake", "config": {"account": "acme-xy12345", "database": "RAW", "user": "POSTHOG"}},
            origin - timedelta(hours=14),
            snowflake_broken,
        ),
        SimExport(
            "Sessions to Postgres",
            "every 15 minutes",
            {"type": "Postgres", "config": {"host": "db.acme.internal", "database": "analytics"}},
            born,
            postgres_live,
            model="sessions",
        ),
    ]
    for export in exports:
        export.advance(origin)
        project.exports[export.id] = export
    s3 = exports[0]
    failed = [r for r in s3.runs if r.plan.outcome == "Failed"]
    if failed:  # the newest failed hour was retried and landed; the others are still missing
        s3.backfill(failed[-1].interval_start, failed[-1].interval_end, failed[-1].done_at() + timedelta(minutes=5))
    stripe = SimSource("Stripe", born, prefix="stripe_")
    stripe.schemas = [
        SimSchema("charges", stripe.id, "1hour", born, stripe_charges),
        SimSchema(
            "customers",
            stripe.id,
            "6hour",
            born,
            stripe_customers(origin - timedelta(hours=36)),
            sync_type="full_refresh",
        ),
        SimSchema("invoices", stripe.id, "24hour", born, always(Plan(seconds=60, records=90)), should_sync=False),
    ]
    hubspot = SimSource("Hubspot", origin - timedelta(days=2))
    hubspot.schemas = [SimSchema("contacts", hubspot.id, "6hour", origin - timedelta(days=2), hubspot_contacts)]
    for source in (stripe, hubspot):
        project.sources[source.id] = source
    project.advance(origin)
    return project
