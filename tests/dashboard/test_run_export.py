"""Run history exports: a pipeline's runs and the overview's filtered runs over a period, as
CSV (sanitised) and JSON lines, streamed; bad periods are a 400 that says what to fix."""

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from jobs.models import Account, Pipeline, Run
from jobs.run_export import COLUMNS, PeriodError, export_runs, parse_period, runs_in_period

pytestmark = pytest.mark.django_db
DAY = datetime(2026, 11, 3, 12, tzinfo=UTC)


@pytest.fixture
def history(mp_account) -> dict[str, Pipeline]:
    statsig = Account.objects.create(name="st", vendor="statsig", base_url="http://127.0.0.1:9")
    a = Pipeline.objects.create(account=mp_account, kind="import_connector", external_id="a", name="Alpha")
    b = Pipeline.objects.create(account=statsig, kind="backfill", external_id="backfills", name="Beta")
    for i in range(5):  # Nov 1..5 at noon
        at = DAY + timedelta(days=i - 2)
        Run.objects.create(
            pipeline=a,
            external_id=f"a{i}",
            state="failed" if i == 2 else "succeeded",
            sort_at=at,
            started_at=at,
            finished_at=at + timedelta(minutes=3),
            counts={"processed": 100, "failed": i},
            error_message='=HYPERLINK("http://evil")' if i == 2 else "",
        )
    Run.objects.create(pipeline=b, external_id="b0", state="succeeded", sort_at=DAY, started_at=DAY)
    return {"a": a, "b": b}


def _body(response) -> str:
    return b"".join(response.streaming_content).decode()


def test_pipeline_csv_over_a_period_is_sanitised(logged_in, history) -> None:
    a = history["a"]
    response = logged_in.get(f"/pipelines/{a.uuid}/runs.csv?since=2026-11-02&until=2026-11-04")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert (
        'filename="runs-' in response["Content-Disposition"]
        and "2026-11-02-2026-11-05.csv" in response["Content-Disposition"]
    )
    rows = list(csv.DictReader(io.StringIO(_body(response))))
    assert [r["external_id"] for r in rows] == ["a1", "a2", "a3"]  # until is the last day, inclusive
    assert list(rows[0]) == list(COLUMNS)
    failed = rows[1]
    assert failed["state"] == "failed" and failed["error_message"].startswith("'=HYPERLINK")
    assert failed["duration_seconds"] == "180.0" and failed["processed"] == "100" and failed["failed"] == "2"
    assert failed["started_at"] == "2026-11-03T12:00:00Z"


def test_jsonl_from_the_overview_follows_its_filters(logged_in, history) -> None:
    response = logged_in.get("/runs/export.jsonl?since=2026-11-01&until=2026-11-30&vendor=statsig")
    assert response.status_code == 200 and response["Content-Type"].startswith("application/x-ndjson")
    lines = [json.loads(line) for line in _body(response).splitlines()]
    assert [(r["pipeline"], r["external_id"]) for r in lines] == [("Beta", "b0")]
    everything = logged_in.get("/runs/export.jsonl?since=2026-11-01T00:00:00Z&until=2026-11-30")
    lines = [json.loads(line) for line in _body(everything).splitlines()]
    assert len(lines) == 6 and lines[0]["external_id"] == "a0" and lines[0]["failed"] == 0
    named = logged_in.get("/runs/export.csv?since=2026-11-01&until=2026-11-30&q=alph")
    assert _body(named).count("\n") == 6  # header + Alpha's five runs


@pytest.mark.parametrize(
    ("query", "says"),
    [
        ("since=yesterday", "since must be a date"),
        ("until=2026-13-01", "until must be a date"),
        ("since=2026-11-05&until=2026-11-01", "since must be before until"),
        ("since=2000-01-01&until=2026-11-01", "at most"),
    ],
)
def test_bad_periods_are_400s(logged_in, history, query, says) -> None:
    for url in (f"/pipelines/{history['a'].uuid}/runs.csv", "/runs/export.jsonl"):
        response = logged_in.get(f"{url}?{query}")
        assert response.status_code == 400 and says in response.content.decode()
    assert logged_in.get("/runs/export.csv?health=nope").status_code == 400


def test_export_streams_in_chunks_with_a_fixed_number_of_queries(history) -> None:
    since, until = parse_period("2026-11-01", "2026-11-30")
    with CaptureQueriesContext(connection) as queries:
        chunks = list(export_runs(runs_in_period(Pipeline.objects.all(), since, until), "csv"))
    assert len(chunks) == 7 and len(queries) <= 2  # header + 6 runs; one SELECT (plus a cursor)
    with pytest.raises(ValueError):
        list(export_runs(Run.objects.all(), "xml"))
    one_day = parse_period("2026-11-02", "2026-11-02")  # until names the last day: a whole day
    assert one_day[1] - one_day[0] == timedelta(days=1)
    with pytest.raises(PeriodError):
        parse_period("2026-11-03", "2026-11-02")
