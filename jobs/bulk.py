"""Writing many rows of one model at once, cheaply.

Django's `bulk_update` builds one `CASE WHEN id = ... THEN ...` expression per field and
row through the ORM's expression machinery, and `bulk_create` compiles its INSERT through
the same machinery: for the handful of rows of one account poll that cost more CPU than
the poll's HTTP (bench/README.md). These send plain parameterised SQL; values go through
each field's own `get_db_prep_save`, as `save()` does.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import connection, models

# Rows per INSERT: a first poll of a large account creates thousands.
BATCH = 1000


def update_fields(objs: Sequence[models.Model], names: Sequence[str]) -> None:
    """`UPDATE ... SET <names> WHERE pk = ...` for every object, in one executemany, which
    psycopg 3 pipelines into one round trip."""
    if not objs:
        return
    meta = objs[0]._meta
    fields = [meta.get_field(name) for name in names]
    qn = connection.ops.quote_name
    assignments = ", ".join(f"{qn(f.column)} = %s" for f in fields)
    sql = f"UPDATE {qn(meta.db_table)} SET {assignments} WHERE {qn(meta.pk.column)} = %s"
    rows = [[f.get_db_prep_save(getattr(obj, f.attname), connection) for f in fields] + [obj.pk] for obj in objs]
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)


def insert(objs: Sequence[models.Model], names: Sequence[str], batch: int = BATCH) -> None:
    """`INSERT ... VALUES (...), (...)` of these columns for every object, `batch` rows a
    statement (the other columns get their database defaults). Primary keys are not read
    back: for rows nothing refers to in the same transaction (snapshots, state changes)."""
    if not objs:
        return
    meta = objs[0]._meta
    fields = [meta.get_field(name) for name in names]
    qn = connection.ops.quote_name
    head = f"INSERT INTO {qn(meta.db_table)} ({', '.join(qn(f.column) for f in fields)}) VALUES "
    row = "(" + ", ".join(["%s"] * len(fields)) + ")"
    with connection.cursor() as cursor:
        for start in range(0, len(objs), batch):
            chunk = objs[start : start + batch]
            params: list[object] = []
            for obj in chunk:
                obj._prepare_related_fields_for_save(operation_name="insert")  # a run inserted just before
                params += [f.get_db_prep_save(getattr(obj, f.attname), connection) for f in fields]
            cursor.execute(head + ", ".join([row] * len(chunk)), params)


def set_field(objs: Sequence[models.Model], name: str, value: object) -> None:
    """`UPDATE ... SET <name> = value WHERE pk IN (...)`: one statement for every object,
    which is given the value too."""
    if not objs:
        return
    meta = objs[0]._meta
    f = meta.get_field(name)
    qn = connection.ops.quote_name
    marks = ", ".join(["%s"] * len(objs))
    sql = f"UPDATE {qn(meta.db_table)} SET {qn(f.column)} = %s WHERE {qn(meta.pk.column)} IN ({marks})"
    with connection.cursor() as cursor:
        cursor.execute(sql, [f.get_db_prep_save(value, connection), *(obj.pk for obj in objs)])
    for obj in objs:
        setattr(obj, f.attname, value)
