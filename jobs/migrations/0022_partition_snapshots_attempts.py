"""Snapshots and poll attempts partitioned by time on PostgreSQL (ADR 17).

Each table is rebuilt as a partitioned one and its rows copied over, ids kept; SQLite keeps
plain tables. Snapshots: LIST by `kept` (thinned survivors apart), the new ones by RANGE of
UTC days of `observed_at`; poll attempts by RANGE of days of `at`. Day partitions are made
from the retention window's start to PARTITION_DAYS_AHEAD ahead, one partition holds any
older rows (the next housekeeping thins or drops it), and a DEFAULT partition takes a row
whose day has none (housekeeping moves it into its day: `jobs.partitions.ensure`).

The SQL is written out here, not taken from `jobs.partitions`: a migration stays as it ran."""

from datetime import UTC, datetime, time, timedelta

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

# (table, time column, list tier or None, the table holding day ranges, retention setting)
TABLES = (
    ("jobs_snapshot", "observed_at", "kept", "jobs_snapshot_recent", "SNAPSHOT_RETENTION_DAYS"),
    ("jobs_pollattempt", "at", None, "jobs_pollattempt", "POLL_ATTEMPT_RETENTION_DAYS"),
)


def _day(value: datetime) -> datetime:
    return datetime.combine(value.astimezone(UTC).date(), time.min, UTC)


def _literal(value: datetime) -> str:
    return f"'{value.isoformat()}'"  # our own datetimes, never input


def _definitions(cur, table: str) -> tuple[list[str], list[str]]:
    """The table's foreign keys and secondary indexes, as SQL to make them again."""
    cur.execute(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s::regclass AND contype = 'f'",
        [table],
    )
    fks = [f'ADD CONSTRAINT "{name}" {definition}' for name, definition in cur.fetchall()]
    cur.execute(
        "SELECT indexdef FROM pg_indexes WHERE tablename = %s AND indexname NOT IN"
        " (SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass AND contype = 'p')",
        [table, table],
    )
    return fks, [row[0] for row in cur.fetchall()]


def partition(apps, schema_editor) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    ahead = getattr(settings, "PARTITION_DAYS_AHEAD", 7)
    today = _day(datetime.now(UTC))
    with schema_editor.connection.cursor() as cur:
        for table, column, tier, ranges, retention in TABLES:
            old = f"{table}_unpartitioned"
            fks, indexes = _definitions(cur, table)
            cur.execute(f"ALTER TABLE {table} RENAME TO {old}")
            key = f"LIST ({tier})" if tier else f"RANGE ({column})"
            cur.execute(
                f"CREATE TABLE {table} (LIKE {old} INCLUDING DEFAULTS INCLUDING CONSTRAINTS) PARTITION BY {key}"
            )
            if tier:
                cur.execute(f"CREATE TABLE {table}_{tier} PARTITION OF {table} FOR VALUES IN (true)")
                cur.execute(
                    f"CREATE TABLE {ranges} PARTITION OF {table} FOR VALUES IN (false) PARTITION BY RANGE ({column})"
                )
            cur.execute(f"CREATE TABLE {table}_default PARTITION OF {ranges} DEFAULT")
            first = today - timedelta(days=getattr(settings, retention) + 1)
            day = first
            while day <= today + timedelta(days=ahead):
                cur.execute(
                    f"CREATE TABLE {table}_p{day:%Y%m%d} PARTITION OF {ranges}"
                    f" FOR VALUES FROM ({_literal(day)}) TO ({_literal(day + timedelta(days=1))})"
                )
                day += timedelta(days=1)
            cur.execute(f"SELECT min({column}) FROM {old}")
            oldest = cur.fetchone()[0]
            if oldest is not None and oldest < first:
                cur.execute(
                    f"CREATE TABLE {table}_p{_day(oldest):%Y%m%d} PARTITION OF {ranges}"
                    f" FOR VALUES FROM ({_literal(_day(oldest))}) TO ({_literal(first)})"
                )
            cur.execute(f"INSERT INTO {table} SELECT * FROM {old}")
            cur.execute(f"SELECT coalesce(max(id), 0) FROM {old}")
            last_id = cur.fetchone()[0]
            cur.execute(f"DROP TABLE {old}")  # its identity sequence with it: identity needs PostgreSQL 17 here
            cur.execute(f"CREATE SEQUENCE {table}_id_seq AS bigint OWNED BY {table}.id")
            cur.execute(f"SELECT setval('{table}_id_seq', %s, %s)", [max(last_id, 1), last_id > 0])
            cur.execute(f"ALTER TABLE {table} ALTER COLUMN id SET DEFAULT nextval('{table}_id_seq')")
            # The partition key is in every unique constraint (PostgreSQL's rule); id stays unique by its sequence.
            primary = ", ".join(["id", column, *([tier] if tier else [])])
            cur.execute(f"ALTER TABLE {table} ADD CONSTRAINT {table}_pkey PRIMARY KEY ({primary})")
            for definition in indexes:  # captured before the rename: they name the new table
                cur.execute(definition)
            for fk in fks:
                cur.execute(f"ALTER TABLE {table} {fk}")


def unpartition(apps, schema_editor) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cur:
        for table, _column, _tier, _ranges, _retention in TABLES:
            old = f"{table}_partitioned"
            fks, indexes = _definitions(cur, table)
            cur.execute(f"ALTER TABLE {table} RENAME TO {old}")
            cur.execute(f"CREATE TABLE {table} (LIKE {old} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)")
            cur.execute(f"ALTER TABLE {table} ALTER COLUMN id DROP DEFAULT")
            cur.execute(f"INSERT INTO {table} SELECT * FROM {old}")
            cur.execute(f"DROP TABLE {old}")  # its partitions and sequence with it
            cur.execute(f"ALTER TABLE {table} ALTER COLUMN id ADD GENERATED BY DEFAULT AS IDENTITY")
            cur.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), coalesce(max(id), 1), max(id) IS NOT NULL)"
                f" FROM {table}"
            )
            cur.execute(f"ALTER TABLE {table} ADD CONSTRAINT {table}_pkey PRIMARY KEY (id)")
            for definition in indexes:
                cur.execute(definition.replace(" ON ONLY ", " ON "))
            for fk in fks:
                cur.execute(f"ALTER TABLE {table} {fk}")


class Migration(migrations.Migration):
    dependencies = [
        ("jobs", "0021_one_vocabulary"),
    ]

    operations = [
        migrations.AddField(
            model_name="snapshot",
            name="kept",
            field=models.BooleanField(db_default=False, default=False, editable=False),
        ),
        migrations.AlterField(
            model_name="pollattempt",
            name="account",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="poll_attempts",
                to="jobs.account",
            ),
        ),
        migrations.AlterField(
            model_name="snapshot",
            name="run",
            field=models.ForeignKey(
                db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name="snapshots", to="jobs.run"
            ),
        ),
        migrations.RunPython(partition, unpartition, elidable=False),
    ]
