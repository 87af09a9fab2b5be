"""The embedded SQLite default (`make run` without DATABASE_URL): plain tables and row deletes
for retention, triggers of its own for the kept health counts. These files run again in a
fresh pytest on a SQLite database (but their PostgreSQL-only tests, named so)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FILES = ["tests/jobs/test_retention.py", "tests/jobs/test_health_counts.py", "tests/jobs/test_failure_counts.py"]


def test_on_the_embedded_sqlite(tmp_path: Path) -> None:
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}", "PW_TEST_EMBEDDED_DB": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-x", "-k", "not postgresql", *FILES],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, f"{done.stdout[-4000:]}\n{done.stderr[-2000:]}"
    summary = done.stdout.strip().splitlines()[-1]
    assert summary.startswith("17 passed, 2 deselected"), summary  # all but the PostgreSQL-only ones ran
