"""FullStory job and errors JSON -> Observations: the seed verbatim, every status, odd shapes."""

import json
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vendors.base import STATES, BadResponse, Target
from vendors.fullstory.normalize import JOB_STATES, normalize_errors_page, normalize_job
from vendors.fullstory.simulator import SEED_FILE, seed_job_text
from vendors.seeds import SEED_DIR

from .test_mixpanel_normalizer import json_values

TARGET = Target("events_import", "stream")


def job(status, imports=None, errors=None, **extra):
    body = {"job": {"id": "j1", "status": status, "created": "2019-04-18T14:36:11.123Z", **extra}}
    if imports is not None:
        body["imports"] = imports
    if errors is not None:
        body["errors"] = errors
    return body


def test_the_seed_example_is_extracted_verbatim_and_is_a_partial_failure() -> None:
    text = seed_job_text()
    assert text.startswith('{\n"imports": 42,') and text in (SEED_DIR / SEED_FILE).read_text()
    obs = normalize_job(TARGET, json.loads(text))
    assert (obs.run_key, obs.state, obs.vendor_status, obs.flags) == ("abd123=", "failed", "FAILED", ("partial",))
    assert obs.counts == {"succeeded": 42, "failed": 2, "total": 44}
    assert (obs.error.message, obs.error.code, obs.error.kind) == ("2 of 44 rows failed", "", "config")
    assert obs.started_at == datetime(2019, 4, 18, 14, 36, 11, 123000, tzinfo=UTC)
    assert obs.finished_at == datetime(2019, 4, 18, 15, 36, 11, 123000, tzinfo=UTC)
    assert obs.progress == 1.0 and obs.items is None


@pytest.mark.parametrize(
    ("body", "state", "flags", "progress"),
    [
        (job("PROCESSING", 0, 0), "running", (), None),
        (job("UNKNOWN"), "running", (), None),  # the protobuf default: keep polling
        (job("COMPLETED", 1200, 0), "succeeded", (), 1.0),
        (job("FAILED", 42, 2), "failed", ("partial",), 1.0),
        (job("FAILED", 0, 5), "failed", (), 1.0),
        (job("DEFROSTING", 1, 0), "unknown", (), None),
        (job(""), "unknown", (), None),
        (job(None), "unknown", (), None),
    ],
)
def test_status_mapping(body, state, flags, progress) -> None:
    obs = normalize_job(TARGET, body)
    assert (obs.state, obs.flags, obs.progress) == (state, flags, progress)
    assert obs.vendor_status == (body["job"]["status"] or "")
    assert (obs.error is not None) == (state == "failed")


def test_the_table_covers_every_documented_status() -> None:
    assert set(JOB_STATES) == {"PROCESSING", "COMPLETED", "FAILED", "UNKNOWN"}


def test_counts_only_what_was_sent() -> None:
    assert normalize_job(TARGET, job("COMPLETED", imports=7)).counts == {"succeeded": 7}
    assert normalize_job(TARGET, job("PROCESSING")).counts == {}


@pytest.mark.parametrize(
    ("body", "message", "kind"),
    [
        (job("FAILED", 0, 3), "3 of 3 rows failed", "config"),
        (job("FAILED", 49_990, 12_345), "12,345 of 62,335 rows failed", "config"),
        (job("FAILED", 10), "The batch import failed without naming failed rows", "vendor"),
        (job("FAILED", 0, 0), "The batch import failed without naming failed rows", "vendor"),
    ],
)
def test_failure_message_and_kind(body, message, kind) -> None:
    error = normalize_job(TARGET, body).error
    assert (error.message, error.kind) == (message, kind)


@pytest.mark.parametrize(
    "body",
    [
        [],
        {"job": []},
        {"job": {"status": "COMPLETED"}},
        {"job": {"id": "", "status": "COMPLETED"}},
        job("COMPLETED", imports="many"),
        job("COMPLETED", errors=-1),
        job("COMPLETED", imports=True),
        job("COMPLETED", finished="yesterday"),
        job("COMPLETED", created={"at": 1}),
        job(5),
    ],
)
def test_wrong_job_shapes_are_bad_responses(body) -> None:
    with pytest.raises(BadResponse):
        normalize_job(TARGET, body)


def test_errors_page_keeps_the_rejected_object_and_reads_the_string_total() -> None:
    body = {
        "results": [
            {"message": "uid is required", "code": "required_field", "user": {"email": "a@b.co"}},
            {"message": "bad name", "code": "invalid_argument", "event": {"name": 7}},
        ],
        "total_records": "98",
        "next_page_token": "t2",
    }
    items, token, total = normalize_errors_page(body)
    assert (token, total) == ("t2", 98)
    assert [(i.kind, i.code, i.message, i.data) for i in items] == [
        ("error", "required_field", "uid is required", {"email": "a@b.co"}),
        ("error", "invalid_argument", "bad name", {"name": 7}),
    ]


@pytest.mark.parametrize(
    "body",
    [
        None,
        {"results": {}},
        {"results": ["x"]},
        {"results": [], "total_records": "lots"},
        {"results": [], "next_page_token": 2},
    ],
)
def test_wrong_errors_page_shapes_are_bad_responses(body) -> None:
    with pytest.raises(BadResponse):
        normalize_errors_page(body)


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        json_values,
        st.fixed_dictionaries({"job": json_values}, optional={"imports": json_values, "errors": json_values}),
        st.fixed_dictionaries(
            {"job": st.fixed_dictionaries({"id": st.text(min_size=1)}, optional={"status": json_values})},
            optional={"imports": json_values, "errors": json_values},
        ),
    )
)
def test_arbitrary_job_json_only_ever_raises_bad_response(body) -> None:
    try:
        obs = normalize_job(TARGET, body)
    except BadResponse:
        return
    assert obs.state in STATES and obs.run_key


@settings(max_examples=200, deadline=None)
@given(
    st.one_of(
        json_values,
        st.fixed_dictionaries(
            {"results": st.lists(st.dictionaries(st.sampled_from(["message", "code", "event", "user"]), json_values))},
            optional={"total_records": json_values, "next_page_token": json_values},
        ),
    )
)
def test_arbitrary_errors_json_only_ever_raises_bad_response(body) -> None:
    try:
        items, token, _ = normalize_errors_page(body)
    except BadResponse:
        return
    assert isinstance(token, str) and all(i.kind == "error" for i in items)


def test_a_huge_integer_count_is_a_bad_response() -> None:
    with pytest.raises(BadResponse):
        normalize_job(TARGET, json.loads('{"imports": 1' + "0" * 400 + ', "job": {"id": "j1"}}'))
