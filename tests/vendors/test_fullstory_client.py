"""The FullStory client over real HTTP against the simulator: job polling, paged row
errors, 202, expiry, the seed's error envelopes, batched idempotent creates, validation."""

import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import requests

from vendors import base as vb
from vendors.base import AccountConfig, Target
from vendors.connection_check import CheckFailed
from vendors.fullstory import imports as fs_imports
from vendors.fullstory.client import CLIENTS, ErrorsNotReady, FullStoryClient
from vendors.fullstory.simulator import (
    DEMO_KEY,
    ENVELOPES,
    ERRORS_PAGE,
    FullStoryWorld,
    SimJob,
    envelope,
    install_demo,
    seed_job_text,
)
from vendors.http import HttpSettings
from vendors.simulator.core import Clock, Fault, SimServer, Simulator

from ..conftest import T0
from .polling import poll_one

FAST = HttpSettings(connect_timeout=1, read_timeout=5, total_timeout=10, retries=0)
KEY = "na1.test-key"


@dataclass
class FS:
    url: str
    sim: Simulator
    world: FullStoryWorld

    def client(self, key: str = KEY) -> FullStoryClient:
        return FullStoryClient(AccountConfig("fullstory", "t", {}, {"api_key": key}, base_url=self.url), FAST)

    def poll(self, *job_ids: str, kind: str = "events_import") -> vb.TargetResult:
        [result] = self.client().poll([Target(kind, "stream", open_runs=job_ids)])
        return result

    def get(self, path: str, key: str = KEY) -> requests.Response:
        return requests.get(self.url + path, headers={"Authorization": f"Basic {key}"}, timeout=5)

    def errors_calls(self) -> int:
        return sum(1 for _, path in self.sim.request_log if path.endswith("/errors"))


@pytest.fixture
def fs() -> Iterator[FS]:
    sim = Simulator(Clock(T0, frozen=True))
    world = FullStoryWorld(keys={KEY})
    world.install(sim)
    server = SimServer(sim).start()  # port 0: any free port
    try:
        yield FS(server.url, sim, world)
    finally:
        server.stop()


def test_package_exports_the_client_and_its_region_hosts() -> None:
    assert (FullStoryClient,) == CLIENTS
    eu = FullStoryClient(AccountConfig("fullstory", "eu", region="eu1", credentials={"api_key": "k"}))
    assert eu.base_url == "https://api.eu1.fullstory.com"
    assert eu._headers() == {"Authorization": "Basic k"}  # as-is, not base64 user:pass


# -- polling ---------------------------------------------------------------------------
def test_open_job_goes_from_processing_to_completed_as_the_clock_moves(fs) -> None:
    fs.world.jobs["a"] = SimJob("a", "events", T0, rows=1200, process_seconds=60)
    [running] = fs.poll("a").observations
    assert (running.run_key, running.state, running.progress, running.items) == ("a", "running", None, None)
    fs.sim.clock.advance(61)
    [done] = fs.poll("a").observations
    assert (done.state, done.vendor_status, done.progress, done.counts["succeeded"]) == (
        "succeeded",
        "COMPLETED",
        1.0,
        1200,
    )
    assert (done.finished_at - done.started_at).total_seconds() == 60
    assert fs.errors_calls() == 0  # nothing failed: no reason to ask for errors


def test_partial_failure_collects_every_error_page(fs) -> None:
    fs.world.jobs["p"] = SimJob("p", "events", T0, rows=1000, failed_rows=2 * ERRORS_PAGE + 5, process_seconds=10)
    fs.sim.clock.advance(11)
    [obs] = fs.poll("p").observations
    assert (obs.state, obs.flags, obs.counts["failed"], obs.error.message) == (
        "failed",
        ("partial",),
        205,
        "205 of 1,000 rows failed",
    )
    assert len(obs.items) == 205 and fs.errors_calls() == 3
    assert obs.items[-1].data == {"name": "Signed Up", "properties": {"row": 205, "plan": 7}}  # the row as sent
    assert {(i.kind, i.code) for i in obs.items} == {("error", "invalid_argument")}


def test_error_items_are_capped_with_a_note(fs, monkeypatch) -> None:
    monkeypatch.setattr(fs_imports, "MAX_ERROR_ITEMS", 150)
    fs.world.jobs["big"] = SimJob("big", "users", T0, rows=400, failed_rows=400, process_seconds=0)
    [obs] = fs.poll("big", kind="users_import").observations
    assert len(obs.items) == 151 and fs.errors_calls() == 2
    assert obs.items[-1].message == "Only the first 150 of 400 row errors are kept"
    assert obs.flags == ()  # nothing imported: a failure, not a partial one


def test_a_page_token_handed_back_twice_is_a_bad_response(fs, monkeypatch) -> None:
    monkeypatch.setattr(fs_imports, "MAX_ERROR_ITEMS", 50)  # without the guard: capped, not refused
    fs.world.jobs["loop"] = SimJob("loop", "events", T0, rows=5, failed_rows=1, process_seconds=0)
    page = {"results": [{"message": "m", "code": "c", "event": {}}], "next_page_token": "again"}
    fs.sim.inject(Fault("wrong_shape", path="/v2/events/batch/loop/errors", body=page))
    error = fs.poll("loop").error
    assert isinstance(error, vb.BadResponse) and "repeated next_page_token" in error.message
    assert fs.errors_calls() == 2


def test_errors_202_on_a_running_job_means_not_ready(fs) -> None:
    fs.world.jobs["r"] = SimJob("r", "events", T0, rows=10, failed_rows=2, process_seconds=60)
    assert fs.get("/v2/events/batch/r/errors").status_code == 202
    # A running job that already reports errors: ask, hear 202, poll again later.
    running = {"imports": 5, "errors": 2, "job": {"id": "r", "status": "PROCESSING"}}
    fs.sim.inject(Fault("wrong_shape", path="/v2/events/batch/r", body=running, times=1))
    [obs] = fs.poll("r").observations
    assert (obs.state, obs.counts["failed"], obs.items) == ("running", 2, None) and fs.errors_calls() == 2


def test_errors_202_on_a_failed_job_fails_only_that_target(fs) -> None:
    fs.world.jobs["f"] = SimJob("f", "events", T0, rows=10, failed_rows=2, process_seconds=0)
    fs.world.jobs["u"] = SimJob("u", "users", T0, rows=10, process_seconds=0)
    fs.sim.inject(Fault("status", path="/v2/events/batch/f/errors", status=202, body=b""))
    targets = [Target("events_import", "e", ("f",)), Target("users_import", "u", ("u",))]
    events, users = fs.client().poll(targets)
    assert isinstance(events.error, ErrorsNotReady) and events.error.kind == "transient"
    assert not events.error.account_wide  # the other pipeline still polled:
    assert users.error is None and users.observations[0].state == "succeeded"


def test_a_known_job_that_404s_is_gone_and_the_others_still_poll(fs) -> None:
    fs.world.jobs["a"] = SimJob("a", "events", T0, rows=3)
    result = fs.poll("vanished", "a")
    assert result.error is None and result.gone == ["vanished"]
    assert [o.run_key for o in result.observations] == ["a"]


def test_the_seed_job_is_served_verbatim_and_polls_with_its_errors(fs) -> None:
    resp = fs.get("/v2/events/batch/abd123=")
    assert resp.status_code == 200 and resp.text == seed_job_text()
    [obs] = fs.poll("abd123=").observations
    assert (obs.state, obs.flags, len(obs.items)) == ("failed", ("partial",), 2)


# -- the seed's error envelopes --------------------------------------------------------
def test_wrong_key_is_the_seed_401_and_stops_the_account(fs) -> None:
    results = fs.client("na1.wrong").poll([Target("events_import", "a", ("x",)), Target("users_import", "b", ("y",))])
    assert len(results) == 1
    error = results[0].error
    assert isinstance(error, vb.AuthError) and (error.http_status, error.code, error.message) == (
        401,
        "unauthorized",
        "access is unauthorized",
    )
    with pytest.raises(CheckFailed) as info:
        fs.client("na1.wrong").check_credentials()
    assert info.value.failure == "auth" and "check it, and its region" in str(info.value)
    assert fs.client().check_credentials().startswith("authenticated: FullStory accepts the key")


def test_a_burst_gets_429_with_retry_after_in_seconds(fs) -> None:
    fs.world.jobs["a"] = SimJob("a", "events", T0, rows=3)
    fs.world.rate_limit, fs.world.retry_after = 1, 7
    assert fs.poll("a").error is None
    error = fs.poll("a").error
    assert isinstance(error, vb.RateLimited) and error.retry_after == 7 and error.account_wide
    assert (error.code, error.message) == ("too_many_requests", ENVELOPES[429][0])


@pytest.mark.parametrize(("status", "error_type"), [(500, vb.Transient), (403, vb.AuthError), (404, vb.NotFound)])
def test_seed_envelopes_become_typed_errors(fs, status, error_type) -> None:
    resp = envelope(status)
    fs.sim.inject(Fault("status", path="/v2/users", status=status, body=resp.body))
    with pytest.raises(error_type) as info:
        fs.client().create("users_import", {"requests": [{"uid": "u1"}]})
    assert (info.value.message, info.value.code) == ENVELOPES[status]


def test_standard_key_may_not_read_imported_users(fs) -> None:
    fs.world.standard_keys.add("na1.standard")
    fs.world.jobs["u"] = SimJob("u", "users", T0, rows=3, process_seconds=0)
    assert fs.get("/v2/users/batch/u", key="na1.standard").status_code == 200
    denied = fs.get("/v2/users/batch/u/imports", key="na1.standard")
    assert denied.status_code == 403 and denied.json() == {"message": "insufficient permissions", "code": "forbidden"}
    imports = fs.get("/v2beta/users/batch/u/imports").json()
    assert imports["total_records"] == "3" and len(imports["results"]) == 3


def test_a_missing_required_field_gets_the_seeds_400_code(fs) -> None:
    # The spec requires an event's name (a user needs no uid: the seed's example message
    # is not a rule of the spec); the seed's envelope names the code.
    resp = requests.post(
        fs.url + "/v2/events/batch",
        json={"requests": [{"name": "Signed Up"}, {"properties": {"plan": "pro"}}]},
        headers={"Authorization": f"Basic {KEY}"},
        timeout=5,
    )
    assert resp.status_code == 400
    assert resp.json() == {"message": "requests[1].name is required", "code": "required_field"}
    users = requests.post(
        fs.url + "/v2/users/batch",
        json={"requests": [{"email": "a@b.co"}]},
        headers={"Authorization": f"Basic {KEY}"},
        timeout=5,
    )
    assert users.status_code == 200


# -- creating --------------------------------------------------------------------------
def test_create_splits_at_the_real_batch_limit(fs) -> None:
    started = time.monotonic()
    rows = [{"name": "Signed Up", "properties": {"n": i}} for i in range(120_001)]
    result = fs.client().create("events_import", {"requests": rows})
    assert result.message == "Created 3 batch import jobs for 120,001 rows"
    assert [fs.world.jobs[k].rows for k in result.run_keys] == [50_000, 50_000, 20_001]
    assert [r["job"]["id"] for r in result.raw] == result.run_keys
    assert time.monotonic() - started < 20


def test_a_retried_upload_replays_the_same_jobs(fs, monkeypatch) -> None:
    monkeypatch.setattr(fs_imports, "BATCH_LIMIT", 100)
    rows = [{"name": "Page Viewed", "properties": {"n": i}} for i in range(250)]
    first = fs.client().create("events_import", {"requests": rows})
    again = fs.client().create("events_import", {"requests": rows})
    assert len(first.run_keys) == 3 and again.run_keys == first.run_keys and len(fs.world.jobs) == 3
    other = fs.client().create("events_import", {"requests": rows, "shared": {"device": {"type": "ios"}}})
    assert not set(other.run_keys) & set(first.run_keys)  # a different upload: new keys, no 409


def test_an_upload_that_broke_halfway_can_be_retried_safely(fs, monkeypatch) -> None:
    monkeypatch.setattr(fs_imports, "BATCH_LIMIT", 10)
    real_create, calls = fs.world.create, []

    def flaky(req, kind):
        calls.append(kind)
        return envelope(500) if len(calls) == 2 else real_create(req, kind)

    monkeypatch.setattr(fs.world, "create", flaky)
    rows = [{"name": "x", "n": i} for i in range(25)]
    with pytest.raises(vb.Transient):
        fs.client().create("events_import", {"requests": rows})
    result = fs.client().create("events_import", {"requests": rows})
    assert len(result.run_keys) == 3 and len(fs.world.jobs) == 3  # batch 0 replayed, not imported twice


def test_explicit_idempotency_key_is_suffixed_per_batch(fs) -> None:
    result = fs.client().create("events_import", {"requests": [{"name": "a"}], "idempotency_key": "upload-7"})
    replay = requests.post(
        fs.url + "/v2/events/batch",
        json={"requests": [{"name": "a"}]},
        headers={"Authorization": f"Basic {KEY}", "Idempotency-Key": "upload-7-0"},
        timeout=5,
    )
    assert replay.json()["job"]["id"] == result.run_keys[0]


def test_same_key_with_a_different_body_is_refused(fs) -> None:
    fs.client().create("events_import", {"requests": [{"name": "a"}], "idempotency_key": "k"})
    with pytest.raises(vb.Rejected) as info:
        fs.client().create("events_import", {"requests": [{"name": "b"}], "idempotency_key": "k"})
    # FullStory "errors" without saying how; its spec lists 400 for a refused request.
    assert (info.value.http_status, info.value.code) == (400, "invalid_argument")


def test_created_jobs_progress_and_fail_the_marked_rows(fs) -> None:
    rows = [{"uid": "ok-1"}, {"uid": "fail-2"}, {"uid": "ok-3"}]
    [job_id] = fs.client().create("users_import", {"requests": rows}).run_keys
    assert fs.poll(job_id, kind="users_import").observations[0].state == "running"
    fs.sim.clock.advance(fs.world.process_seconds)
    [obs] = fs.poll(job_id, kind="users_import").observations
    assert (obs.state, obs.flags, obs.counts, len(obs.items)) == (
        "failed",
        ("partial",),
        {"succeeded": 2, "failed": 1, "total": 3},
        1,
    )


@pytest.mark.parametrize(
    ("kind", "spec", "field", "fragment"),
    [
        ("events_import", {"requests": []}, "requests", "at least one"),
        ("events_import", {"requests": "[{}]"}, "requests", "at least one"),
        ("events_import", {"requests": [{"name": "a"}, 1]}, "requests", "row 2: the row must be an object"),
        ("events_import", {"requests": [{"name": "a"}, {"uid": "a"}]}, "requests", "row 2: name is required"),
        ("events_import", {"requests": [{"name": "a", "user": {"uid": "u" * 257}}]}, "requests", "user.uid"),
        ("users_import", {"requests": [{"uid": "x" * 257}]}, "requests", "row 1: uid is longer than 256"),
        ("users_import", {"requests": [{"id": "1", "display_name": "d" * 257}]}, "requests", "display_name"),
        ("users_import", {"requests": [{"uid": "a"}] * 3 + [{"uid": "b", "email": "e" * 129}]}, "requests", "row 4"),
        ("events_import", {"requests": [{"name": "a"}], "shared": []}, "shared", "shared must be an object"),
        ("users_import", {"requests": [{"uid": "a"}], "shared": {}}, "shared", "has no shared context"),
        ("events_import", {"requests": [{"name": "a"}], "idempotency_key": 5}, "idempotency_key", "text"),
        ("nonsense", {"requests": [{}]}, "kind", "events_import"),
    ],
)
def test_validation_names_the_field_and_row(kind, spec, field, fragment) -> None:
    with pytest.raises(vb.InvalidSpec) as info:
        FullStoryClient(AccountConfig("fullstory", "t", {}, {"api_key": KEY})).validate_create(kind, spec)
    assert list(info.value.errors) == [field] and fragment in info.value.errors[field]


def test_validation_accepts_values_at_the_documented_limits() -> None:
    spec = {"requests": [{"uid": "u" * 256, "display_name": "d" * 256, "email": "e" * 128}, {"display_name": "anon"}]}
    cleaned = FullStoryClient(AccountConfig("fullstory", "t")).validate_create("users_import", spec)
    assert cleaned == spec
    events = {"requests": [{"name": "n", "user": {"uid": "u" * 256}}], "shared": {"context": {"browser": {}}}}
    assert FullStoryClient(AccountConfig("fullstory", "t")).validate_create("events_import", events) == events


# -- the demo --------------------------------------------------------------------------
def test_demo_jobs_are_live_done_partial_and_expired() -> None:
    sim = Simulator(Clock(T0, frozen=True))
    install_demo(sim, T0)
    server = SimServer(sim).start()
    try:
        client = FullStoryClient(AccountConfig("fullstory", "d", {}, {"api_key": DEMO_KEY}, base_url=server.url), FAST)
        events = Target("events_import", "e", ("fs-demo-done", "fs-demo-expired", "fs-demo-live"))
        users = Target("users_import", "u", ("fs-demo-partial",))
        ev, us = client.poll([events, users])
        assert ev.gone == ["fs-demo-expired"]
        assert [(o.run_key, o.state) for o in ev.observations] == [
            ("fs-demo-done", "succeeded"),
            ("fs-demo-live", "running"),
        ]
        [partial] = us.observations
        assert (partial.state, partial.flags, len(partial.items)) == ("failed", ("partial",), 7)
        assert any("<img src=x onerror=alert(1)>" in i.message for i in partial.items)
        sim.clock.advance(150)
        assert poll_one(client, Target("events_import", "e", ("fs-demo-live",))).observations[0].state == "succeeded"
        sim.clock.advance(3690)  # an hour on (16 cycles of 240 s), a new lap has just started
        assert poll_one(client, Target("events_import", "e", ("fs-demo-live",))).observations[0].state == "running"
    finally:
        server.stop()
