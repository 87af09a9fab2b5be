"""FullStory: the mapping table over every status, the seed verbatim, and the client over
HTTP against the simulator (jobs, partial failures with paged errors, 202, expiry, create)."""

import json
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vendors import base as vb
from vendors.base import AccountConfig, Target
from vendors.fullstory import client as fs_client
from vendors.fullstory.client import FullStoryClient
from vendors.fullstory.normalize import JOB_STATES, normalize_job
from vendors.fullstory.simulator import ERRORS_PAGE, SEED_FILE, FullStoryWorld, SimJob, seed_job_text
from vendors.http import HttpSettings
from vendors.seeds import SEED_DIR
from vendors.simulator.core import Clock, Fault, SimServer, Simulator

from ..conftest import T0
from .test_mixpanel_normalizer import json_values

FAST = HttpSettings(connect_timeout=1, read_timeout=2, total_timeout=3, retries=0)
KEY = "na1.test-key"
EVENTS = Target("events_import", "stream")


def job(status, imports=None, errors=None, **extra):
    body = {"job": {"id": "j1", "status": status, "created": "2019-04-18T14:36:11.123Z", **extra}}
    if imports is not None:
        body["imports"] = imports
    if errors is not None:
        body["errors"] = errors
    return body


def test_the_seed_sample_parses_as_a_partial_failure() -> None:
    text = seed_job_text()
    assert text in (SEED_DIR / SEED_FILE).read_text()  # verbatim
    obs = normalize_job(EVENTS, json.loads(text))
    assert (obs.run_key, obs.state, obs.vendor_status, obs.flags) == ("abd123=", "failed", "FAILED", ("partial",))
    assert obs.counts == {"succeeded": 42, "failed": 2, "total": 44}
    assert obs.error.message == "2 of 44 rows failed"
    assert obs.finished_at.isoformat() == "2019-04-18T15:36:11.123000+00:00"


@pytest.mark.parametrize(
    ("body", "state", "flags"),
    [(job(s, 0, 0), JOB_STATES[s], ()) for s in JOB_STATES]
    + [
        (job("FAILED", 0, 5), "failed", ()),
        (job("FAILED", 3, 5), "failed", ("partial",)),
        (job("EXPLODED"), "unknown", ()),
        (job(None), "unknown", ()),
    ],
)
def test_status_mapping(body, state, flags) -> None:
    obs = normalize_job(EVENTS, body)
    assert (obs.state, obs.flags) == (state, flags)


@pytest.mark.parametrize(
    "body",
    [
        [],
        {"job": []},
        {"job": {"status": "COMPLETED"}},
        job("COMPLETED", imports="many"),
        job("COMPLETED", finished="yesterday"),
        job(5),
    ],
)
def test_wrong_shapes_are_bad_responses(body) -> None:
    with pytest.raises(vb.BadResponse):
        normalize_job(EVENTS, body)


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        json_values,
        st.fixed_dictionaries({"job": json_values}, optional={"imports": json_values, "errors": json_values}),
    )
)
def test_arbitrary_json_only_ever_raises_bad_response(body) -> None:
    try:
        obs = normalize_job(EVENTS, body)
    except vb.BadResponse:
        return
    assert obs.state in vb.STATES


@pytest.fixture
def fs() -> Iterator[tuple[FullStoryWorld, Simulator, str]]:
    clock = Clock(T0, frozen=True)
    sim = Simulator(clock)
    world = FullStoryWorld(keys={KEY})
    world.install(sim)
    server = SimServer(sim).start()
    yield world, sim, server.url
    server.stop()


def client(url: str, key: str = KEY) -> FullStoryClient:
    return FullStoryClient(AccountConfig("fullstory", "t", {}, {"api_key": key}, base_url=url), FAST)


def test_jobs_progress_partial_errors_are_paged_and_kept(fs) -> None:
    world, sim, url = fs
    world.jobs["a"] = SimJob("a", "events", T0, rows=1000, failed_rows=ERRORS_PAGE + 30, process_seconds=60)
    target = Target("events_import", "stream", open_runs=("a",))
    [running] = client(url).poll_one(target).observations
    assert (running.state, running.items) == ("running", None)
    # errors are not ready while processing: the simulator answers 202
    assert (
        client(url)
        .http.request("GET", f"{url}/v2/events/batch/a/errors", headers={"Authorization": f"Basic {KEY}"})
        .status
        == 202
    )
    sim.clock.advance(61)
    [done] = client(url).poll_one(target).observations
    assert (done.state, done.flags, done.counts["failed"]) == ("failed", ("partial",), 130)
    assert len(done.items) == 130 and done.items[0].code == "invalid_argument" and "plan" in done.items[0].message
    assert sum(1 for _, p in sim.request_log if p.endswith("/errors")) == 3  # 202 once, then two pages


def test_a_known_job_that_404s_is_gone(fs) -> None:
    _, _, url = fs
    result = client(url).poll_one(Target("events_import", "stream", open_runs=("vanished",)))
    assert result.gone == ["vanished"] and result.observations == []


@pytest.mark.parametrize(
    ("status", "error"), [(401, vb.AuthError), (403, vb.AuthError), (429, vb.RateLimited), (500, vb.Transient)]
)
def test_seed_error_envelopes(fs, status, error) -> None:
    _, sim, url = fs
    from vendors.fullstory.simulator import envelope

    resp = envelope(status, **({"Retry-After": "7"} if status == 429 else {}))
    sim.inject(Fault("status", path="/v2", status=status, body=resp.body, headers=resp.headers))
    [result] = client(url).poll([Target("events_import", "stream", open_runs=("x",))])
    assert isinstance(result.error, error) and result.error.message == resp.body["message"]
    assert result.error.code == resp.body["code"]
    if status == 429:
        assert result.error.retry_after == 7


def test_wrong_key_is_401(fs) -> None:
    _, _, url = fs
    with pytest.raises(vb.AuthError):
        client(url, key="nope").check_credentials()
    assert "authenticated" in client(url).check_credentials()


def test_create_splits_large_uploads_and_retries_are_idempotent(fs, monkeypatch) -> None:
    world, _, url = fs
    monkeypatch.setattr(fs_client, "BATCH_LIMIT", 100)
    requests = [{"name": "Page Viewed", "context": {"n": i}} for i in range(250)]
    first = client(url).create("events_import", {"requests": requests})
    assert len(first.run_keys) == 3 and first.message.startswith("Created 3 batch import jobs for 250 rows")
    again = client(url).create("events_import", {"requests": requests})
    assert again.run_keys == first.run_keys  # same upload, same Idempotency-Keys, same jobs
    assert len(world.jobs) == 3


def test_same_key_different_body_is_refused(fs) -> None:
    _, _, url = fs
    client(url).create("events_import", {"requests": [{"a": 1}], "idempotency_key": "k"})
    with pytest.raises(vb.Rejected):
        client(url).create("events_import", {"requests": [{"a": 2}], "idempotency_key": "k"})


@pytest.mark.parametrize(
    ("kind", "spec", "field"),
    [
        ("events_import", {"requests": []}, "requests"),
        ("users_import", {"requests": [{"email": "a@b"}]}, "requests"),
        ("users_import", {"requests": [{"uid": "x" * 300}]}, "requests"),
        ("events_import", {"requests": [1]}, "requests"),
        ("nonsense", {"requests": [{}]}, "kind"),
    ],
)
def test_validation_names_the_field_and_row(kind, spec, field) -> None:
    with pytest.raises(vb.InvalidSpec) as info:
        FullStoryClient(AccountConfig("fullstory", "t", {}, {"api_key": KEY})).validate_create(kind, spec)
    assert field in info.value.errors
