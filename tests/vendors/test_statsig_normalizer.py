"""Statsig status rows and backfill runs: every named status, the seed verbatim, arbitrary JSON."""

import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vendors.base import BadResponse, Target
from vendors.seeds import SEED_DIR
from vendors.statsig.normalize import INGESTION_STATES, ingestion_state, normalize_ingestion, parse_status_page
from vendors.statsig.runs import RUN_STATES, normalize_run, run_state
from vendors.statsig.simulator import seed_status_example

SEED_TEXT = (
    '[{"message": "Your job for events ingestion completed successfully", '
    '"timestamp": "2023-09-07T00:50:07.941Z", "ingestion_dataset": "events", '
    '"ingestion_source": null, "status": "BACKFILL_STARTED"}]'
)
BACKFILLS = Target("backfill", "backfills")
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)

# Written out by hand from VENDORS.md §5/§6 and the brief, not derived from the table.
EXPECTED_INGESTION = [
    ("IMPORT_SCHEDULED", "queued", (), ""),
    ("IMPORT_RESCHEDULED", "queued", ("retrying",), ""),
    ("BACKFILL_REQUESTED", "queued", (), ""),
    ("IMPORT_STARTED", "running", (), ""),
    ("BACKFILL_STARTED", "running", (), ""),
    ("FILE_CREATED", "running", (), ""),
    ("DOWNLOAD_COMPLETED", "running", (), ""),
    ("ROWS_INSERTED", "running", (), ""),
    ("IMPORT_SUCCESSFUL", "succeeded", (), ""),
    ("BULK_LOAD_SUCCESSFUL", "succeeded", (), ""),
    ("LOADED_EMPTY_DATA", "succeeded", ("empty",), ""),
    ("CONNECTION_CONFIG_ERROR", "failed", (), "config"),
    ("SSH_ERROR", "failed", (), "config"),
    ("AUTHENTICATION_ERROR", "failed", (), "config"),
    ("SETUP_ERROR", "failed", (), "config"),
    ("CONNECTION_ERROR", "failed", (), "config"),
    ("QUERY_ERROR", "failed", (), "query"),
    ("QUERY_CONSTRUCTION_ERROR", "failed", (), "query"),
    ("INTERNAL_WRITE_ERROR_METRICS", "failed", (), "vendor"),
    ("INTERNAL_WRITE_ERROR_EVENTS", "failed", (), "vendor"),
    ("INTERNAL_WRITE_ERROR_EXPOSURES", "failed", (), "vendor"),
    ("INTERNAL_SERVER_ERROR", "failed", (), "vendor"),
    ("BULK_LOAD_ERROR", "failed", (), "vendor"),
    ("ERROR", "failed", (), "unknown"),
    ("%Other", "unknown", (), ""),
]


def seed_status_enum() -> list[str]:
    """The seed's enum of the `status` query parameter, read from the seed file."""
    text = (SEED_DIR / "statsig-ingestion-status.txt").read_text()
    block = re.search(r"- name: status\n(?:.*\n)*?^( *)enum:\n((?:\1  - .*\n)+)", text, re.M)
    assert block is not None
    return [line.strip()[2:].strip("'") for line in block[2].splitlines()]


def row(status, ds="2026-11-19T00:00:00.000Z", ts="2026-11-20T01:00:00.000Z", **extra):
    base = {
        "ds": ds,
        "ingestion_dataset": "Events",
        "ingestion_source": "snowflake",
        "source_name": "snowflake-prod",
        "message": f"message for {status}",
        "status": status,
        "timestamp": ts,
    }
    return {**base, **extra}


def one_day(*rows):
    [group] = normalize_ingestion(list(rows))
    [obs] = group.observations
    return obs


@pytest.mark.parametrize(("status", "state", "flags", "kind"), EXPECTED_INGESTION, ids=lambda v: str(v))
def test_ingestion_status_mapping(status, state, flags, kind) -> None:
    assert INGESTION_STATES[status] == (state, flags, kind)
    obs = one_day(row(status, rowCount=5))
    assert (obs.state, obs.flags, obs.vendor_status) == (state, flags, status)
    if state == "failed":
        assert obs.error is not None and obs.error.kind == kind and obs.error.code == status
        assert obs.error.message == f"message for {status}"
        assert obs.finished_at == datetime(2026, 11, 20, 1, tzinfo=UTC)
    else:
        assert obs.error is None


def test_table_covers_the_seed_enum_and_nothing_unplanned() -> None:
    enum = seed_status_enum()
    assert len(enum) == 19 and "%Other" in enum  # VENDORS.md: "the seed has 19 values"
    assert set(enum) <= set(INGESTION_STATES)
    assert set(INGESTION_STATES) == {s for s, *_ in EXPECTED_INGESTION}


def test_loaded_empty_data_is_an_empty_success_with_zero_rows() -> None:
    obs = one_day(row("LOADED_EMPTY_DATA", rowCount=0))
    assert (obs.state, obs.flags, obs.counts, obs.progress) == ("succeeded", ("empty",), {"rows": 0}, 1.0)


def test_row_count_and_message_verbatim() -> None:
    text = "SQL compilation error:\n  invalid identifier 'X'  "
    obs = one_day(row("QUERY_ERROR", message=text))
    assert obs.error.message == text  # not stripped, not rewritten
    assert one_day(row("IMPORT_SUCCESSFUL", rowCount=1234.0)).counts == {"rows": 1234}
    preferred = one_day(row("SETUP_ERROR", message="generic", error_message="the real reason"))
    assert preferred.error.message == "the real reason"


@pytest.mark.parametrize("status", ["%Other", "something new", "IMPORT_OK", None, ""])
def test_unknown_statuses_keep_the_raw_value(status) -> None:
    obs = one_day(row(status))
    assert obs.state == "unknown" and obs.error is None
    assert obs.vendor_status == (status or "")
    assert obs.raw["latest"]["status"] == status


@pytest.mark.parametrize(
    ("status", "state"),
    [
        ("WAREHOUSE_TIMEOUT_ERROR", "failed"),
        ("dedupe_error", "failed"),
        ("DEDUPE_STARTED", "running"),
        ("DEDUPE_RUNNING", "running"),  # a phase of loading, named as Statsig names its phases
        ("ROWS_DEDUPED_IN_PROGRESS", "running"),
        ("PARTITIONS_COMPLETED", "running"),  # a step done, not the day: only the table says loaded
        ("EXPORT_REQUESTED", "queued"),
        ("EXPORT_SUCCESSFUL", "unknown"),  # a new success word is not trusted
        ("SNAPSHOT_FAILED", "failed"),
        ("EXPORT_SCHEDULED", "queued"),
        ("import_successful", "succeeded"),  # a case slip still hits the table
        ("ERRORED", "unknown"),
    ],
)
def test_suffix_heuristic_for_unlisted_statuses(status, state) -> None:
    assert ingestion_state(status)[0] == state
    if state == "failed":
        assert ingestion_state(status)[2] == "unknown"


def test_seed_example_is_served_as_the_brief_quotes_it_and_parses() -> None:
    assert seed_status_example() == SEED_TEXT
    rows, next_page = parse_status_page(json.loads(SEED_TEXT))
    assert next_page is None
    [group] = normalize_ingestion(rows)
    assert group.target == Target("ingestion", "default/events")
    assert group.name == "events (default source)"
    [obs] = group.observations
    assert (obs.run_key, obs.state, obs.vendor_status) == ("2023-09-07", "running", "BACKFILL_STARTED")
    assert obs.started_at == datetime(2023, 9, 7, 0, 50, 7, 941000, tzinfo=UTC)


def test_envelope_with_pagination() -> None:
    body = {"message": "ok", "data": [row("IMPORT_STARTED")], "pagination": {"nextPage": "/x?page=2"}}
    assert parse_status_page(body) == ([row("IMPORT_STARTED")], "/x?page=2")
    assert parse_status_page({"message": "ok", "data": [], "pagination": {"nextPage": None}}) == ([], None)


def test_grouping_by_source_and_dataset_with_fallbacks() -> None:
    rows = [
        row("IMPORT_SUCCESSFUL"),
        row("IMPORT_SUCCESSFUL", source_name=None),  # falls back to ingestion_source
        row("IMPORT_SUCCESSFUL", source_name=None, ingestion_source=None, ingestion_dataset=None),
        row("IMPORT_SUCCESSFUL", ingestion_dataset="events"),  # same dataset, other spelling
    ]
    groups = {g.target.external_id: g for g in normalize_ingestion(rows)}
    assert set(groups) == {"snowflake-prod/events", "snowflake/events", "default/unknown"}
    assert groups["snowflake-prod/events"].name == "events from snowflake-prod"
    assert groups["snowflake-prod/events"].info == {"source": "snowflake-prod", "dataset": "events"}


def test_newest_row_of_a_day_wins_whatever_the_order_and_raw_keeps_all() -> None:
    rows = [
        row("IMPORT_STARTED", ts="2026-11-20T03:00:00Z"),
        row("IMPORT_SUCCESSFUL", ts="2026-11-20T02:00:00Z", rowCount=10),
        row("IMPORT_SCHEDULED", ts="2026-11-20T01:00:00Z"),
        row("IMPORT_STARTED", ts="2026-11-20T01:30:00Z"),
    ]
    obs = one_day(*rows)
    assert obs.state == "running" and obs.vendor_status == "IMPORT_STARTED"
    assert [s["status"] for s in obs.raw["statuses"]] == [
        "IMPORT_SCHEDULED",
        "IMPORT_STARTED",
        "IMPORT_SUCCESSFUL",
        "IMPORT_STARTED",
    ]
    assert obs.counts == {} and obs.finished_at is None
    # The re-opened attempt started at 03:00, not at the first start.
    assert obs.started_at == datetime(2026, 11, 20, 3, tzinfo=UTC)
    assert one_day(*reversed(rows)).fingerprint() == obs.fingerprint()


def test_days_become_runs_newest_first_and_ds_keeps_its_own_date() -> None:
    rows = [
        row("IMPORT_SUCCESSFUL", ds="2026-11-18T00:00:00-08:00"),  # a Pacific midnight: still the 18th
        row("IMPORT_SUCCESSFUL", ds="2026-11-19"),
        row("IMPORT_SUCCESSFUL", ds=None, ts="2026-11-17T23:59:00Z"),
        row("IMPORT_SUCCESSFUL", ds=None, ts=None),  # cannot be placed on a day: skipped
    ]
    [group] = normalize_ingestion(rows)
    assert [o.run_key for o in group.observations] == ["2026-11-19", "2026-11-18", "2026-11-17"]


@pytest.mark.parametrize(
    "body",
    [
        {"message": "ok"},
        {"message": "ok", "data": "nope"},
        {"message": "ok", "data": [], "pagination": "next"},
        {"message": "ok", "data": [], "pagination": {"nextPage": 2}},
        "rows",
        None,
    ],
)
def test_wrong_page_shapes_are_bad_responses(body) -> None:
    with pytest.raises(BadResponse):
        parse_status_page(body)


@pytest.mark.parametrize(
    "rows",
    [
        ["a row"],
        [row(42)],
        [row("IMPORT_STARTED", ts="yesterday")],
        [row("IMPORT_STARTED", ds="2026-13-45")],
        [row("IMPORT_SUCCESSFUL", rowCount=-1)],
        [row("IMPORT_SUCCESSFUL", rowCount="many")],
        [row("QUERY_ERROR", message={"text": "x"})],
        [row("IMPORT_STARTED", source_name=["a"])],
    ],
)
def test_wrong_row_shapes_are_bad_responses(rows) -> None:
    with pytest.raises(BadResponse):
        normalize_ingestion(rows)


# -- backfill runs ------------------------------------------------------------------
EXPECTED_RUN = [
    ("enqueued", "queued"),
    ("started", "running"),
    ("download_started", "running"),
    ("download_complete", "running"),
    ("metrics_started", "running"),
    ("metrics_complete", "running"),
    ("pulse_started", "running"),
    ("pulse_complete", "succeeded"),
    ("download_error", "failed"),
    ("metrics_error", "failed"),
    ("pulse_error", "failed"),
]


def run_body(latest, updated=NOW - timedelta(hours=1), history=None):
    history = history if history is not None else [latest]
    start = updated - timedelta(seconds=len(history))
    return {
        "message": "ok",
        "data": {
            "runID": "r-1",
            "latestStatus": latest,
            "lastUpdatedAt": updated.isoformat(),
            "createdAt": start.isoformat(),
            "trigger": "backfill",
            "sources": ["snowflake-prod"],
            "dateStamps": ["2026-11-18"],
            "runHistory": [
                {"statusTimestamp": (start + timedelta(seconds=i + 1)).isoformat(), "status": s}
                for i, s in enumerate(history)
            ],
        },
    }


@pytest.mark.parametrize(("status", "state"), EXPECTED_RUN)
def test_run_status_mapping(status, state) -> None:
    assert RUN_STATES[status][0] == state
    obs = normalize_run(BACKFILLS, run_body(status), NOW)
    assert (obs.run_key, obs.state, obs.vendor_status) == ("r-1", state, status)
    assert (obs.error is not None) == (state == "failed")
    assert (obs.finished_at is not None) == (state in ("succeeded", "failed"))


def test_run_table_is_exactly_the_documented_statuses() -> None:
    assert set(RUN_STATES) == {s for s, _ in EXPECTED_RUN}


@pytest.mark.parametrize(
    ("status", "state"),
    [("dedupe_started", "running"), ("export_complete", "running"), ("upload_error", "failed"), ("paused", "unknown")],
)
def test_unlisted_run_statuses(status, state) -> None:
    assert run_state(status)[0] == state
    assert normalize_run(BACKFILLS, run_body(status), NOW).vendor_status == status


def test_run_progress_follows_the_steps() -> None:
    assert normalize_run(BACKFILLS, run_body("enqueued"), NOW).progress == 0
    assert normalize_run(BACKFILLS, run_body("download_complete"), NOW).progress == 0.43
    assert normalize_run(BACKFILLS, run_body("pulse_complete"), NOW).progress == 1.0


def test_recent_error_is_a_retry_and_a_settled_one_a_failure() -> None:
    recent = normalize_run(BACKFILLS, run_body("download_error", updated=NOW - timedelta(minutes=9)), NOW)
    assert (recent.state, recent.flags, recent.error) == ("running", ("retrying",), None)
    settled = normalize_run(BACKFILLS, run_body("download_error", updated=NOW - timedelta(minutes=10)), NOW)
    assert settled.state == "failed" and settled.flags == ()
    assert settled.error.code == "download_error" and "download_error" in settled.error.message
    # Same vendor answer, different verdict: the fingerprint must differ or the engine skips it.
    body = run_body("download_error", updated=NOW - timedelta(minutes=9))
    before, after = normalize_run(BACKFILLS, body, NOW), normalize_run(BACKFILLS, body, NOW + timedelta(minutes=1))
    assert before.raw == after.raw == body["data"]  # the vendor's words, verbatim
    assert (before.state, after.state) == ("running", "failed")
    assert before.fingerprint() != after.fingerprint()


def test_latest_status_falls_back_to_the_newest_history_entry() -> None:
    body = run_body(None, history=["enqueued", "started", "download_started"])
    body["data"]["runHistory"].reverse()  # order in the answer does not matter
    obs = normalize_run(BACKFILLS, body, NOW)
    assert (obs.state, obs.vendor_status) == ("running", "download_started")


@pytest.mark.parametrize(
    "body",
    [
        {"message": "ok"},
        {"data": []},
        {"data": {"runID": None}},
        {"data": {"runID": "r", "runHistory": "x"}},
        {"data": {"runID": "r", "runHistory": [{"status": 3}]}},
        {"data": {"runID": "r", "latestStatus": ["x"]}},
        {"data": {"runID": "r", "lastUpdatedAt": "soon"}},
        {"data": {"runID": "r", "sources": "snowflake"}},
    ],
)
def test_wrong_run_shapes_are_bad_responses(body) -> None:
    with pytest.raises(BadResponse):
        normalize_run(BACKFILLS, body, NOW)


# -- arbitrary JSON -----------------------------------------------------------------
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5),
    max_leaves=25,
)
row_like = st.fixed_dictionaries(
    {},
    optional={
        name: json_values | st.sampled_from([s for s, *_ in EXPECTED_INGESTION]) | st.just("2026-11-19")
        for name in (
            "ds",
            "ingestion_dataset",
            "ingestion_source",
            "source_name",
            "message",
            "error_message",
            "status",
            "rowCount",
            "metricCount",
            "timestamp",
        )
    },
)
run_like = st.fixed_dictionaries(
    {},
    optional={
        "runID": json_values,
        "latestStatus": json_values | st.sampled_from([s for s, _ in EXPECTED_RUN]),
        "lastUpdatedAt": json_values,
        "createdAt": json_values,
        "runHistory": json_values | st.lists(st.fixed_dictionaries({}, optional={"status": json_values}), max_size=3),
        "sources": json_values,
    },
)
STATES = ("queued", "running", "succeeded", "failed", "canceled", "unknown")


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        json_values,
        st.lists(row_like, max_size=4),
        st.fixed_dictionaries({"message": json_values, "data": st.lists(row_like, max_size=4)}),
    )
)
def test_arbitrary_status_json_only_ever_raises_bad_response(body) -> None:
    try:
        rows, _ = parse_status_page(body)
        groups = normalize_ingestion(rows)
    except BadResponse:
        return
    for group in groups:
        for obs in group.observations:
            assert obs.state in STATES
            assert set(obs.counts) <= {"rows"}
            json.dumps(obs.raw)


@settings(max_examples=200, deadline=None)
@given(st.one_of(json_values, st.fixed_dictionaries({"data": run_like})))
def test_arbitrary_run_json_only_ever_raises_bad_response(body) -> None:
    try:
        obs = normalize_run(BACKFILLS, body, NOW, "fallback-id")
    except BadResponse:
        return
    assert obs.state in STATES
    assert obs.progress is None or 0 <= obs.progress <= 1
