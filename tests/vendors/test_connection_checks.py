"""Test connection for every vendor: the cheap documented read-only calls polling needs (one;
PostHog two, a list per scope), and a failure that says which part failed (auth, permission, not found, network) with
what to check, over real HTTP against the simulator, never echoing the key."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from vendors.base import AccountConfig
from vendors.client import VendorClient
from vendors.connection_check import CheckFailed
from vendors.fullstory.client import FullStoryClient
from vendors.fullstory.simulator import FullStoryWorld
from vendors.http import HttpSettings
from vendors.micro.client import MicroClient
from vendors.micro.simulator import MicroWorld
from vendors.mixpanel.client import MixpanelClient
from vendors.mixpanel.simulator import MixpanelWorld, SimProject
from vendors.posthog.client import PostHogClient
from vendors.posthog.sim_world import SimProject as PostHogProject
from vendors.posthog.simulator import PostHogWorld, SimKey
from vendors.simulator.core import Clock, Fault, SimServer, Simulator
from vendors.statsig.client import StatsigClient
from vendors.statsig.simulator import SimConsole, StatsigWorld

from ..conftest import T0

FAST = HttpSettings(connect_timeout=1, read_timeout=2, total_timeout=3, retries=0)
TEAM = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
KEYS = {
    "fullstory": "na1.the-key-1234",
    "micro": "micro-the-key-1234",
    "statsig": "console-the-key-1234",
    "mixpanel": "mixpanel-the-secret-1234",
    "posthog": "phx_the-key-1234",
}
PH_PROJECT = 4242


@dataclass
class Vendor:
    name: str
    make: Callable[[str, str], VendorClient]  # (base_url, key) -> client
    paths: tuple[str, ...]  # what the check calls, in order
    wrong_key: tuple[str, int]  # (failure, status) for a key the vendor refuses

    @property
    def path(self) -> str:
        return self.paths[0]


VENDORS = [
    Vendor(
        "fullstory",
        lambda url, key: FullStoryClient(AccountConfig("fullstory", "t", {}, {"api_key": key}, base_url=url), FAST),
        ("/v2/events/batch/pipewatch-connection-check",),
        ("auth", 401),
    ),
    Vendor(
        "micro",
        lambda url, key: MicroClient(
            AccountConfig("micro", "t", {"team_id": TEAM}, {"api_key": key}, base_url=url), FAST
        ),
        (f"/v2/prism/{TEAM}/properties",),
        ("permission", 403),  # Micro answers 403 to a key it does not know (its errors guide)
    ),
    Vendor(
        "statsig",
        lambda url, key: StatsigClient(
            AccountConfig("statsig", "t", {}, {"api_key": key}, base_url=url), FAST, now=lambda: T0
        ),
        ("/console/v1/ingestion/status",),
        ("auth", 401),
    ),
    Vendor(
        "mixpanel",
        lambda url, key: MixpanelClient(
            AccountConfig("mixpanel", "t", {"project_id": "12345"}, {"username": "svc", "secret": key}, base_url=url),
            FAST,
        ),
        ("/api/app/projects/12345/warehouse-sources/imports",),
        ("auth", 401),
    ),
    Vendor(
        "posthog",
        lambda url, key: PostHogClient(
            AccountConfig("posthog", "t", {"project_id": str(PH_PROJECT)}, {"api_key": key}, base_url=url), FAST
        ),
        (f"/api/projects/{PH_PROJECT}/batch_exports/", f"/api/projects/{PH_PROJECT}/external_data_sources/"),
        ("auth", 401),
    ),
]


@pytest.fixture
def sim() -> Iterator[tuple[Simulator, str]]:
    sim = Simulator(Clock(T0, frozen=True))
    FullStoryWorld(keys={KEYS["fullstory"]}).install(sim)
    MicroWorld(teams={TEAM: KEYS["micro"]}, rate_limit=1000).install(sim)
    StatsigWorld([SimConsole(KEYS["statsig"])]).install(sim)
    MixpanelWorld([SimProject("12345", username="svc", secret=KEYS["mixpanel"])]).install(sim)
    PostHogWorld(
        keys={
            KEYS["posthog"]: SimKey({PH_PROJECT}),
            "phx_exports-only-1234": SimKey({PH_PROJECT}, frozenset({"batch_export:read"})),
        },
        projects={PH_PROJECT: PostHogProject(PH_PROJECT)},
    ).install(sim)
    server = SimServer(sim).start()
    try:
        yield sim, server.url
    finally:
        server.stop()


def _failure(vendor: Vendor, url: str, key: str) -> CheckFailed:
    with pytest.raises(CheckFailed) as info:
        vendor.make(url, key).check_credentials()
    assert key not in str(info.value) and key not in repr(info.value.args)
    return info.value


@pytest.mark.parametrize("vendor", VENDORS, ids=lambda v: v.name)
def test_the_check_reads_one_documented_endpoint_and_passes(sim, vendor: Vendor) -> None:
    simulator, url = sim
    assert vendor.make(url, KEYS[vendor.name]).check_credentials().startswith("authenticated")
    assert [path for _, path in simulator.request_log] == list(vendor.paths)
    assert {method for method, _ in simulator.request_log} == {"GET"}  # read-only


@pytest.mark.parametrize("vendor", VENDORS, ids=lambda v: v.name)
def test_a_refused_key(sim, vendor: Vendor) -> None:
    _, url = sim
    failed = _failure(vendor, url, "wrong-key-5678")
    assert (failed.failure, failed.http_status) == vendor.wrong_key
    assert failed.hint and str(failed).startswith(("Authentication failed", "Permission denied"))


@pytest.mark.parametrize("vendor", VENDORS, ids=lambda v: v.name)
def test_a_key_without_permission(sim, vendor: Vendor) -> None:
    simulator, url = sim
    simulator.inject(Fault("status", vendor.path, 403, {"message": "insufficient permissions", "code": "forbidden"}))
    failed = _failure(vendor, url, KEYS[vendor.name])
    assert (failed.failure, failed.http_status) == ("permission", 403)
    assert str(failed).startswith("Permission denied (HTTP 403): insufficient permissions.")


@pytest.mark.parametrize("vendor", VENDORS, ids=lambda v: v.name)
def test_a_base_url_that_is_not_the_vendor(sim, vendor: Vendor) -> None:
    simulator, url = sim
    simulator.inject(Fault("html", vendor.path, 404))  # some web server's 404 page
    failed = _failure(vendor, url, KEYS[vendor.name])
    assert (failed.failure, failed.http_status) == ("not_found", 404)
    assert str(failed).startswith("Not found (HTTP 404)")


@pytest.mark.parametrize("vendor", VENDORS, ids=lambda v: v.name)
def test_nothing_answers(vendor: Vendor) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    failed = _failure(vendor, f"http://127.0.0.1:{port}", KEYS[vendor.name])
    assert failed.failure == "network" and failed.http_status is None
    assert str(failed).startswith("Network problem: cannot connect to 127.0.0.1")


def test_a_micro_team_the_key_cannot_see(sim) -> None:
    _, url = sim
    client = MicroClient(
        AccountConfig("micro", "t", {"team_id": "other-team"}, {"api_key": KEYS["micro"]}, base_url=url), FAST
    )
    with pytest.raises(CheckFailed) as info:
        client.check_credentials()
    assert info.value.failure == "permission" and "no access to this team" in str(info.value)


def test_a_posthog_key_without_the_warehouse_scope(sim) -> None:
    """Polling reads both lists: a key scoped to batch exports alone fails the check, naming the scope."""
    _, url = sim
    posthog = next(v for v in VENDORS if v.name == "posthog")
    failed = _failure(posthog, url, "phx_exports-only-1234")
    assert (failed.failure, failed.http_status) == ("permission", 403)
    assert "external_data_source:read" in str(failed) and "scopes" in failed.hint
