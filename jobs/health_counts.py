"""Pipelines counted by (health_status, paused, erring), kept right by the database (ADR 17).

Triggers on jobs_pipeline append to `HealthCount`, in the same transaction as the pipeline
rows, whoever writes them (the ORM, a queryset `.update()`, the admin, SQL): a row (key, +n)
for pipelines that arrive in a key, (key, -n) for those that leave it. A count is the sum of
its key's rows, so a reader sees counts and rows of the same snapshot: the overview's
counters and the failures page's totals are exact without reading every pipeline.
Appending, never updating, keeps writers apart: no two transactions wait on one counter row,
and a transaction that moves a million pipelines appends rows instead of rewriting one row a
million times (each such rewrite walks every earlier version the transaction made).

PostgreSQL: a statement trigger each for INSERT and DELETE (a bulk insert appends one row per
key), a row trigger for UPDATE that runs only when one of the three columns changed (a
poll's usual UPDATE costs a comparison), TRUNCATE empties them. SQLite: row triggers.
`compact` folds the rows into one per key (beat's tick, through send_alerts), so readers sum
a few dozen rows. `install` (re)creates the triggers and recounts under a lock that keeps
writers out meanwhile; it runs from the migration and after every `migrate` (post_migrate):
on SQLite, Django rebuilds a table to alter it, and the rebuilt table would have lost them."""

from __future__ import annotations

from collections import defaultdict

from django.db import connection, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Sum

from .models import HEALTHS, HealthCount, Pipeline

PIPELINES, COUNTS = Pipeline._meta.db_table, HealthCount._meta.db_table
COMPACT_ABOVE = 64  # rows; there are at most 7 healths x paused x erring = 28 keys
_COLUMNS = f"{COUNTS} (health_status, paused, erring, n)"

_POSTGRES = [
    f"""
CREATE OR REPLACE FUNCTION {COUNTS}_added() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO {_COLUMNS}
    SELECT health_status, paused, poll_error_kind <> '', count(*) FROM added GROUP BY 1, 2, 3;
    RETURN NULL;
END $$""",
    f"""
CREATE OR REPLACE FUNCTION {COUNTS}_removed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO {_COLUMNS}
    SELECT health_status, paused, poll_error_kind <> '', -count(*) FROM removed GROUP BY 1, 2, 3;
    RETURN NULL;
END $$""",
    f"""
CREATE OR REPLACE FUNCTION {COUNTS}_moved() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO {_COLUMNS} VALUES (OLD.health_status, OLD.paused, OLD.poll_error_kind <> '', -1),
        (NEW.health_status, NEW.paused, NEW.poll_error_kind <> '', 1);
    RETURN NULL;
END $$""",
    f"""
CREATE OR REPLACE FUNCTION {COUNTS}_emptied() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM {COUNTS};
    RETURN NULL;
END $$""",
    f"""CREATE OR REPLACE TRIGGER {COUNTS}_added AFTER INSERT ON {PIPELINES}
    REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION {COUNTS}_added()""",
    f"""CREATE OR REPLACE TRIGGER {COUNTS}_removed AFTER DELETE ON {PIPELINES}
    REFERENCING OLD TABLE AS removed FOR EACH STATEMENT EXECUTE FUNCTION {COUNTS}_removed()""",
    f"""CREATE OR REPLACE TRIGGER {COUNTS}_moved AFTER UPDATE OF health_status, paused, poll_error_kind ON {PIPELINES}
    FOR EACH ROW WHEN (OLD.health_status IS DISTINCT FROM NEW.health_status OR OLD.paused IS DISTINCT FROM NEW.paused
        OR (OLD.poll_error_kind <> '') IS DISTINCT FROM (NEW.poll_error_kind <> ''))
    EXECUTE FUNCTION {COUNTS}_moved()""",
    f"""CREATE OR REPLACE TRIGGER {COUNTS}_emptied AFTER TRUNCATE ON {PIPELINES}
    FOR EACH STATEMENT EXECUTE FUNCTION {COUNTS}_emptied()""",
]


def _sqlite_row(row: str, sign: str) -> str:
    return f"INSERT INTO {_COLUMNS} VALUES ({row}.health_status, {row}.paused, {row}.poll_error_kind <> '', {sign}1);"


_SQLITE = [
    f"CREATE TRIGGER {COUNTS}_added AFTER INSERT ON {PIPELINES} BEGIN {_sqlite_row('NEW', '')} END",
    f"CREATE TRIGGER {COUNTS}_removed AFTER DELETE ON {PIPELINES} BEGIN {_sqlite_row('OLD', '-')} END",
    f"""CREATE TRIGGER {COUNTS}_moved AFTER UPDATE OF health_status, paused, poll_error_kind ON {PIPELINES}
    WHEN OLD.health_status IS NOT NEW.health_status OR OLD.paused IS NOT NEW.paused
        OR (OLD.poll_error_kind <> '') IS NOT (NEW.poll_error_kind <> '')
    BEGIN {_sqlite_row("OLD", "-")} {_sqlite_row("NEW", "")} END""",
]
_TRIGGERS = ("added", "removed", "moved", "emptied")


def install(conn: BaseDatabaseWrapper = connection) -> None:
    """Triggers as this code defines them, and counts recounted from the rows."""
    if COUNTS not in conn.introspection.table_names():
        return  # migrated back before the counts existed
    with transaction.atomic(using=conn.alias), conn.cursor() as cur:
        if conn.vendor == "postgresql":
            # Writers wait from here to the commit: no change slips between recount and triggers.
            cur.execute(f"LOCK TABLE {PIPELINES} IN SHARE ROW EXCLUSIVE MODE")
            for sql in _POSTGRES:
                cur.execute(sql)
        else:
            for name in _TRIGGERS:
                cur.execute(f"DROP TRIGGER IF EXISTS {COUNTS}_{name}")
            for sql in _SQLITE:
                cur.execute(sql)
        cur.execute(f"DELETE FROM {COUNTS}")
        cur.execute(
            f"INSERT INTO {_COLUMNS} SELECT health_status, paused, poll_error_kind <> '', count(*)"
            f" FROM {PIPELINES} GROUP BY 1, 2, 3"
        )


def uninstall(conn: BaseDatabaseWrapper = connection) -> None:
    with conn.cursor() as cur:
        for name in _TRIGGERS:
            if conn.vendor == "postgresql":
                cur.execute(f"DROP TRIGGER IF EXISTS {COUNTS}_{name} ON {PIPELINES}")
                cur.execute(f"DROP FUNCTION IF EXISTS {COUNTS}_{name}()")
            else:
                cur.execute(f"DROP TRIGGER IF EXISTS {COUNTS}_{name}")


def installed(sender: object, using: str = "default", **kwargs: object) -> None:
    """post_migrate: triggers back after any migration (see the module's note)."""
    from django.db import connections

    install(connections[using])


def compact(above: int = COMPACT_ABOVE) -> int:
    """Fold the appended rows into one per key, once there are more than `above`: exactly
    the rows this transaction deleted are summed back, so rows appended meanwhile by other
    transactions stay as they are and no change is lost or counted twice. Rows folded."""
    if HealthCount.objects.count() <= above:
        return 0
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute(f"DELETE FROM {COUNTS} RETURNING health_status, paused, erring, n")
        gone = cur.fetchall()
        sums: dict[tuple[str, bool, bool], int] = defaultdict(int)
        for health, paused, erring, n in gone:
            sums[(health, bool(paused), bool(erring))] += n
        HealthCount.objects.bulk_create(
            HealthCount(health_status=h, paused=p, erring=e, n=n) for (h, p, e), n in sums.items() if n
        )
    return len(gone)


def counts() -> dict[tuple[str, bool, bool], int]:
    """(health_status, paused, erring) -> pipelines: the sum of each key's rows, one query."""
    out: dict[tuple[str, bool, bool], int] = defaultdict(int)
    rows = HealthCount.objects.values_list("health_status", "paused", "erring").annotate(total=Sum("n"))
    for health, paused, erring, n in rows.order_by():
        out[(health, bool(paused), bool(erring))] += n
    return out


def by_health(found: dict[tuple[str, bool, bool], int] | None = None) -> dict[str, int]:
    """Every pipeline counted by its stored health, most urgent first."""
    counters = dict.fromkeys(HEALTHS, 0)
    for (health, _paused, _erring), n in (counts() if found is None else found).items():
        counters[health] = counters.get(health, 0) + n
    return counters
