"""`jobs.bulk` writes and reads rows exactly as the ORM would: on PostgreSQL through one JSON
document per statement (ADR 19), so every kind of value a poll writes must come back the same.
Read back through the ORM, which shares none of bulk's code."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.db import DataError, connection

from jobs.bulk import Columns, insert, one_of, select, set_field, update_fields
from jobs.models import Account, Pipeline, Run, Snapshot
from jobs.recording import SNAPSHOT_FIELDS

from ..conftest import T0

# Texts that JSON, SQL literals and PostgreSQL arrays each escape differently.
AWKWARD = ['say "hi"', "back\\slash", "{braces}, commas", "it's", "tab\tand\nnewline", "ünïcödé ✓ 😀", "", "NULL"]
RAW = {"quote": '"', "nested": {"list": [1, 2.5, None, True, "x\\y"]}, "emoji": "😀", "big": 2**53 + 1}


@pytest.fixture
def pipeline(db: None) -> Pipeline:
    account = Account.objects.create(name="acme", vendor="mixpanel", settings={"project_id": "1"})
    return Pipeline.objects.create(account=account, kind="import_connector", external_id="c1")


def runs(pipeline: Pipeline, n: int) -> list[Run]:
    return [Run.objects.create(pipeline=pipeline, external_id=f"r{i}", state="running") for i in range(n)]


def test_update_fields_writes_every_kind_of_value_exactly(pipeline: Pipeline) -> None:
    rs = runs(pipeline, len(AWKWARD))
    stamp = datetime(2026, 12, 2, 6, 59, 58, 123456, tzinfo=UTC)
    for i, run in enumerate(rs):
        run.error_message, run.vendor_status = AWKWARD[i], AWKWARD[i][:100]
        run.progress = None if i % 2 else i / 3
        run.raw = None if i == 1 else {**RAW, "i": i, "text": AWKWARD[i]}
        run.counts = {"rows": 10**12 + i}
        run.finished_at = None if i == 2 else stamp
        run.closed = bool(i % 2)
        run.items_count = i
    update_fields(
        rs, ["error_message", "vendor_status", "progress", "raw", "counts", "finished_at", "closed", "items_count"]
    )
    for i, back in enumerate(Run.objects.filter(pipeline=pipeline).order_by("external_id")):
        assert (back.error_message, back.vendor_status) == (AWKWARD[i], AWKWARD[i][:100])
        assert back.progress == (None if i % 2 else pytest.approx(i / 3, rel=1e-15))
        assert back.raw == (None if i == 1 else {**RAW, "i": i, "text": AWKWARD[i]})
        assert back.counts == {"rows": 10**12 + i}
        assert back.finished_at == (None if i == 2 else stamp)  # microseconds kept
        assert (back.closed, back.items_count) == (bool(i % 2), i)


def test_update_fields_leaves_other_rows_and_fields_alone(pipeline: Pipeline) -> None:
    a, b, _ = runs(pipeline, 3)
    a.state, b.state = "succeeded", "failed"
    a.error_message = "not written"
    update_fields([a, b], ["state"])
    assert dict(Run.objects.values_list("external_id", "state")) == {"r0": "succeeded", "r1": "failed", "r2": "running"}
    assert Run.objects.get(pk=a.pk).error_message == ""


def test_a_value_the_column_refuses_fails_as_save_would(pipeline: Pipeline) -> None:
    a, b = runs(pipeline, 2)
    a.vendor_status = b.vendor_status = "x" * 101  # max_length 100: not cut, refused
    with pytest.raises(DataError, match="too long"):
        update_fields([a, b], ["vendor_status"])


def test_insert_writes_rows_with_their_defaults(pipeline: Pipeline) -> None:
    [run] = runs(pipeline, 1)
    snaps = [
        Snapshot(run=run, observed_at=T0, state="running", progress=i / 7, raw={"text": t}, changed=["progress"])
        for i, t in enumerate(AWKWARD)
    ]
    insert(snaps, SNAPSHOT_FIELDS, batch=3)
    back = list(Snapshot.objects.filter(run=run).order_by("id"))
    assert [s.raw for s in back] == [{"text": t} for t in AWKWARD]
    assert all(s.kept is False for s in back)  # a database default
    assert [s.progress for s in back] == [pytest.approx(i / 7, rel=1e-15) for i in range(len(AWKWARD))]
    assert {s.observed_at for s in back} == {T0} and all(s.changed == ["progress"] for s in back)


def test_set_field_and_one_of_name_exactly_these_rows(pipeline: Pipeline) -> None:
    rs = runs(pipeline, 4)
    set_field(rs[1:3], "last_seen_at", T0)
    assert sorted(Run.objects.filter(last_seen_at=T0).values_list("external_id", flat=True)) == ["r1", "r2"]
    where, params = one_of("t.external_id", ["r0", "r3", 'no"such'])
    found = select(Columns.of(Run, ("raw",)), where, params, order_by="t.external_id")
    assert [r.external_id for r in found] == ["r0", "r3"]
    assert all(r.get_deferred_fields() == {"raw"} for r in found)
    assert found[0].raw is None and found[0].get_deferred_fields() == set()  # read on access, as a queryset does


def test_rows_read_back_are_instances_as_the_orm_makes_them(pipeline: Pipeline) -> None:
    [run] = runs(pipeline, 1)
    [back] = select(Columns.of(Run), "t.id = %s", [run.pk])
    orm = Run.objects.get(pk=run.pk)
    assert {f.attname: getattr(back, f.attname) for f in Run._meta.concrete_fields} == {
        f.attname: getattr(orm, f.attname) for f in Run._meta.concrete_fields
    }
    assert back._state.adding is False and back._state.db == connection.alias
    back.error_message = "saved the ORM way"
    back.save(update_fields=["error_message"])
    assert Run.objects.get(pk=run.pk).error_message == "saved the ORM way"
    assert back.pipeline == pipeline  # relations load on access
