"""Saving the same fields of many rows at once, cheaply.

Django's `bulk_update` builds one `CASE WHEN id = ... THEN ...` expression per field and
row through the ORM's expression machinery: for the handful of pipelines of one account
poll that cost more CPU than the poll's HTTP (bench/README.md). `update_fields` sends one
plain parameterised UPDATE per row through `executemany`, which psycopg 3 pipelines into
one round trip; values go through each field's own `get_db_prep_save`, as `save()` does.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import connection, models


def update_fields(objs: Sequence[models.Model], names: Sequence[str]) -> None:
    """`UPDATE ... SET <names> WHERE pk = ...` for every object, in one executemany."""
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
