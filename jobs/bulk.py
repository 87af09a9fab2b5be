"""Reading and writing the rows of one account poll, cheaply.

The ORM compiles every query afresh: about 2 ms of CPU for a poll's pipelines with their
current runs, more than the HTTP of two of them (measured, ADR 8). Django's `bulk_update`
builds one `CASE WHEN id = ... THEN ...` expression per field and row, and `bulk_create`
compiles its INSERT through the same machinery. The poll path's hot statements are plain
parameterised SQL instead, on the models' own metadata: values written go through each
field's `get_db_prep_save`, as `save()` does; rows read through Django's converters and
`Model.from_db`, as a queryset does, with the columns left out read on access.
"""

from __future__ import annotations

import datetime
import decimal
import functools
import json
import re
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections, models
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import signals
from django.db.models.base import ModelState
from psycopg.types.json import Jsonb


def _db() -> BaseDatabaseWrapper:
    """This thread's connection itself: `django.db.connection` is a proxy that looks it up
    on every attribute, thousands of times a poll."""
    return connections[DEFAULT_DB_ALIAS]


# Rows per INSERT: a first poll of a large account creates thousands.
BATCH = 1000


def update_fields(objs: Sequence[models.Model], names: Sequence[str]) -> None:
    """`UPDATE ... SET <names>` of every object in one statement: on PostgreSQL
    `UPDATE ... FROM` one JSON document of the rows, elsewhere one executemany of
    `... WHERE pk = ...`."""
    db = _db()
    if not objs:
        return
    meta = objs[0]._meta
    fields = [meta.get_field(name) for name in names]
    qn = db.ops.quote_name
    table, pk = qn(meta.db_table), qn(meta.pk.column)
    rows = [[f.get_db_prep_save(getattr(obj, f.attname), db) for f in fields] + [obj.pk] for obj in objs]
    with db.cursor() as cursor:
        if db.vendor != "postgresql" or len(objs) == 1:
            assignments = ", ".join(f"{qn(f.column)} = %s" for f in fields)
            cursor.executemany(f"UPDATE {table} SET {assignments} WHERE {pk} = %s", rows)
            return
        # All rows as one JSON document: the statement's text and its one parameter are the
        # same whatever the number of rows, so the driver parses it once and escapes one value.
        columns = [f"c{i}" for i in range(len(fields))]
        assignments = ", ".join(f"{qn(f.column)} = v.{c}" for f, c in zip(fields, columns, strict=True))
        cursor.execute(
            f"UPDATE {table} AS t SET {assignments} FROM jsonb_to_recordset(%s::jsonb)"
            f" AS v({_record([*fields, meta.pk], [*columns, 'id'])}) WHERE t.{pk} = v.id",
            [_document([*columns, "id"], rows)],
        )


def _record(fields: Sequence[models.Field], names: Sequence[str]) -> str:
    """`name type, ...`: the columns of a `jsonb_to_recordset`."""
    return ", ".join(f"{name} {_cast(f)}" for f, name in zip(fields, names, strict=True))


def _document(names: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Rows of prepared values as one JSON array of objects."""
    return _dumps([dict(zip(names, row, strict=True)) for row in rows])


def _json_value(value: object) -> object:
    """A prepared value that JSON has no type for: PostgreSQL reads it back from this text."""
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()  # every digit: DjangoJSONEncoder would cut microseconds
    if isinstance(value, Jsonb):
        return value.obj
    if isinstance(value, uuid.UUID | decimal.Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} cannot be written through JSON")


_dumps = functools.partial(json.dumps, default=_json_value, allow_nan=False, ensure_ascii=False)


@functools.cache
def _cast(field: models.Field) -> str:
    """The column's type to cast a value to, without a length: a cast to `varchar(20)` would
    cut a longer text where storing it must fail, as `save()` would."""
    db = _db()
    return re.sub(r"\(\d+\)$", "", field.cast_db_type(db) or "text")


class Moved:
    """Which of some fields moved on each object since `remember`: `save` writes only those,
    objects that moved alike in one statement (`update_fields`), an object never remembered
    in full. The fields must be reassigned, never changed in place (a JSON field: a new dict)."""

    def __init__(self, model: type[models.Model], names: Sequence[str]) -> None:
        self.fields = [model._meta.get_field(name) for name in names]
        self.before: dict[int, tuple[object, ...]] = {}

    def remember(self, objs: Sequence[models.Model]) -> None:
        for obj in objs:
            self.before[id(obj)] = tuple(getattr(obj, f.attname) for f in self.fields)

    def save(self, objs: Sequence[models.Model]) -> None:
        groups: dict[tuple[str, ...], list[models.Model]] = {}
        everything = tuple(f.name for f in self.fields)
        for obj in objs:
            before = self.before.get(id(obj))
            if before is None:
                names = everything
            else:
                names = tuple(
                    f.name for f, old in zip(self.fields, before, strict=True) if getattr(obj, f.attname) != old
                )
            if names:
                groups.setdefault(names, []).append(obj)
        for names, group in groups.items():
            update_fields(group, names)


def insert(objs: Sequence[models.Model], names: Sequence[str], batch: int = BATCH) -> None:
    """`INSERT` of these columns for every object, `batch` rows a statement (the other
    columns get their database defaults): on PostgreSQL `INSERT ... SELECT` from one JSON
    document of the rows, elsewhere `VALUES (...), (...)`. Primary keys are not
    read back: for rows nothing refers to in the same transaction (snapshots, state changes)."""
    db = _db()
    if not objs:
        return
    meta = objs[0]._meta
    fields = [meta.get_field(name) for name in names]
    qn = db.ops.quote_name
    head = f"INSERT INTO {qn(meta.db_table)} ({', '.join(qn(f.column) for f in fields)}) "
    arrays = db.vendor == "postgresql"
    row = "(" + ", ".join(["%s"] * len(fields)) + ")"
    with db.cursor() as cursor:
        for start in range(0, len(objs), batch):
            chunk = objs[start : start + batch]
            rows = []
            for obj in chunk:
                obj._prepare_related_fields_for_save(operation_name="insert")  # a run inserted just before
                rows.append([f.get_db_prep_save(getattr(obj, f.attname), db) for f in fields])
            if arrays:
                names = [f"c{i}" for i in range(len(fields))]
                cursor.execute(
                    f"{head}SELECT * FROM jsonb_to_recordset(%s::jsonb) AS v({_record(fields, names)})",
                    [_document(names, rows)],
                )
            else:
                cursor.execute(f"{head}VALUES " + ", ".join([row] * len(chunk)), [v for r in rows for v in r])


def set_field(objs: Sequence[models.Model], name: str, value: object) -> None:
    """`UPDATE ... SET <name> = value WHERE pk IN (...)`: one statement for every object,
    which is given the value too."""
    db = _db()
    if not objs:
        return
    meta = objs[0]._meta
    f = meta.get_field(name)
    qn = db.ops.quote_name
    among, pks = one_of(qn(meta.pk.column), [obj.pk for obj in objs])
    sql = f"UPDATE {qn(meta.db_table)} SET {qn(f.column)} = %s WHERE {among}"
    with db.cursor() as cursor:
        cursor.execute(sql, [f.get_db_prep_save(value, db), *pks])
    for obj in objs:
        setattr(obj, f.attname, value)


class Columns:
    """A model's columns but `skip` (deferred: read on access if ever needed), to select
    in plain SQL and turn rows back into instances. `Columns.of` keeps one per shape."""

    def __init__(self, model: type[models.Model], skip: tuple[str, ...] = ()) -> None:
        self.model = model
        self.fields = [f for f in model._meta.concrete_fields if f.name not in skip and f.attname not in skip]
        self.names = frozenset(f.attname for f in self.fields)
        self.pk_index = self.fields.index(model._meta.pk)
        self.attnames = tuple(f.attname for f in self.fields)
        # Instances are made directly unless something hooks their creation.
        self.plain = (
            model.from_db.__func__ is models.Model.from_db.__func__
            and model.__init__ is models.Model.__init__
            and not model._meta.private_fields
            and not (signals.pre_init.has_listeners(model) or signals.post_init.has_listeners(model))
        )
        self._converters: dict[str, list[tuple[int, list[Callable[..., Any]], Any]]] = {}

    @classmethod
    @functools.cache
    def of(cls, model: type[models.Model], skip: tuple[str, ...] = ()) -> Columns:
        return cls(model, skip)

    def __len__(self) -> int:
        return len(self.fields)

    def sql(self, alias: str = "") -> str:
        """`alias.col, ...` for a SELECT list (`col, ...` without an alias)."""
        db = _db()
        qn = db.ops.quote_name
        return ", ".join(f"{alias}.{qn(f.column)}" if alias else qn(f.column) for f in self.fields)

    def instance(self, values: Sequence[Any], db: BaseDatabaseWrapper | None = None) -> models.Model | None:
        """The instance of one row's values for these columns (None for a LEFT JOIN's missing row)."""
        if values[self.pk_index] is None:
            return None
        db = db or _db()
        values = list(values)
        for i, converters, col in self.converters(db):
            for convert in converters:
                values[i] = convert(values[i], col, db)
        if not self.plain:
            return self.model.from_db(db.alias, self.names, values)
        # What `from_db` leaves behind, without `__init__`'s per-field work: a poll reads
        # thousands of rows. Columns left out stay deferred (read on access), as there.
        obj = self.model.__new__(self.model)
        obj.__dict__.update(zip(self.attnames, values, strict=True))
        obj._state = state = ModelState()
        state.adding, state.db = False, db.alias
        return obj

    def converters(self, db: BaseDatabaseWrapper) -> list[tuple[int, list[Callable[..., Any]], Any]]:
        """The backend's and each field's converters (a JSON column's text, SQLite's dates)."""
        found = self._converters.get(db.vendor)
        if found is None:
            found = []
            for i, f in enumerate(self.fields):
                col = f.get_col(self.model._meta.db_table)
                converters = db.ops.get_db_converters(col) + f.get_db_converters(db)
                if converters:
                    found.append((i, converters, col))
            self._converters[db.vendor] = found
        return found


def select(columns: Columns, where: str, params: Sequence[object], order_by: str = "") -> list[models.Model]:
    """`SELECT <columns> FROM <table> t WHERE <where> [ORDER BY]` as instances."""
    db = _db()
    qn = db.ops.quote_name
    sql = f"SELECT {columns.sql('t')} FROM {qn(columns.model._meta.db_table)} t WHERE {where}"
    with db.cursor() as cursor:
        cursor.execute(sql + (f" ORDER BY {order_by}" if order_by else ""), params)
        return [obj for row in cursor.fetchall() if (obj := columns.instance(row, db)) is not None]


def one_of(column: str, values: Sequence[object]) -> tuple[str, list[object]]:
    """`column` is one of `values`, and its parameters: on PostgreSQL `= ANY(%s)` with one
    array (one statement text for any number), elsewhere `IN (%s, %s, ...)`."""
    db = _db()
    if db.vendor == "postgresql":
        return f"{column} = ANY(%s)", [list(values)]
    return f"{column} IN ({', '.join(['%s'] * len(values))})", list(values)
