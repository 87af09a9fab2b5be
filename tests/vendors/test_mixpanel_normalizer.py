"""Table-driven over the seed's sample responses, verbatim, plus arbitrary JSON."""

import json
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vendors.base import BadResponse, Target
from vendors.mixpanel.normalize import CONNECTOR_RUN_STATES, PENDING_KEY, normalize_history
from vendors.seeds import readme_code_samples

SEED = readme_code_samples("mixpanel-import-connector-history.txt")
TARGET = Target("import_connector", "c0ffee")
GZIP = "No compression specified but Gzip detected. Please submit a new request with correct compression as param"


def only(sample: str):
    observations = normalize_history(TARGET, json.loads(SEED[sample]))
    assert len(observations) == 1
    return observations[0]


def test_seed_has_the_four_documented_samples() -> None:
    assert set(SEED) == {
        "Sample Response - Queued Job",
        "Sample Response - Running Job",
        "Sample Response - Successfully Completed Job",
        "Sample Response - Failed Job",
    }


def test_queued_run_has_no_start_and_a_provisional_key() -> None:
    obs = only("Sample Response - Queued Job")
    assert (obs.state, obs.vendor_status, obs.started_at, obs.finished_at) == ("queued", "queued", None, None)
    assert obs.run_key == PENDING_KEY and obs.provisional_key
    assert obs.progress == 0 and obs.error is None


def test_running_run_is_a_quarter_done() -> None:
    obs = only("Sample Response - Running Job")
    assert obs.state == "running"
    assert obs.progress == 0.25
    assert obs.started_at == datetime(2020, 9, 16, 7, 0, tzinfo=UTC)
    assert obs.finished_at is None
    assert obs.run_key == "t:2020-09-16T07:00:00+00:00" and not obs.provisional_key


def test_successful_run_counts() -> None:
    obs = only("Sample Response - Successfully Completed Job")
    assert obs.state == "succeeded" and obs.progress == 1
    assert obs.counts == {"processed": 13, "succeeded": 13, "dropped": 0, "files": 4, "bytes": 1610}
    assert obs.finished_at == datetime(2020, 9, 17, 2, 17, 49, 831793, tzinfo=UTC)


def test_failed_run_keeps_the_message_verbatim() -> None:
    obs = only("Sample Response - Failed Job")  # note: this sample says run_id, not id
    assert obs.state == "failed"
    assert obs.error is not None and obs.error.message == GZIP
    assert obs.error.kind == "config"
    assert obs.finished_at is None


@pytest.mark.parametrize(
    ("status", "state", "flags"),
    [(s, state, flags) for s, (state, flags) in CONNECTOR_RUN_STATES.items()]
    + [("exploded", "unknown", ()), ("", "unknown", ()), (None, "unknown", ())],
)
def test_status_mapping(status: str | None, state: str, flags: tuple[str, ...]) -> None:
    body = {"status": "ok", "results": {"data": [{"id": "r1", "status": status, "start_time": ""}]}}
    obs = normalize_history(TARGET, body)[0]
    assert (obs.state, obs.flags) == (state, flags)
    assert obs.vendor_status == (status or "")


@pytest.mark.parametrize(
    "body",
    [
        [],
        {"status": "ok"},
        {"status": "ok", "results": {"data": "nope"}},
        {"status": "ok", "results": {"data": [{"id": "x", "progress": "half"}]}},
        {"status": "ok", "results": {"data": [{"id": "x", "start_time": "not a time"}]}},
        {"status": "ok", "results": {"data": [{"id": "x", "connector_properties": {"num_events_imported": -3}}]}},
        {"status": "error", "results": {"data": []}},
    ],
)
def test_wrong_shapes_are_bad_responses(body: object) -> None:
    with pytest.raises(BadResponse):
        normalize_history(TARGET, body)


def test_id_less_runs_that_share_a_start_get_distinct_keys() -> None:
    run = {"id": "", "start_time": "2020-09-16 07:00:00 +0000 UTC", "status": "success"}
    keys = [o.run_key for o in normalize_history(TARGET, {"status": "ok", "results": {"data": [run, dict(run)]}})]
    assert len(set(keys)) == 2


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5),
    max_leaves=25,
)
run_like = st.fixed_dictionaries(
    {},
    optional={
        "id": json_values,
        "run_id": json_values,
        "status": json_values,
        "progress": json_values,
        "start_time": json_values,
        "end_time": json_values,
        "error": json_values,
        "connector_properties": json_values,
    },
)


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        json_values,
        st.fixed_dictionaries(
            {"status": st.just("ok"), "results": st.fixed_dictionaries({"data": st.lists(run_like, max_size=3)})}
        ),
    )
)
def test_arbitrary_json_only_ever_raises_bad_response(body: object) -> None:
    try:
        observations = normalize_history(TARGET, body)
    except BadResponse:
        return
    for obs in observations:
        assert obs.state in ("queued", "running", "succeeded", "failed", "canceled", "unknown")
        assert obs.progress is None or 0 <= obs.progress <= 1
