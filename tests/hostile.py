"""Hostile vendor strings, served by the simulator and polled through the real poll path.

Used by the poll-path test (tests/jobs/test_hostile_poll.py) and the Chromium test
(tests/browser/test_hostile_payloads.py). Every string is something a vendor could send:
markup that runs script if unescaped, in text and in attribute position, control
characters (NUL included, and U+202E that reverses the text after it), 100 kB without a
space, and a 100 kB id where the vendor picks the ids.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone
from hypothesis import strategies as st

from jobs import polling
from jobs.config import register_job
from jobs.models import Account, Pipeline
from vendors.fullstory.simulator import FullStoryWorld, SimJob
from vendors.mixpanel.nessie_simulator import SimPipeline
from vendors.mixpanel.simulator import ScriptedRun, SimConnector

from .conftest import T0

SCRIPT = "<script>window.__pwned=1</script>"
IMG = '"><img src=x onerror="window.__pwned=1">'
DIALOG = "'><svg onload=alert(1)>"
CONTROLS = "ctl[" + "".join(chr(c) for c in range(1, 0x20)) + "\u202e]end"
WITH_NUL = "nul[\x00]" + CONTROLS
LONG = "L" * 100_000
MARKUP = SCRIPT + IMG + DIALOG

FS_KEY = "na1.hostile-key"
NESSIE_NAME = SCRIPT + IMG + CONTROLS  # a vendor-chosen pipeline name (discovered)
NESSIE_NUL_NAME = "pipe-" + WITH_NUL  # cannot be stored as sent: NUL becomes U+FFFD


@dataclass
class HostileWorld:
    now: datetime
    mp: Account
    fs: Account
    markup: Pipeline  # Mixpanel connector: error message with markup and control characters
    long: Pipeline  # Mixpanel connector: a 100 kB error message and a 100 kB run id
    rows: Pipeline  # FullStory job stream: row-level errors with all of the above

    def poll_all(self) -> list[str]:
        lines = []
        for account in (self.mp, self.fs):
            account.refresh_from_db()
            lines.append(polling.poll_now(account).line())
        return lines


def build(sim, mp_account: Account, make_pipeline) -> HostileWorld:
    """Install the hostile vendor data in the running simulator (`sim` fixture), move its
    clock to now (so pages with a time window show the runs) and create what we track."""
    now = timezone.now()
    sim.advance((now - T0).total_seconds())
    hour_ago = now - timedelta(hours=1)
    project = sim.mixpanel.projects["12345"]
    project.add(
        SimConnector("markup", runs=[ScriptedRun(hour_ago, outcome="failed", message=MARKUP + WITH_NUL)]),
        SimConnector("long", runs=[ScriptedRun(hour_ago, outcome="failed", message=LONG, run_id=LONG)]),
    )
    three_days_ago = now.date() - timedelta(days=3)
    project.add_pipelines(
        SimPipeline(NESSIE_NAME, origin=three_days_ago, outcomes={1: "failed"}),
        SimPipeline(NESSIE_NUL_NAME, origin=three_days_ago),
        SimPipeline(LONG, origin=three_days_ago),
    )
    markup = make_pipeline("markup", name=IMG + " connector")
    long = make_pipeline("long", name="Long " + SCRIPT)

    fs_world = FullStoryWorld(keys={FS_KEY})
    fs_world.jobs["fs-hostile"] = SimJob(
        "fs-hostile",
        "events",
        now - timedelta(minutes=10),
        rows=10,
        failed_rows=4,
        process_seconds=60,
        errors=(
            (SCRIPT, {"properties": {"plan": IMG}}),
            (IMG + DIALOG, {"properties": {"x": SCRIPT}}),
            (WITH_NUL, {"properties": {"ctl": WITH_NUL}}),
            (LONG, {"properties": {"long": LONG}}),
        ),
    )
    fs_world.install(sim.simulator)
    fs = Account(name="fs-hostile", vendor="fullstory", base_url=sim.url)
    fs.credentials = {"api_key": FS_KEY}
    fs.save()
    rows = Pipeline.objects.create(account=fs, kind="events_import", external_id="fs-stream", name=DIALOG)
    register_job(rows, "fs-hostile")
    return HostileWorld(now, mp_account, fs, markup, long, rows)


# Hostile *inputs*: what a person, a script or an attacker sends us (tests/dashboard/test_fuzz_inputs.py).

SURROGATE = "\ud800"  # a lone surrogate: UTF-8 cannot encode it, PostgreSQL cannot store it
UNSTORABLE = ["\x00", "a\x00b", WITH_NUL, SURROGATE, "x\udfffy"]
HUGE = "99999999999999999999"
DEEP = 5_000
FIXED_TEXTS = [
    *UNSTORABLE,
    "",
    " ",
    HUGE,
    "-" + HUGE,
    "9" * 5_000,  # above Python's 4,300-digit limit for int(str)
    "1e999",
    "-1",
    "0",
    "NaN",
    "Infinity",
    "null",
    "[]",
    "{}",
    "true",
    "[1]",
    "١٢",  # digits int() accepts but nobody means
    "1_000",
    "../../etc/passwd",
    "%00",
    MARKUP,
    CONTROLS,
    LONG,
]
DEEP_JSON = [
    "[" * DEEP + "]" * DEEP,
    '{"a":' * DEEP + "1" + "}" * DEEP,
    '{"note": ' + "[" * DEEP + "]" * DEEP + "}",
    '{"snooze_minutes": 1e999}',
    '{"snooze_minutes": -1e999, "note": "x"}',
    '{"external_id": "\\u0000"}',
    '{"account": "\\ud800"}',
    '{"a": 1, "a": 2}',
    '{"limit": ' + "9" * 5_000 + "}",
    "NaN",
    "",
    "{",
    '"just a string"',
    "\x00",
]


def hostile_texts() -> st.SearchStrategy[str]:
    """Strings that have broken web apps: NUL, lone surrogates, huge and odd numbers, JSON
    spelled as text, markup, control characters, 100 kB, and whatever Hypothesis finds."""
    return st.one_of(
        st.sampled_from(FIXED_TEXTS),
        st.text(st.characters(exclude_categories=()), max_size=20),  # surrogates and NUL included
    )


def hostile_numbers() -> st.SearchStrategy[int | float]:
    return st.one_of(
        st.sampled_from([10**20, -(10**20), 2**31, 2**63, 10**400, -1, 0]),
        st.integers(),
        st.floats(allow_nan=True, allow_infinity=True),
    )


def hostile_json(keys: list[str]) -> st.SearchStrategy[object]:
    """JSON values of every type, nested a little, with keys we read and keys we do not."""
    leaves = st.one_of(st.none(), st.booleans(), hostile_numbers(), hostile_texts())
    key = st.one_of(st.sampled_from(keys), hostile_texts()) if keys else hostile_texts()
    return st.recursive(
        leaves,
        lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(key, inner, max_size=3)),
        max_leaves=6,
    )
