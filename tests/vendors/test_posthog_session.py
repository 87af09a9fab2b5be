"""PostHogSession against the simulator over HTTP: every call it makes, PostHog's errors as
typed vendor errors, pages followed to the end, runs older than the 7-day default."""

from datetime import timedelta

import pytest

from vendors.base import AuthError, BadResponse, NotFound, RateLimited, Rejected
from vendors.http import HttpClient, HttpSettings
from vendors.posthog.session import PostHogSession, error_parser
from vendors.posthog.sim_exports import Plan, always, iso

from ..conftest import T0
from .test_posthog_simulator import KEY, PH, PID, READ_ONLY, ph  # noqa: F401 (the fixture)

FAST = HttpSettings(connect_timeout=1, read_timeout=2, total_timeout=3, retries=0)


def session(ph: PH, key: str = KEY, project: str = str(PID)) -> PostHogSession:  # noqa: F811
    return PostHogSession(HttpClient(FAST, error_parser=error_parser), ph.url, key, project)


def test_exports_and_every_run_including_older_than_seven_days(ph: PH) -> None:  # noqa: F811
    export = ph.export("hourly", born_days=10)
    s = session(ph)
    assert [e["id"] for e in s.exports()] == [export.id]
    assert len(s.runs(export.id, after="-30d")) == 240  # three pages of 100, followed
    assert len(s.runs(export.id, after=iso(T0 - timedelta(days=2)))) == 49


def test_actions_reach_the_simulator(ph: PH) -> None:  # noqa: F811
    export = ph.export("daily", interval="day", born_days=20, script=always(Plan("Failed", 30, 0, "boom")))
    export.paused = False
    s = session(ph)
    runs = s.runs(export.id, after="-30d")
    backfill_id = s.retry_run(export.id, runs[-1]["id"])
    assert backfill_id in {b["id"] for b in s.backfills(export.id)}
    created = s.create_backfill(export.id, "2026-11-01T00:00:00Z", "2026-11-03T00:00:00Z")
    assert s.cancel_backfill(export.id, created)["status"] == "Cancelled"
    assert s.pause(export.id) == {"paused": True} and s.export(export.id)["paused"] is True
    assert s.unpause(export.id, backfill=False) == {"paused": False}


def test_posthog_errors_become_typed_errors_with_their_detail(ph: PH) -> None:  # noqa: F811
    export = ph.export("daily", interval="day")
    with pytest.raises(AuthError, match="missing required scope 'batch_export:write'") as denied:
        session(ph, READ_ONLY).pause(export.id)
    assert denied.value.code == "permission_denied" and denied.value.http_status == 403
    with pytest.raises(AuthError, match="invalid"):
        session(ph, "phx_nope").exports()
    with pytest.raises(AuthError, match="access to the project"):
        session(ph, project="8").exports()
    with pytest.raises(Rejected, match=r"^HTTP 400: end_at: The provided 'end_at' happens in the future$") as rejected:
        session(ph).create_backfill(export.id, "2026-11-19T00:00:00Z", "2026-11-22T00:00:00Z")
    assert rejected.value.http_status == 400
    with pytest.raises(NotFound):
        session(ph).export("gone")


def test_throttled_is_rate_limited_without_a_promised_wait(ph: PH) -> None:  # noqa: F811
    ph.world.per_minute = 1
    session(ph).exports()
    with pytest.raises(RateLimited) as limited:
        session(ph).exports()
    assert limited.value.retry_after is None  # PostHog does not promise Retry-After: the engine backs off anyway


def test_a_next_link_to_another_host_is_not_followed(ph: PH) -> None:  # noqa: F811
    from vendors.simulator.core import Fault

    ph.export("e")
    page = {"count": 2, "next": "https://elsewhere.example/api/projects/7/batch_exports/?offset=1", "results": [{}]}
    ph.world.sim.inject(Fault("wrong_shape", path=f"/api/projects/{PID}/batch_exports/", body=page, times=1))
    with pytest.raises(BadResponse, match="another host"):
        session(ph).exports()


def test_a_next_link_to_another_scheme_on_the_same_host_is_not_followed(ph: PH) -> None:  # noqa: F811
    """Only the project's own origin: https to http on the same host would send the key in clear."""
    from urllib.parse import urlsplit

    from vendors.simulator.core import Fault

    ph.export("e")
    other = "https" if urlsplit(ph.url).scheme == "http" else "http"
    following = f"{other}://{urlsplit(ph.url).netloc}/api/projects/{PID}/batch_exports/?offset=1"
    page = {"count": 2, "next": following, "results": [{}]}
    ph.world.sim.inject(Fault("wrong_shape", path=f"/api/projects/{PID}/batch_exports/", body=page, times=1))
    with pytest.raises(BadResponse, match="another host"):
        session(ph).exports()
    assert [e["id"] for e in session(ph).exports()]  # the fault is spent: the real list


def test_the_error_parser_reads_every_envelope() -> None:
    assert error_parser({"type": "validation_error", "code": "invalid_input", "detail": "bad", "attr": "start_at"}) == (
        "invalid_input",
        "start_at: bad",
    )
    assert error_parser({"message": "A sync is already running"}) == ("", "A sync is already running")
    assert error_parser({"detail": "There is no running sync"}) == ("", "There is no running sync")
    assert error_parser(["not", "an", "object"]) == ("", "")


def test_warehouse_calls(ph: PH) -> None:  # noqa: F811
    from vendors.posthog.sim_tables import SimSchema, SimSource

    source = SimSource("Stripe", T0 - timedelta(days=1))
    schema = SimSchema("charges", source.id, "6hour", T0 - timedelta(days=1) + timedelta(minutes=5))
    source.schemas = [schema]
    ph.project.sources[source.id] = source
    s = session(ph)
    assert [src["id"] for src in s.sources()] == [source.id]
    assert len(s.jobs(source.id, schema.id)) == 4
    s.sync_schema(schema.id)
    assert s.schema(schema.id)["status"] == "Running"
    s.cancel_schema(schema.id)
    assert s.jobs(source.id, schema.id)[0]["latest_error"] == "Sync cancelled by user"
    with pytest.raises(Rejected, match="no running sync"):
        s.cancel_schema(schema.id)
    s.resync_schema(schema.id)
    assert s.schema(schema.id)["status"] == "Running"
