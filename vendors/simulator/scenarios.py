"""Named scenarios: which vendor accounts exist in the simulator and what their jobs do.

`demo` is what `make run` shows: runs that queue, progress, succeed and fail while you
watch, every seed sample verbatim, a rate-limited project and an unknown connector.
Tests build their own worlds with the same classes.
"""

from __future__ import annotations

from datetime import timedelta

from ..mixpanel.simulator import CyclingRuns, MixpanelWorld, SimConnector, SimProject
from ..seeds import readme_code_samples
from .core import Clock, Simulator

GZIP_MESSAGE = (
    "No compression specified but Gzip detected. Please submit a new request with correct compression as param"
)
MIXPANEL_SEED = "mixpanel-import-connector-history.txt"
SEED_CONNECTORS = {
    "seed-queued": "Sample Response - Queued Job",
    "seed-running": "Sample Response - Running Job",
    "seed-success": "Sample Response - Successfully Completed Job",
    "seed-failed": "Sample Response - Failed Job",
}


def mixpanel_seed_connectors() -> list[SimConnector]:
    samples = readme_code_samples(MIXPANEL_SEED)
    return [SimConnector(cid, label=name, verbatim=samples[name]) for cid, name in SEED_CONNECTORS.items()]


def demo(clock: Clock) -> Simulator:
    sim = Simulator(clock)
    origin = clock.now() - timedelta(minutes=20)
    main = SimProject("12345", username="demo-svc", secret="demo-secret").add(
        SimConnector(
            "s3-events",
            label="S3 events (hourly drop)",
            cycle=CyclingRuns(origin, period=75, run_seconds=45, events=120_000),
        ),
        SimConnector(
            "gcs-people",
            label="GCS people profiles",
            cycle=CyclingRuns(
                origin + timedelta(seconds=20),
                period=95,
                run_seconds=50,
                outcomes=("success", "success", "failed"),
                message=GZIP_MESSAGE,
                events=8_000,
                dropped=40,
            ),
        ),
        SimConnector(
            "backfill-2024",
            label="2024 backfill",
            cycle=CyclingRuns(origin, period=1800, queue_seconds=30, run_seconds=1500, events=9_000_000),
        ),
        *mixpanel_seed_connectors(),
    )
    busy = SimProject(
        "777", username="busy-svc", secret="busy-secret", rate_limit=1, rate_window=30, retry_after=20
    ).add(
        SimConnector("busy-feed", cycle=CyclingRuns(origin, period=120, run_seconds=60, id_style="ids")),
    )
    MixpanelWorld([main, busy]).install(sim)
    return sim


SCENARIOS = {"demo": demo}


def build(name: str, clock: Clock | None = None) -> Simulator:
    try:
        factory = SCENARIOS[name]
    except KeyError:
        raise SystemExit(f"unknown scenario {name!r}; choose from {', '.join(SCENARIOS)}") from None
    return factory(clock or Clock())
