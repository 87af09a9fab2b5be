"""The embedded SQLite default (`make run` without DATABASE_URL) keeps plain tables and row
deletes: tests/jobs/test_retention.py again, in a fresh pytest on a SQLite database."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_retention_on_the_embedded_sqlite(tmp_path: Path) -> None:
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}", "PW_TEST_EMBEDDED_DB": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-x", "tests/jobs/test_retention.py"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, f"{done.stdout[-4000:]}\n{done.stderr[-2000:]}"
    assert done.stdout.strip().splitlines()[-1].startswith("5 passed")  # every test of the file ran there
