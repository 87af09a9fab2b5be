"""Day partitions of snapshots and poll attempts on PostgreSQL (ADR 17).

Made ahead of time (`ensure`, hourly from beat and before each housekeeping), so a write
finds its day's partition; one whose day has none lands in the table's DEFAULT partition
and never fails, and `ensure` moves it into its day's partition. Retention drops whole
days (`drop`). On SQLite (or any table not partitioned) every function here says so and
does nothing: `jobs.retention` then deletes rows, as it always did.

DDL waits at most PARTITION_LOCK_TIMEOUT_MS for its lock: a partition that cannot be made or
dropped now (a long query holds the table) is left for the next run, never queued in front
of polls."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from django.conf import settings
from django.db import OperationalError, connection, transaction
from django.utils import timezone

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Spec:
    table: str  # the table Django reads and writes
    column: str  # the time it is partitioned by
    ranges: str  # the table whose partitions are days: `table` itself, or its tier of new rows
    default: str  # where a row lands when its day has no partition


SNAPSHOTS = Spec("jobs_snapshot", "observed_at", "jobs_snapshot_recent", "jobs_snapshot_default")
POLL_ATTEMPTS = Spec("jobs_pollattempt", "at", "jobs_pollattempt", "jobs_pollattempt_default")
SPECS = (SNAPSHOTS, POLL_ATTEMPTS)


@dataclass(frozen=True)
class Partition:
    name: str
    start: datetime
    end: datetime
    note: str = ""  # the table's comment: what housekeeping has done to it


_BOUNDS = re.compile(r"FROM \('([^']+)'\) TO \('([^']+)'\)")


def partitioned(spec: Spec) -> bool:
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cur:
        cur.execute("SELECT relkind FROM pg_class WHERE oid = to_regclass(%s)", [spec.ranges])
        row = cur.fetchone()
    return bool(row and row[0] == "p")


def partitions(spec: Spec) -> list[Partition]:
    """The day (range) partitions, oldest first; the DEFAULT partition is not one of them."""
    with connection.cursor() as cur:
        cur.execute(
            "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid), coalesce(obj_description(c.oid, 'pg_class'), '')"
            " FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = %s::regclass",
            [spec.ranges],
        )
        rows = cur.fetchall()
    found = []
    for name, bound, note in rows:
        if match := _BOUNDS.search(bound):
            start, end = (datetime.fromisoformat(v) for v in match.groups())
            found.append(Partition(name, start, end, note))
    return sorted(found, key=lambda p: p.start)


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, UTC)


def _lock_timeout(cur: object) -> None:
    cur.execute("SELECT set_config('lock_timeout', %s, true)", [f"{settings.PARTITION_LOCK_TIMEOUT_MS}ms"])


def create(spec: Spec, day: date) -> int | None:
    """The partition of one UTC day, with whatever of that day sat in the DEFAULT partition
    (the number of such rows); None when its lock could not be had (left for the next run).

    Made as a table of its own and then attached: ATTACH PARTITION takes a lighter lock on
    the parent than CREATE TABLE ... PARTITION OF, so polls keep writing meanwhile."""
    start, end = _day_start(day), _day_start(day + timedelta(days=1))
    name = f"{spec.table}_p{day:%Y%m%d}"
    bounds = f"FROM ('{start.isoformat()}') TO ('{end.isoformat()}')"  # our own datetimes, never input
    try:
        with transaction.atomic(), connection.cursor() as cur:
            _lock_timeout(cur)
            cur.execute(f"CREATE TABLE {name} (LIKE {spec.ranges} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)")
            cur.execute(
                f"WITH moved AS (DELETE FROM {spec.default} WHERE {spec.column} >= %s AND {spec.column} < %s"
                f" RETURNING *) INSERT INTO {name} SELECT * FROM moved",
                [start, end],
            )
            moved = cur.rowcount
            cur.execute(f"ALTER TABLE {spec.ranges} ATTACH PARTITION {name} FOR VALUES {bounds}")
    except OperationalError as exc:
        log.warning("partition %s not made now (%s); the next run tries again", name, exc)
        return None
    if moved:
        log.warning("%s: %d row(s) of %s had no partition; moved from %s", spec.table, moved, day, spec.default)
    return moved


def ensure(now: datetime | None = None, ahead: int | None = None, since: date | None = None) -> dict[str, int]:
    """Every table's partitions from today (or `since`) to `ahead` days on, and one for each
    day found in its DEFAULT partition. Returns partitions made per table (nothing on SQLite)."""
    today = (now or timezone.now()).astimezone(UTC).date()
    ahead = settings.PARTITION_DAYS_AHEAD if ahead is None else ahead
    first = min(since or today, today)
    made: dict[str, int] = {}
    for spec in SPECS:
        if not partitioned(spec):
            continue
        covered = partitions(spec)
        days = (today - first).days + ahead + 1
        wanted = {first + timedelta(days=n) for n in range(days)} | stray_days(spec)
        made[spec.table] = 0
        for day in sorted(wanted):
            start = _day_start(day)
            if any(p.start <= start < p.end for p in covered):
                continue
            if create(spec, day) is not None:
                made[spec.table] += 1
    return made


def stray_days(spec: Spec) -> set[date]:
    """The UTC days of the rows in the DEFAULT partition (normally none)."""
    with connection.cursor() as cur:
        cur.execute(f"SELECT DISTINCT ({spec.column} AT TIME ZONE 'UTC')::date FROM {spec.default}")
        return {row[0] for row in cur.fetchall()}


def rows_in(name: str) -> int:
    with connection.cursor() as cur:
        cur.execute(f"SELECT count(*) FROM {name}")
        return cur.fetchone()[0]


def drop(partition: Partition, before: str = "", params: dict | None = None) -> tuple[int, int] | None:
    """Drop one partition, after `before` (SQL run in the same transaction: keeping some of
    its rows elsewhere). Its rows and the rows `before` wrote; None when the lock could not
    be had (nothing changed, the next run tries again)."""
    try:
        with transaction.atomic(), connection.cursor() as cur:
            _lock_timeout(cur)
            rows, written = rows_in(partition.name), 0
            if before:
                cur.execute(before, params or {})
                written = cur.rowcount
            # Deferred foreign-key checks of rows written earlier in an enclosing transaction
            # (the tests') must run before their table goes; none are pending in housekeeping.
            cur.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cur.execute(f"DROP TABLE {partition.name}")
            cur.execute("SET CONSTRAINTS ALL DEFERRED")
    except OperationalError as exc:
        log.warning("partition %s not dropped now (%s); the next run tries again", partition.name, exc)
        return None
    return rows, written


def expired(spec: Spec, cutoff: datetime) -> list[Partition]:
    """The partitions wholly older than `cutoff`: a day goes once all of it has aged out."""
    return [p for p in partitions(spec) if p.end <= cutoff]


def note(partition: Partition, text: str) -> None:
    with connection.cursor() as cur:
        cur.execute(f"COMMENT ON TABLE {partition.name} IS %s", [text])
