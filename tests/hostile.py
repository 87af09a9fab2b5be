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
