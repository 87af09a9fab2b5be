"""No test depends on today's date: a representative subset of the suite, run again in a fresh
pytest as if the machine's clock read a day years ahead and a day before the fixtures' T0
(PW_TEST_PRETEND_NOW, tests/conftest.py). `make test-future` runs tests/jobs and tests/browser so."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

ROOT = Path(__file__).resolve().parent.parent
# The subset compares with "now" on every side: vendors' create and backfill date rules, the
# simulator's frozen clock against the product's, health and missing days, day labels, and the
# browser pages that type dates and draw days.
SUBSET = [
    "tests/vendors/test_mixpanel_nessie_create.py",
    "tests/jobs/test_missing_days.py",
    "tests/jobs/test_detection.py",
    "tests/jobs/test_day_label.py",
    "tests/jobs/test_mixpanel_engine.py::test_create_validates_first_then_tracks_what_mixpanel_created",
    # In Chromium, the pages that type dates and draw days and "now": about 20 s a date on top;
    # all of tests/browser passes on other days under `make test-future`.
    "tests/browser/test_pipeline_flows.py",
    "tests/browser/test_empty_days_teams_browser.py::test_empty_marks_day_grids_and_team_filters",
    "tests/browser/test_phone_pages.py::test_an_open_run_from_before_the_window_reaches_now_on_the_24h_timeline",
]
DATES = ["2031-06-15T12:00:00+00:00", "2025-03-01T08:00:00+00:00"]


def _own_database_url() -> str:
    """This run's database URL with a suffix: the inner pytest makes its own test database."""
    url = urlsplit(os.environ["DATABASE_URL"])
    return urlunsplit(url._replace(path=url.path.rstrip("/") + "_pretend"))


@pytest.mark.parametrize("when", DATES)
def test_the_subset_passes_on_another_day(when: str) -> None:
    env = {**os.environ, "PW_TEST_PRETEND_NOW": when, "DATABASE_URL": _own_database_url()}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-x", *SUBSET],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, f"as if it were {when}:\n{done.stdout[-4000:]}\n{done.stderr[-2000:]}"
