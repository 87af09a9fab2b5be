"""The Statsig simulator's world: consoles, sources, their days and backfill runs, and the
seed's samples. Everything is a pure function of the simulator clock. A `SimDay` is a list
of timestamped status steps for one day of one (source, dataset): the status listing shows
the steps whose time has come. A `SimRun` is a backfill run whose `runHistory` advances
along a script of (seconds after creation, status). The routes are in simulator.py."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

from ..seeds import SEED_DIR

STATSIG_SEED = "statsig-ingestion-status.txt"
SPEC_FILE = Path(__file__).parent / "spec" / "console-api.openapi.json"
STATUS_PATH = "/console/v1/ingestion/status"
RUNS_PATH = "/console/v1/ingestion/runs"
BACKFILL_PATH = "/console/v1/ingestion/backfill"
SEED_KEY = "seed-console-key"
DEMO_KEY = "console-demo-key"
BUSY_KEY = "console-busy-key"
KEY_ECHO_CHARS = 12
STATUS_PAGE_SIZE = 100
RUNS_PAGE_SIZE = 10
RATE_LIMITS = ((100, 10.0), (900, 900.0))

# Backfill run scripts: (seconds after the run was created, status).
BACKFILL_SCRIPT = (
    (0, "enqueued"),
    (10, "started"),
    (20, "download_started"),
    (45, "download_complete"),
    (55, "metrics_started"),
    (85, "metrics_complete"),
    (95, "pulse_started"),
    (120, "pulse_complete"),
)
RETRY_SCRIPT = (  # download_error, retried a minute later, then done
    (0, "enqueued"),
    (10, "started"),
    (20, "download_started"),
    (35, "download_error"),
    (95, "download_started"),
    (115, "download_complete"),
    (125, "metrics_started"),
    (145, "metrics_complete"),
    (155, "pulse_started"),
    (180, "pulse_complete"),
)
FAIL_SCRIPT = (  # download_error and nothing after it
    (0, "enqueued"),
    (10, "started"),
    (20, "download_started"),
    (35, "download_error"),
)

SUCCESS_STATUSES = ("IMPORT_SUCCESSFUL", "BULK_LOAD_SUCCESSFUL")
DAY_PATH = ("IMPORT_SCHEDULED", "IMPORT_STARTED", "IMPORT_SUCCESSFUL")
QUERY_ERROR_MESSAGE = (
    "SQL compilation error: error line 4 at position 11\n"
    "invalid identifier 'EVENT_TIMESTAMP'. Query: SELECT user_id, event_name, EVENT_TIMESTAMP "
    "FROM analytics.events WHERE ds = '{ds}'"
)


# -- the seed -----------------------------------------------------------------------
def _seed_text() -> str:
    return (SEED_DIR / STATSIG_SEED).read_text()


def _yaml_scalar(text: str) -> Any:
    text = text.strip()
    if text in ("", "null", "~"):
        return None
    if len(text) >= 2 and text[0] == text[-1] == "'":
        return text[1:-1].replace("''", "'")
    if len(text) >= 2 and text[0] == text[-1] == '"':
        return json.loads(text)
    return text


@cache
def seed_status_example() -> str:
    """The seed's 200 example (a YAML list of flat maps) as the JSON text we serve."""
    m = re.search(r"^( *)example:\n((?:\1 +\S.*\n)+)", _seed_text(), re.M)
    if m is None:
        raise RuntimeError(f"{STATSIG_SEED}: no example block")
    items: list[dict[str, Any]] = []
    for line in m[2].splitlines():
        text = line.strip()
        if text.startswith("- "):
            items.append({})
            text = text[2:]
        key, _, value = text.partition(":")
        items[-1][key.strip()] = _yaml_scalar(value)
    return json.dumps(items)


@cache
def seed_401_message() -> str:
    """The seed's 401 example message, its folded YAML lines joined."""
    m = re.search(r"^( *)message: >-\n((?:\1 +\S.*\n)+)", _seed_text(), re.M)
    if m is None:
        raise RuntimeError(f"{STATSIG_SEED}: no 401 example")
    return " ".join(line.strip() for line in m[2].splitlines())


def auth_message(key: str) -> str:
    """The 401 message for a key: the seed's text with the sent key's first characters."""
    prefix = seed_401_message().split("Key: ")[0]
    return f"{prefix}Key: {key[:KEY_ECHO_CHARS]}"


# -- scripted days --------------------------------------------------------------------
def iso(when: datetime) -> str:
    return when.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def day_end(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1)


@dataclass
class Step:
    at: datetime
    status: str | None
    rows: int | None = None
    message: str | None = None  # None: the usual text for the status
    error_message: str | None = None


@dataclass
class SimDay:
    day: date
    steps: list[Step] = field(default_factory=list)

    def reopen(self, at: datetime, rows: int, run_seconds: float = 900) -> SimDay:
        """Statsig's auto-reload: the day starts again at `at` and succeeds with `rows`."""
        self.steps.append(Step(at, "IMPORT_STARTED"))
        self.steps.append(Step(at + timedelta(seconds=run_seconds), "IMPORT_SUCCESSFUL", rows))
        return self


def scripted_day(
    day: date,
    path: Iterable[str | None] = DAY_PATH,
    *,
    at: datetime | None = None,
    gap: float = 900,
    rows: int = 100_000,
    message: str | None = None,
) -> SimDay:
    """A day whose statuses follow `path`, `gap` seconds apart, from `at` (default: an
    hour after the day ends). Success statuses carry `rows`, LOADED_EMPTY_DATA 0 rows, and
    the last status gets `message` (an error's text, verbatim)."""
    path = list(path)
    at = at or day_end(day) + timedelta(hours=1)
    steps = []
    for i, status in enumerate(path):
        count = rows if status in SUCCESS_STATUSES else 0 if status == "LOADED_EMPTY_DATA" else None
        text = message.format(ds=day.isoformat()) if message and i == len(path) - 1 else None
        steps.append(Step(at + timedelta(seconds=i * gap), status, count, text))
    return SimDay(day, steps)


def _default_message(status: str | None, dataset: str) -> str | None:
    if status is None:
        return None
    if status in ("IMPORT_SCHEDULED", "IMPORT_RESCHEDULED"):
        return f"Your job for {dataset} ingestion is scheduled"
    if status == "BACKFILL_REQUESTED":
        return f"A backfill of {dataset} was requested"
    if status in SUCCESS_STATUSES:
        return f"Your job for {dataset} ingestion completed successfully"
    if status == "LOADED_EMPTY_DATA":
        return f"Your job for {dataset} ingestion completed, but the source returned no data"
    if status.endswith("ERROR"):
        return f"Your job for {dataset} ingestion failed"
    return f"Your job for {dataset} ingestion is in progress"


@dataclass
class SimSource:
    source_name: str
    dataset: str  # as Statsig spells it in rows: "events", "export_exposures", ...
    ingestion_source: str = "snowflake"  # the warehouse type
    days: list[SimDay] = field(default_factory=list)

    def day(self, day: date) -> SimDay:
        for d in self.days:
            if d.day == day:
                return d
        new = SimDay(day)
        self.days.append(new)
        return new

    def rows(self, now: datetime) -> list[dict[str, Any]]:
        out = []
        for d in self.days:
            for step in d.steps:
                if step.at > now:
                    continue
                row: dict[str, Any] = {
                    "ds": f"{d.day.isoformat()}T00:00:00.000Z",
                    "ingestion_dataset": self.dataset,
                    "ingestion_source": self.ingestion_source,
                    "source_name": self.source_name,
                    "message": step.message
                    if step.message is not None
                    else _default_message(step.status, self.dataset),
                    "status": step.status,
                    "timestamp": iso(step.at),
                }
                if step.rows is not None:
                    row["rowCount"] = step.rows
                if step.error_message is not None:
                    row["error_message"] = step.error_message
                out.append(row)
        return out


# -- backfill runs --------------------------------------------------------------------
@dataclass
class SimRun:
    run_id: str
    created_at: datetime
    script: tuple[tuple[float, str], ...] = BACKFILL_SCRIPT
    trigger: str = "backfill"
    sources: list[str] = field(default_factory=list)
    date_stamps: list[str] = field(default_factory=list)

    def render(self, now: datetime) -> dict[str, Any] | None:
        if now < self.created_at:
            return None
        history = [
            (self.created_at + timedelta(seconds=offset), status)
            for offset, status in self.script
            if self.created_at + timedelta(seconds=offset) <= now
        ]
        latest_at, latest = history[-1]
        # Newest first, as Statsig's examples list them; entries are {statusTimestamp, status}.
        entries = [{"statusTimestamp": iso(at), "status": status} for at, status in reversed(history)]
        return {
            "runID": self.run_id,
            "latestStatus": latest,
            "lastUpdatedAt": iso(latest_at),
            "createdAt": iso(self.created_at),
            "trigger": self.trigger,
            "sources": list(self.sources),
            "dateStamps": list(self.date_stamps),
            "runHistory": entries,
            "granularHistory": [
                {
                    "source": source,
                    "latestSourceStatus": latest,
                    "statusByDate": [{"dateStamp": ds, "statuses": list(entries)} for ds in self.date_stamps],
                }
                for source in self.sources
            ],
        }

    @property
    def ends_in_success(self) -> bool:
        return self.script[-1][1] == "pulse_complete"


@dataclass
class SimConsole:
    """One Statsig project, reached with one console key."""

    key: str
    sources: list[SimSource] = field(default_factory=list)
    runs: dict[str, SimRun] = field(default_factory=dict)
    status_verbatim: str | None = None  # a seed sample, served byte for byte
    rate_limits: tuple[tuple[int, float], ...] = RATE_LIMITS
    backfill_scripts: tuple[tuple[tuple[float, str], ...], ...] = (BACKFILL_SCRIPT,)
    created: int = 0

    def add(self, *sources: SimSource) -> SimConsole:
        self.sources.extend(sources)
        return self

    def add_runs(self, *runs: SimRun) -> SimConsole:
        for run in runs:
            self.runs[run.run_id] = run
        return self

    def next_run_id(self) -> str:
        self.created += 1
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"statsig-sim/{self.key}/{self.created}"))
