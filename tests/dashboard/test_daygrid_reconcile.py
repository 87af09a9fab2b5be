"""Day grids (issue 18, ADR 13): days before the pipeline existed are not "missing"; a day
that loaded nothing is "empty"; where Mixpanel's own days synced disagrees with our runs,
the grid shows both and says why."""

from datetime import timedelta

import pytest
import time_machine

from dashboard import timeline as tl
from jobs.models import Pipeline, Run

from ..conftest import T0

TODAY = T0.date()


def day(n: int) -> str:
    return str(TODAY - timedelta(days=n))


@pytest.fixture
def nessie(mp_account) -> Pipeline:
    pipeline = Pipeline.objects.create(
        account=mp_account,
        kind="export_pipeline",
        external_id="events-daily",
        created_at=T0 - timedelta(days=5),
        last_polled_at=T0,
        vendor_info={
            "frequency": "daily",
            "timeline": [
                {"date": day(4), "status": "synced", "sync_times": []},
                {"date": day(3), "status": "synced", "sync_times": []},
                {"date": day(1), "status": "synced", "sync_times": []},
            ],
        },
    )

    def run(n: int, state: str, **kwargs: object) -> None:
        key = f"{day(n)}T00:00:00-08:00..{day(n - 1)}T00:00:00-08:00"
        at = T0 - timedelta(days=n - 1)
        Run.objects.create(pipeline=pipeline, external_id=key, state=state, sort_at=at, **kwargs)

    run(3, "succeeded", counts={"rows": 10})  # both agree
    run(2, "succeeded", counts={"rows": 10})  # Mixpanel does not list it as synced
    run(1, "failed", error_message="boom")  # Mixpanel says synced
    run(0, "succeeded", flags=["empty"])  # loaded nothing; after Mixpanel's last reported day
    return pipeline


def test_cells_say_before_missing_empty_and_where_the_vendor_disagrees(nessie) -> None:
    days = [TODAY - timedelta(days=n) for n in range(7, -1, -1)]
    first = tl.first_days([nessie])[nessie.pk]
    assert first == TODAY - timedelta(days=5)  # created then; the vendor's oldest day is later
    cells = {str(c["day"]): c for c in tl.day_outcomes(nessie, list(nessie.runs.all()), days, first)}
    assert [cells[day(n)]["state"] for n in range(7, -1, -1)] == [
        "before",
        "before",
        "missing",  # existed, nothing landed, nothing at Mixpanel
        "succeeded",  # Mixpanel synced it; no task of ours: no disagreement
        "succeeded",
        "succeeded",
        "failed",
        "empty",
    ]
    notes = {d: c["note"] for d, c in cells.items() if c["note"]}
    assert set(notes) == {day(2), day(1)}
    assert "Mixpanel's days synced lists it as not synced" in notes[day(2)]
    assert "lists this day as synced, but our last run for it failed" in notes[day(1)]
    assert cells[day(0)]["label"] == "loaded no data" and cells[day(0)]["vendor"] == ""


def test_history_older_than_the_pipeline_moves_its_first_day_back(nessie) -> None:
    Run.objects.create(
        pipeline=nessie, external_id=f"{day(9)}T00:00:00-08:00..x", state="succeeded", sort_at=T0 - timedelta(days=9)
    )
    Run.objects.create(pipeline=nessie, external_id="not-a-day", state="succeeded", sort_at=T0 - timedelta(days=30))
    assert tl.first_days([nessie])[nessie.pk] == TODAY - timedelta(days=9)


def test_the_pipeline_page_grid_shows_both_and_a_legend(logged_in, nessie) -> None:
    with time_machine.travel(T0, tick=False):
        html = logged_in.get(f"/pipelines/{nessie.uuid}/timeline/").content.decode()
    assert html.count('class="day day-before"') == 30 - 6  # 30 days shown, 6 of them since it existed
    assert 'class="day day-succeeded day-disagree"' in html and 'class="day day-failed day-disagree"' in html
    assert "Where Mixpanel's days synced disagrees" in html
    assert f"<strong>{day(1)}</strong>: ours failed, Mixpanel synced." in html
    assert f"<strong>{day(2)}</strong>: ours landed, Mixpanel not synced." in html
    assert 'class="legend-key day-empty"' in html and 'class="legend-key day-before"' in html  # the legend
