"""Hostile vendor strings through the real poll path into PostgreSQL: nothing crashes, the
strings are kept as sent where PostgreSQL can hold them, and polling again is a no-op.

Before the fix, a single `\\u0000` in a vendor message made every poll of the account fail
("PostgreSQL text fields cannot contain NUL"), and a vendor that listed a pipeline with an
id longer than 255 characters did the same ("value too long")."""

from __future__ import annotations

import pytest

from jobs.models import Pipeline, PollAttempt, Run, RunItem, Snapshot
from jobs.recording import storable_run_key
from vendors.http import without_nul

from ..hostile import DIALOG, IMG, LONG, MARKUP, NESSIE_NAME, NESSIE_NUL_NAME, SCRIPT, WITH_NUL, build

pytestmark = pytest.mark.django_db

STORED_NUL = WITH_NUL.replace("\x00", "\ufffd")


def test_hostile_vendor_strings_are_polled_and_stored_without_a_crash(sim, mp_account, make_pipeline) -> None:
    world = build(sim, mp_account, make_pipeline)
    first = world.poll_all()  # Mixpanel: connectors + nessie discovery; FullStory: the job
    assert first[0].startswith("mp-test: ok") and "2 discovered" in first[0]
    assert "whose id is 100,000 characters long (at most 255 are kept): not tracked" in first[0]
    assert first[1].startswith("fs-hostile: ok")

    markup_run = Run.objects.get(pipeline=world.markup)
    assert markup_run.state == "failed"
    assert markup_run.error_message == MARKUP + STORED_NUL  # kept verbatim but for the NUL
    assert markup_run.raw["error"]["message"] == MARKUP + STORED_NUL

    long_run = Run.objects.get(pipeline=world.long)
    assert long_run.error_message == LONG
    assert long_run.external_id == storable_run_key(LONG) and long_run.external_id.startswith("sha256:")
    assert long_run.raw["id"] == LONG  # the original id is still there to read

    discovered = {p.name: p for p in Pipeline.objects.filter(source="discovered")}
    assert set(discovered) == {NESSIE_NAME, NESSIE_NUL_NAME.replace("\x00", "\ufffd")}
    assert not Pipeline.objects.filter(external_id__startswith="LLLL").exists()
    attempt = PollAttempt.objects.filter(account=mp_account).latest("at")
    assert attempt.outcome == "bad_response" and "100,000 characters" in attempt.message

    world.poll_all()  # the discovered pipelines' tasks, the FullStory job's row errors
    sim.advance(120)
    world.poll_all()
    assert Run.objects.filter(pipeline=discovered[NESSIE_NAME]).exists()
    fs_run = Run.objects.get(pipeline=world.rows)
    assert (fs_run.state, fs_run.flags) == ("failed", ["partial"])
    messages = list(RunItem.objects.filter(run=fs_run).values_list("message", flat=True))
    assert messages == [SCRIPT, IMG + DIALOG, STORED_NUL, LONG]
    assert RunItem.objects.get(run=fs_run, position=2).data["properties"]["ctl"] == STORED_NUL
    # The NUL-named pipeline is asked for under its stored name, which the vendor does not
    # know: a readable per-pipeline problem, not an account-wide failure.
    nul_pipeline = discovered[NESSIE_NUL_NAME.replace("\x00", "\ufffd")]
    nul_pipeline.refresh_from_db()
    assert nul_pipeline.poll_error_kind == "not_found"

    counts = (Run.objects.count(), Snapshot.objects.count(), RunItem.objects.count(), Pipeline.objects.count())
    sim.advance(3600)
    world.poll_all()  # nothing changed at the vendor for the finished runs: no duplicates
    assert Run.objects.filter(pipeline=world.long).count() == 1
    assert RunItem.objects.count() == counts[2] and Pipeline.objects.count() == counts[3]


def test_without_nul_reaches_keys_and_nested_values() -> None:
    data = {"a\x00": ["x\x00y", {"k": "\x00"}], "n": 1, "none": None}
    assert without_nul(data) == {"a\ufffd": ["x\ufffdy", {"k": "\ufffd"}], "n": 1, "none": None}
