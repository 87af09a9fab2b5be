"""Who is calling, behind a reverse proxy: X-Forwarded-For counts only when the peer is a
trusted proxy (TRUSTED_PROXIES), and then its rightmost untrusted entry is the client. The
login lockout and the /metrics allow-list both ask the same function."""

import os
import subprocess
import sys
from ipaddress import ip_network

import pytest
from django.test import RequestFactory

from dashboard.clientip import client_ip

PROXY, CLIENT, OTHER = "10.0.0.1", "203.0.113.5", "198.51.100.7"


def _ip(remote: str, forwarded: str | None = None) -> str:
    extra = {"HTTP_X_FORWARDED_FOR": forwarded} if forwarded is not None else {}
    return client_ip(RequestFactory().get("/", REMOTE_ADDR=remote, **extra))


def test_without_trusted_proxies_the_peer_is_the_client(settings) -> None:
    settings.TRUSTED_PROXIES = []
    assert _ip(CLIENT) == CLIENT
    assert _ip(CLIENT, "127.0.0.1") == CLIENT  # forged: nobody we trust wrote it


def test_a_forged_header_from_an_untrusted_peer_is_ignored(settings) -> None:
    settings.TRUSTED_PROXIES = [ip_network("10.0.0.0/8")]
    assert _ip(OTHER, "10.9.9.9, 127.0.0.1") == OTHER


def test_behind_a_trusted_proxy_the_rightmost_untrusted_entry_is_the_client(settings) -> None:
    settings.TRUSTED_PROXIES = [ip_network("10.0.0.0/8")]
    assert _ip(PROXY, CLIENT) == CLIENT
    assert _ip(PROXY, f"127.0.0.1, {CLIENT}") == CLIENT  # the client's own forged entry is left of it
    assert _ip(PROXY, f"{OTHER}, {CLIENT}, 10.0.0.2") == CLIENT  # two proxies of ours
    assert _ip(PROXY, f" {CLIENT} ,10.0.0.2") == CLIENT
    assert _ip(PROXY, "10.0.0.3, 10.0.0.2") == "10.0.0.3"  # all ours: the farthest one
    assert _ip(PROXY) == PROXY  # a proxy that did not say
    assert _ip(PROXY, f"{CLIENT}:4711") == CLIENT  # some proxies add the port
    assert _ip(PROXY, "[2001:db8::5]:443") == "2001:db8::5"
    assert _ip(PROXY, "2001:db8::5") == "2001:db8::5"


@pytest.mark.parametrize("junk", ["unknown", "", ",,", "300.1.1.1", "a" * 5000, "1.2.3.4\x00", "_hidden"])
def test_junk_in_the_header_never_becomes_a_client(settings, junk) -> None:
    settings.TRUSTED_PROXIES = [ip_network("10.0.0.0/8")]
    assert _ip(PROXY, junk) == PROXY
    assert _ip(PROXY, f"{CLIENT}, {junk}") == PROXY


def test_a_bad_trusted_proxies_setting_stops_startup() -> None:
    env = {**os.environ, "TRUSTED_PROXIES": "10.0.0.0/8,proxy.internal"}
    code = "import django; django.setup()"
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0 and "TRUSTED_PROXIES" in result.stderr and "proxy.internal" in result.stderr


# --- the login lockout (django-axes) ---------------------------------------------------------


@pytest.fixture
def dana(django_user_model):
    return django_user_model.objects.create_user("dana", "dana@example.com", "correct-horse-battery")


def _login(client, password: str, remote: str, forwarded: str | None = None):
    extra = {"HTTP_X_FORWARDED_FOR": forwarded} if forwarded is not None else {}
    return client.post("/login/", {"username": "dana", "password": password}, REMOTE_ADDR=remote, **extra)


def test_a_lockout_behind_the_proxy_locks_out_only_that_client(client, dana, settings) -> None:
    settings.TRUSTED_PROXIES = [ip_network(f"{PROXY}/32")]
    for _ in range(settings.AXES_FAILURE_LIMIT):
        _login(client, "wrong", PROXY, OTHER)
    assert _login(client, "correct-horse-battery", PROXY, OTHER).status_code == 429
    client.logout()
    assert _login(client, "correct-horse-battery", PROXY, CLIENT).status_code == 302  # dana herself


def test_a_forged_header_does_not_escape_the_lockout(client, dana, settings) -> None:
    settings.TRUSTED_PROXIES = [ip_network(f"{PROXY}/32")]
    for i in range(settings.AXES_FAILURE_LIMIT):
        _login(client, "wrong", OTHER, f"192.0.2.{i}")
    assert _login(client, "correct-horse-battery", OTHER, "192.0.2.200").status_code == 429


# --- /metrics -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_metrics_refuse_a_public_client_forwarded_by_a_local_proxy(client, settings) -> None:
    settings.METRICS_TOKEN = ""
    settings.TRUSTED_PROXIES = [ip_network("127.0.0.1/32")]
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR=CLIENT).status_code == 403
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 200  # a local scraper


@pytest.mark.django_db
def test_metrics_refuse_forwarded_requests_from_an_untrusted_proxy(client, settings) -> None:
    """A local proxy nobody declared: we cannot know who is behind it, so no address grant."""
    settings.METRICS_TOKEN = ""
    settings.TRUSTED_PROXIES = []
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR=CLIENT).status_code == 403


@pytest.mark.django_db
def test_metrics_allow_an_allowed_client_behind_a_trusted_proxy(client, settings) -> None:
    settings.METRICS_TOKEN = ""
    settings.TRUSTED_PROXIES = [ip_network(f"{PROXY}/32")]
    settings.METRICS_ALLOWED_NETWORKS = [ip_network("10.20.0.0/16")]
    assert client.get("/metrics", REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="10.20.1.2").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=CLIENT).status_code == 403
