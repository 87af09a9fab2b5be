"""Micro: mapping table, the seed verbatim, and the client over HTTP against the simulator
(sync and async imports, per-row results kept, dedupe, expiry, idempotency, limits)."""

import json
from collections.abc import Iterator
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vendors import base as vb
from vendors.base import AccountConfig, Target
from vendors.connection_check import CheckFailed
from vendors.http import HttpSettings
from vendors.micro.client import MicroClient
from vendors.micro.normalize import JOB_STATES, normalize_job
from vendors.micro.simulator import SEED_FILE, MicroWorld, seed_job_text
from vendors.seeds import SEED_DIR
from vendors.simulator.core import Clock, SimServer, Simulator

from ..conftest import T0
from .polling import poll_one
from .test_mixpanel_normalizer import json_values

FAST = HttpSettings(connect_timeout=1, read_timeout=2, total_timeout=3, retries=0)
TEAM, KEY = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee", "micro-test-key"
STREAM = Target("import", "import")


def test_the_seed_sample_parses() -> None:
    text = seed_job_text()
    assert text in (SEED_DIR / SEED_FILE).read_text()
    obs = normalize_job(STREAM, json.loads(text))
    assert (obs.run_key, obs.state, obs.vendor_status, obs.progress) == ("job_id", "succeeded", "complete", 1.0)
    assert obs.items[0].data["id"] == "182bd5e5-6e1a-4fe4-a799-aa6d9a6ab26e" and obs.items[0].data["existing"] is True
    assert obs.expires_at is not None


@pytest.mark.parametrize(
    ("body", "state", "flags", "progress"),
    [
        ({"job_id": "j", "status": s, "total": 10, "processed": 5}, JOB_STATES[s], (), 1.0 if s == "complete" else 0.5)
        for s in JOB_STATES
    ]
    + [
        (
            {"job_id": "j", "status": "complete", "total": 10, "processed": 10, "failed": 2},
            "succeeded",
            ("partial",),
            1.0,
        ),
        ({"job_id": "j", "status": "melting"}, "unknown", (), None),
    ],
)
def test_status_mapping(body, state, flags, progress) -> None:
    obs = normalize_job(STREAM, body)
    assert (obs.state, obs.flags, obs.progress) == (state, flags, progress)


def test_failed_job_keeps_the_vendors_message() -> None:
    obs = normalize_job(
        STREAM, {"job_id": "j", "status": "failed", "error": {"code": "bad_csv", "message": "bad header"}}
    )
    assert (obs.error.message, obs.error.code) == ("bad header", "bad_csv")


@pytest.mark.parametrize(
    "body",
    [
        [],
        {"status": "complete"},
        {"job_id": "j", "results": "x"},
        {"job_id": "j", "total": "lots"},
        {"job_id": "j", "status": 3},
    ],
)
def test_wrong_shapes_are_bad_responses(body) -> None:
    with pytest.raises(vb.BadResponse):
        normalize_job(STREAM, body)


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        json_values,
        st.fixed_dictionaries(
            {"job_id": st.text(min_size=1)},
            optional={
                "status": json_values,
                "total": json_values,
                "processed": json_values,
                "failed": json_values,
                "results": json_values,
                "error": json_values,
                "created_at": json_values,
                "expires_at": json_values,
            },
        ),
    )
)
def test_arbitrary_json_only_ever_raises_bad_response(body) -> None:
    try:
        obs = normalize_job(STREAM, body)
    except vb.BadResponse:
        return
    assert obs.state in vb.STATES and (obs.progress is None or 0 <= obs.progress <= 1)


@pytest.fixture
def micro() -> Iterator[tuple[MicroWorld, Simulator, str]]:
    sim = Simulator(Clock(T0, frozen=True))
    world = MicroWorld(teams={TEAM: KEY})
    world.install(sim)
    server = SimServer(sim).start()
    yield world, sim, server.url
    server.stop()


def client(url: str, key: str = KEY, team: str = TEAM) -> MicroClient:
    return MicroClient(AccountConfig("micro", "t", {"team_id": team}, {"api_key": key}, base_url=url), FAST)


def rows(n: int, **extra) -> list[dict]:
    return [{"email": f"user{i}@example.com", "name": f"User {i}", **extra} for i in range(n)]


def test_small_imports_finish_in_the_answer(micro) -> None:
    _, _, url = micro
    result = client(url).create("import", {"object_type": "contact", "rows": rows(12), "dedupe_by": "email"})
    assert result.run_keys == [] and "12 rows synchronously" in result.message
    [obs] = result.observations
    assert obs.state == "succeeded" and obs.run_key.startswith("sync-") and len(obs.items) == 12


def test_large_imports_become_jobs_with_results_and_dedupe(micro) -> None:
    _, sim, url = micro
    client(url).create("import", {"object_type": "contact", "rows": rows(5), "dedupe_by": "email"})
    upper = [{"email": r["email"].upper(), "name": r["name"]} for r in rows(150)]
    created = client(url).create(
        "import", {"object_type": "contact", "rows": upper, "dedupe_by": "email", "case_insensitive": True}
    )
    [job_id] = created.run_keys
    target = Target("import", "import", open_runs=(job_id,))
    sim.clock.advance(30)
    [half] = poll_one(client(url), target).observations
    assert half.state == "running" and half.progress == pytest.approx(0.5, abs=0.02) and half.items is None
    sim.clock.advance(31)
    [done] = poll_one(client(url), target).observations
    assert done.state == "succeeded" and len(done.items) == 150
    assert sum(1 for i in done.items if i.data["existing"]) == 5  # matched case-insensitively
    assert done.expires_at == T0 + timedelta(days=7)


def test_after_seven_days_the_job_is_gone(micro) -> None:
    _, sim, url = micro
    [job_id] = client(url).create("import", {"object_type": "deal", "rows": rows(100)}).run_keys
    sim.clock.advance(7 * 86400 + 1)
    result = poll_one(client(url), Target("import", "import", open_runs=(job_id,)))
    assert result.gone == [job_id]


def test_idempotent_replay_and_mismatch(micro) -> None:
    _, _, url = micro
    spec = {"object_type": "contact", "rows": rows(120), "idempotency_key": "upload-1"}
    first = client(url).create("import", spec)
    assert client(url).create("import", spec).run_keys == first.run_keys
    with pytest.raises(vb.Rejected):
        client(url).create("import", {**spec, "rows": rows(121)})


@pytest.mark.parametrize(
    ("key", "team", "failure", "status"),
    [("", TEAM, "auth", 401), ("other", TEAM, "permission", 403), (KEY, "someone-elses-team", "permission", 403)],
)
def test_auth(micro, key, team, failure, status) -> None:
    _, _, url = micro
    with pytest.raises(CheckFailed) as info:
        client(url, key=key, team=team).check_credentials()
    assert (info.value.failure, info.value.http_status) == (failure, status)
    assert client(url).check_credentials() == "authenticated: Micro accepts the key for this team"


def test_ten_requests_a_second(micro) -> None:
    _, _, url = micro
    c = client(url)
    with pytest.raises(CheckFailed) as info:
        for _ in range(15):
            c.check_credentials()
    assert (info.value.failure, info.value.retry_after) == ("rate_limited", 1)


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({"object_type": "spaceship", "rows": rows(1)}, "object_type"),
        ({"object_type": "contact", "rows": []}, "rows"),
        ({"object_type": "contact", "rows": rows(2), "dedupe_by": "Email Address"}, "dedupe_by"),
        ({"object_type": "contact", "rows": rows(2), "dedupe_by": "phone"}, "dedupe_by"),
        ({"object_type": "comment", "rows": rows(2)}, "object_type"),  # in no Micro artefact
    ],
)
def test_validation_names_the_field(spec, field) -> None:
    with pytest.raises(vb.InvalidSpec) as info:
        client("http://127.0.0.1:1").validate_create("import", spec)
    assert field in info.value.errors
