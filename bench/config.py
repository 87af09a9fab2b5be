"""Sizes, the environment and the bench's own database and Redis db, set before Django loads.

Everything runs against PostgreSQL and Redis, never SQLite: `DATABASE_URL` must name a
database whose name contains "bench", because the harness drops and recreates it.
"""

from __future__ import annotations

import os
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/pipewatch_bench"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/9"
# Fixed and public: the bench database is thrown away, its credentials are fake.
BENCH_CREDENTIALS_KEY = "cGlwZXdhdGNoLWJlbmNoLXRocm93YXdheS1rZXktMzI="
PYTHON = sys.executable


@dataclass
class Sizes:
    poll_pipelines: int = 2_000  # measurement 1 (BENCH_N)
    per_account: int = 10  # pipelines per account: the engine polls per account
    threads: int = 8  # same concurrency for the baseline and the real path
    reps: int = 5  # rounds of each kind, medians reported
    # Poll throughput is measured with the simulator answering at once and, as vendors do,
    # after a round trip (BENCH_VENDOR_LATENCY_MS; 50 ms is quicker than any we poll).
    latencies_ms: tuple[float, ...] = (0, 50)
    history_runs: int = 4  # runs each connector's history lists (1 active + finished ones)
    sustain_pipelines: int = 10_000
    sustain_seconds: float = 180  # BENCH_SUSTAIN_SECONDS
    cadence_seconds: float = 60
    worker_concurrency: int = 16
    # BENCH_SUSTAIN_WORKERS: worker processes, one per core as the README sizes them (the
    # first also takes the alerts and housekeeping queues); 1 measures a single process.
    sustain_workers: int = os.cpu_count() or 1
    pages_small: int = 50
    pages_large: int = 5_000
    snapshots: int = 1_000_000  # BENCH_SNAPSHOTS, for the large page data set
    runs_per_pipeline: int = 20
    page_reps: int = 7
    unchanged_polls: int = 1_000
    day_pipelines: int = 2
    day_seconds: float = 86_400

    @classmethod
    def from_env(cls, quick: bool) -> Sizes:
        s = cls()
        if quick:
            s = cls(
                poll_pipelines=200,
                reps=3,
                sustain_pipelines=300,
                sustain_seconds=60,
                cadence_seconds=10,
                worker_concurrency=16,
                pages_large=500,
                snapshots=50_000,
                page_reps=3,
                unchanged_polls=200,
                day_seconds=2 * 3600,
            )
        s.poll_pipelines = _int("BENCH_N", s.poll_pipelines)
        s.sustain_pipelines = _int("BENCH_SUSTAIN_PIPELINES", s.sustain_pipelines)
        s.sustain_workers = max(1, _int("BENCH_SUSTAIN_WORKERS", s.sustain_workers))
        s.sustain_seconds = float(_int("BENCH_SUSTAIN_SECONDS", int(s.sustain_seconds)))
        s.snapshots = _int("BENCH_SNAPSHOTS", s.snapshots)
        s.pages_large = _int("BENCH_PAGES_PIPELINES", s.pages_large)
        s.latencies_ms = (0, _int("BENCH_VENDOR_LATENCY_MS", int(s.latencies_ms[-1])))
        return s

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").replace("_", "").replace(",", "")
    return int(raw) if raw else default


def configure() -> None:
    """The environment for this process and every child (worker, beat, simulator, migrate)."""
    os.environ.setdefault("DATABASE_URL", DEFAULT_DATABASE_URL)
    os.environ.setdefault("REDIS_URL", DEFAULT_REDIS_URL)
    os.environ["DJANGO_SETTINGS_MODULE"] = "dashboard.settings"
    # TESTING: no HTTPS redirect, plain static storage, loopback allowed as a vendor host;
    # DEBUG stays off so that Django keeps no query log and templates are cached.
    os.environ["TESTING"] = "true"
    os.environ["DEBUG"] = "false"
    os.environ.setdefault("CREDENTIALS_KEY", BENCH_CREDENTIALS_KEY)
    os.environ["ALLOWED_HOSTS"] = "testserver,127.0.0.1,localhost"
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    name = database_name()
    if "bench" not in name:
        raise SystemExit(f"refusing to run: DATABASE_URL names {name!r}; the bench drops its database, use *bench*")


def database_name() -> str:
    return urlsplit(os.environ["DATABASE_URL"]).path.lstrip("/")


def admin_dsn() -> dict[str, object]:
    """Connection arguments for the server's `postgres` database (to drop/create ours)."""
    parts = urlsplit(os.environ["DATABASE_URL"])
    return {
        "host": parts.hostname or "127.0.0.1",
        "port": parts.port or 5432,
        "user": parts.username or "postgres",
        "password": parts.password or None,
        "dbname": "postgres",
    }
