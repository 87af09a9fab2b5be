"""Every bad reply the issue lists, from a real HTTP server, becomes a typed VendorError."""

import socket
from datetime import UTC, datetime

import pytest
import time_machine

from vendors import base as vb
from vendors.base import AccountConfig, Target
from vendors.http import HttpSettings, parse_retry_after
from vendors.mixpanel.client import MixpanelClient
from vendors.simulator.core import Fault

FAST = HttpSettings(connect_timeout=1, read_timeout=1, total_timeout=2, retries=0, max_bytes=1024 * 1024)
TARGET = Target("import_connector", "seed-running")


def client(sim, secret: str = "s3cret", base_url: str | None = None) -> MixpanelClient:
    account = AccountConfig(
        vendor="mixpanel",
        name="t",
        base_url=base_url or sim.url,
        settings={"project_id": "12345"},
        credentials={"username": "svc", "secret": secret},
    )
    return MixpanelClient(account, FAST)


def poll_error(sim, **kwargs) -> vb.VendorError:
    [result] = client(sim, **kwargs).poll([TARGET])
    assert result.error is not None, "expected the poll to fail"
    return result.error


@pytest.mark.parametrize(
    ("fault", "error_type", "fragment"),
    [
        (Fault("status", status=500, body={"status": "error", "error": "internal"}), vb.Transient, "internal"),
        (Fault("html", status=502), vb.Transient, "502 Bad Gateway"),
        (Fault("status", status=503, body="down"), vb.Transient, "503"),
        (Fault("status", status=401, body={"status": "error", "error": "bad key"}), vb.AuthError, "bad key"),
        (Fault("status", status=403, body={"status": "error", "error": "no role"}), vb.AuthError, "no role"),
        (
            Fault("status", status=404, body={"status": "error", "type": "not_found", "message": "gone"}),
            vb.NotFound,
            "gone",
        ),
        (
            Fault("status", status=400, body={"status": "error", "type": "invalid_property", "message": "bad"}),
            vb.Rejected,
            "bad",
        ),
        (Fault("not_json"), vb.BadResponse, "expected JSON"),
        (Fault("wrong_shape"), vb.BadResponse, "unexpected shape"),
        (Fault("bad_utf8"), vb.BadResponse, "UTF-8"),
        (Fault("huge"), vb.BadResponse, "cap"),
        (Fault("timeout", seconds=3), vb.Transient, "did not answer"),
        (Fault("trickle", seconds=4), vb.Transient, "took longer"),
        (Fault("drop"), vb.Transient, ""),
    ],
    ids=lambda v: getattr(v, "kind", None) and f"{v.kind}-{getattr(v, 'status', '')}",
)
def test_fault_becomes_typed_error(sim, fault: Fault, error_type: type, fragment: str) -> None:
    sim.simulator.inject(fault)
    error = poll_error(sim)
    assert isinstance(error, error_type), f"{type(error).__name__}: {error}"
    assert fragment in str(error)
    assert "s3cret" not in str(error)


def test_rate_limit_carries_retry_after(sim) -> None:
    sim.simulator.inject(
        Fault("status", status=429, body={"status": "error", "error": "slow down"}, headers={"Retry-After": "17"})
    )
    error = poll_error(sim)
    assert isinstance(error, vb.RateLimited) and error.retry_after == 17 and error.account_wide


def test_wrong_secret_is_an_auth_error_from_the_simulator(sim) -> None:
    error = poll_error(sim, secret="wrong")
    assert isinstance(error, vb.AuthError) and error.http_status == 401


def test_refused_connection_is_transient(sim) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    error = poll_error(sim, base_url=f"http://127.0.0.1:{port}")
    assert isinstance(error, vb.Transient) and "refused" in str(error)


def test_account_wide_error_stops_the_remaining_targets(sim) -> None:
    sim.simulator.inject(Fault("status", status=401, body={"error": "nope"}))
    results = client(sim).poll([TARGET, Target("import_connector", "seed-failed")])
    assert len(results) == 1 and isinstance(results[0].error, vb.AuthError)


def test_fault_clears_and_polling_recovers(sim) -> None:
    sim.simulator.inject(Fault("status", status=500, times=1))
    assert isinstance(poll_error(sim), vb.Transient)
    [ok] = client(sim).poll([TARGET])
    assert ok.error is None and ok.observations[0].progress == 0.25


def test_bounded_retries_absorb_one_5xx_on_get(sim) -> None:
    sim.simulator.inject(Fault("status", status=502, times=1))
    retrying = MixpanelClient(client(sim).account, HttpSettings(retries=2, backoff_factor=0))
    [result] = retrying.poll([TARGET])
    assert result.error is None


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("5", 5.0), ("0", 0.0), (None, None), ("soon", None), ("inf", None), ("nan", None), ("-3", 0.0)],
)
def test_parse_retry_after(value, seconds) -> None:
    assert parse_retry_after(value) == seconds


def test_account_config_repr_hides_secrets() -> None:
    config = AccountConfig(vendor="mixpanel", name="x", credentials={"secret": "hunter2"})
    assert "hunter2" not in repr(config) and "secret" in repr(config)


def test_a_credential_with_a_line_break_is_refused_before_sending_and_never_quoted(sim) -> None:
    before = len(sim.simulator.request_log)
    error = poll_error(sim, secret="SEKRETSS7Q2XK9ZV4WMN\n")
    assert isinstance(error, vb.AuthError) and error.account_wide
    assert "the credential contains a line break or leading/trailing whitespace (secret)" in str(error)
    assert "SEKR" not in str(error) and len(sim.simulator.request_log) == before  # nothing was sent


def test_a_header_requests_refuses_is_named_not_quoted(sim) -> None:
    http = client(sim).http
    with pytest.raises(vb.Rejected) as caught:
        http.request("GET", f"{sim.url}/api/app/projects/12345/connectors", headers={"X-Thing": " SEKRETSS7Q2X"})
    assert "the 'X-Thing' header was not sent" in str(caught.value) and "SEKR" not in str(caught.value)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("Sun, 15 Jun 2031 12:02:00 GMT", 120.0),
        ("Sun, 15 Jun 2031 11:00:00 GMT", 0.0),
        ("Sun, 15 Jun 2031 12:00:30", 30.0),
    ],
)
def test_an_http_date_retry_after_counts_from_the_clock(value, seconds) -> None:
    """The date form counts from vendors.clock's now, whatever day the suite runs."""
    with time_machine.travel(datetime(2031, 6, 15, 12, 0, tzinfo=UTC), tick=False):
        assert parse_retry_after(value) == seconds
