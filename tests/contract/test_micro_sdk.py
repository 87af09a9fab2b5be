"""Micro's official SDK, micro-so, drives the simulator with `_strict_response_validation`:
any answer its models cannot validate raises, so every scenario below is also a check of
the simulator. Imports of every object type (sync and async), polling to complete and to
failed, dedupe, idempotent replay and mismatch, expiry, auth, 400 and 429, the demo world."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import micro_so
import pytest

from vendors.micro.simulator import DEMO_KEY, DEMO_TEAM, MicroWorld, install_demo
from vendors.simulator.core import Clock, SimServer, Simulator

from ..conftest import T0
from . import micro_sdk
from .exchanges import Exchange, Recorder

TEAM, KEY = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee", "micro-sdk-key"


@dataclass
class World:
    sim: Simulator
    world: MicroWorld
    recorder: Recorder
    url: str

    def sdk(self, key: str = KEY, team: str = TEAM) -> micro_so.Micro:
        # No retries: every answer the SDK gets is one we look at.
        return micro_so.Micro(
            api_key=key, team_id=team, base_url=self.url, _strict_response_validation=True, max_retries=0
        )


def serve(world: MicroWorld | None = None, demo: bool = False) -> Iterator[World]:
    sim = Simulator(Clock(T0, frozen=True))
    recorder = Recorder(sim)
    world = install_demo(sim, T0) if demo else (world or MicroWorld(teams={TEAM: KEY}))
    world.rate_limit = 1000
    if not demo:
        world.install(sim)
    server = SimServer(sim).start()
    try:
        yield World(sim, world, recorder, server.url)
    finally:
        server.stop()


@pytest.fixture
def w() -> Iterator[World]:
    yield from serve()


def objects(n: int, **extra: object) -> list[dict]:
    return [{"default": {"email": f"user{i}@example.com", "name": f"User {i}", **extra}} for i in range(n)]


def _checked(exchanges: list[Exchange], requests: bool = True) -> list[Exchange]:
    """The SDK validated the answers; the same exchanges through our own SDK-derived checks."""
    assert exchanges
    assert [p for e in exchanges for p in micro_sdk.response_problems(e)] == []
    if requests:  # the SDK's own requests hold our checks to the SDK
        assert [p for e in exchanges for p in micro_sdk.request_problems(e.request)] == []
    return exchanges


@pytest.mark.parametrize("object_type", micro_sdk.import_object_types())
def test_small_imports_of_every_type_finish_in_the_answer(w, object_type: str) -> None:
    plural = object_type[:-1] + "ies" if object_type.endswith("y") else object_type + "s"
    answer = getattr(w.sdk().prism.objects, plural).bulk_create(objects=objects(3))
    assert (answer.status, answer.job_id, answer.total, len(answer.results)) == ("complete", None, 3, 3)
    assert all(r.created and not r.existing for r in answer.results)
    _checked(w.recorder.take())


def test_a_large_import_is_a_job_polled_to_complete_with_dedupe(w) -> None:
    sdk = w.sdk()
    sdk.prism.objects.contacts.bulk_create(objects=objects(5), options={"dedupe_by": "email"})
    upper = [{"default": {"email": f"USER{i}@EXAMPLE.COM"}} for i in range(150)]
    options = {"dedupe_by": "email", "case_insensitive": True, "list_id": "crm-1"}
    started = sdk.prism.objects.contacts.bulk_create(objects=upper, options=options, idempotency_key="upload-1")
    assert (started.status, started.total, started.results) == ("processing", 150, None) and started.job_id
    w.sim.clock.advance(30)
    half = sdk.prism.imports.get(started.job_id)
    assert half.status == "processing" and 0 < half.processed < 150
    w.sim.clock.advance(31)
    done = sdk.prism.imports.get(started.job_id)
    assert (done.status, done.succeeded, len(done.results)) == ("complete", 150, 150)
    assert sum(1 for r in done.results if r.existing) == 5
    again = sdk.prism.objects.contacts.bulk_create(objects=upper, options=options, idempotency_key="upload-1")
    assert again.job_id == started.job_id  # replayed
    with pytest.raises(micro_so.ConflictError):
        sdk.prism.objects.contacts.bulk_create(objects=upper[:120], idempotency_key="upload-1")
    _checked(w.recorder.take())


def test_a_failed_job_and_an_expired_one(w) -> None:
    sdk = w.sdk()
    started = sdk.prism.objects.deals.bulk_create(objects=objects(120, note="fail the job"))
    w.sim.clock.advance(61)
    failed = sdk.prism.imports.get(started.job_id)
    assert failed.status == "failed" and failed.error.message and failed.results is None
    w.sim.clock.advance(7 * 86400)
    with pytest.raises(micro_so.NotFoundError):
        sdk.prism.imports.get(started.job_id)
    seed = sdk.prism.imports.get("job_id")  # the seed's example, verbatim
    assert seed.results[0].id == "182bd5e5-6e1a-4fe4-a799-aa6d9a6ab26e"
    _checked(w.recorder.take())


def test_errors_the_sdk_types(w) -> None:
    w.world.teams["bbbbbbbb-0000-0000-0000-000000000000"] = "someone-else"
    with pytest.raises(micro_so.AuthenticationError):
        w.sdk(key="").prism.imports.get("job_id")
    with pytest.raises(micro_so.PermissionDeniedError):
        w.sdk(key="revoked").prism.properties.list_all()
    with pytest.raises(micro_so.PermissionDeniedError):
        w.sdk(team="bbbbbbbb-0000-0000-0000-000000000000").prism.properties.list_all()
    with pytest.raises(micro_so.BadRequestError):
        w.sdk().prism.objects.contacts.bulk_create(objects=[{"default": "not a map"}])
    with pytest.raises(micro_so.BadRequestError):
        w.sdk().prism.objects.contacts.bulk_create(objects=objects(1), options={"case_insensitive": "yes"})
    w.world.rate_limit = 1
    with pytest.raises(micro_so.RateLimitError) as info:
        for _ in range(3):
            w.sdk().prism.properties.list_all()
    assert info.value.response.headers["retry-after"] == "1"
    _checked(w.recorder.take(), requests=False)  # some were wrong on purpose


def test_properties_list_all_is_the_connection_check(w) -> None:
    w.sdk().prism.objects.identities.bulk_create(objects=objects(2))
    assert w.sdk().prism.properties.list_all() == {"identity": ["email", "name"]}
    _checked(w.recorder.take())


def test_the_demo_world() -> None:
    for w in serve(demo=True):
        sdk = w.sdk(DEMO_KEY, DEMO_TEAM)
        seen = []
        for _ in range(3):
            for job in ("mi-demo-live", "mi-demo-partial", "mi-demo-failed"):
                seen.append((job, sdk.prism.imports.get(job).status))
            w.sim.clock.advance(120)
        with pytest.raises(micro_so.NotFoundError):
            sdk.prism.imports.get("mi-demo-expired")
        assert {s for _, s in seen} == {"processing", "complete", "failed"}
        _checked(w.recorder.take())
