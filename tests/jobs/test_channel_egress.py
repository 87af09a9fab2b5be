"""Alert channels reach public addresses only, plus what ALERT_CHANNEL_ALLOWED_HOSTS lists
(internal webhooks): checked when a channel is saved, again before every send, and at every
connection a send makes. Proved with real listening sockets that must receive nothing."""

import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.exceptions import ImproperlyConfigured

from jobs import alerts, egress
from jobs.models import AlertChannel, AlertDelivery, AlertEvent, AuditEvent, Pipeline

from .test_alerts import Receiver


class Listener:
    """A bare TCP socket listening on a loopback address: did anyone connect?"""

    def __init__(self, host: str = "127.0.0.1") -> None:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.bind((host, 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]

    def connected(self) -> bool:
        self.sock.settimeout(0.3)
        try:
            conn, _ = self.sock.accept()
        except TimeoutError:
            return False
        conn.close()
        return True

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def v4():
    listener = Listener("127.0.0.1")
    yield listener
    listener.close()


@pytest.fixture
def v6():
    listener = Listener("::1")
    yield listener
    listener.close()


@pytest.fixture
def admin_client(client, django_user_model):
    client.force_login(django_user_model.objects.create_superuser("ada", "ada@example.com", None))
    return client


def add_channel(admin_client, url: str):
    return admin_client.post(
        "/admin/jobs/alertchannel/add/",
        {"name": "hook", "enabled": "on", "min_consecutive_failures": "1", "new_url": url},
    )


def stored_channel(url: str) -> AlertChannel:
    """A channel saved before the policy existed, or whose host's DNS changed since."""
    channel = AlertChannel(name="hook")
    channel.url = url
    channel.save()
    return channel


# (URL, what the refusal says): {p4} is a listener on 127.0.0.1, {p6} one on ::1.
REFUSED = [
    ("json://169.254.169.254/latest/meta-data/iam/security-credentials/", "link-local"),
    ("json://10.0.0.1:8080/hook", "private"),
    ("jsons://192.168.1.20/hook", "private"),
    ("xml://172.16.5.4:9000/", "private"),
    ("form://100.64.0.1/", "not public"),
    ("json://localhost:{p4}/hook", "loopback"),
    ("json://127.0.0.1:{p4}/hook", "loopback"),
    ("json://2130706433:{p4}/hook", "loopback"),  # 127.0.0.1 written as one number
    ("json://0.0.0.0:{p4}/hook", "unspecified"),
    ("json://[::1]:{p6}/hook", "loopback"),
    ("json://[0:0:0:0:0:0:0:1]:{p6}/hook", "loopback"),
    ("xml://[::]:{p6}/hook", "unspecified"),
    ("json://[::ffff:7f00:1]:{p4}/hook", "loopback"),  # IPv4-mapped 127.0.0.1
    ("gotify://[::ffff:7f00:1]:{p4}/abcdefghijklmno", "loopback"),
    ("apprise://[::ffff:127.0.0.1]/token", "loopback"),
    ("ntfy://[::ffff:169.254.169.254]/topic", "link-local"),
    ("json://[fe80::1]/hook", "link-local"),
    ("json://[fd00::5]/hook", "private"),
    ("mailto://user:pw@8.8.8.8:{p4}?smtp=127.0.0.1&from=a@example.com", "loopback"),  # the SMTP server
]


@pytest.mark.django_db
@pytest.mark.parametrize(("url", "why"), REFUSED)
def test_internal_addresses_are_refused_on_save(admin_client, v4, v6, url, why) -> None:
    response = add_channel(admin_client, url.format(p4=v4.port, p6=v6.port))
    html = response.content.decode()
    assert response.status_code == 200 and "is not allowed" in html and why in html
    assert "ALERT_CHANNEL_ALLOWED_HOSTS" in html
    assert "user:pw" not in html.split('name="new_url"')[0]  # the reason names no secret
    assert not AlertChannel.objects.exists()
    assert not v4.connected() and not v6.connected()


@pytest.mark.django_db
@pytest.mark.parametrize(("url", "why"), [r for r in REFUSED if "{p" in r[0]])
def test_send_test_to_an_internal_address_connects_nowhere(v4, v6, url, why) -> None:
    channel = stored_channel(url.format(p4=v4.port, p6=v6.port))
    outcome = alerts.send_test(channel)
    assert outcome.startswith("failed") and "is not allowed" in outcome and why in outcome, outcome
    assert not v4.connected() and not v6.connected()


@pytest.mark.django_db
def test_a_due_delivery_to_an_internal_address_is_refused_with_the_reason(v4, mp_account) -> None:
    channel = stored_channel(f"json://localhost:{v4.port}/hook")
    pipeline = Pipeline.objects.create(account=mp_account, kind="import_connector", external_id="p")
    event = AlertEvent.objects.create(pipeline=pipeline, kind="failed", title="t", message="m")
    AlertDelivery.objects.create(event=event, channel=channel)
    assert alerts.deliver_due() == 0
    delivery = AlertDelivery.objects.get()
    assert delivery.last_error.startswith("EgressRefused: host 'localhost:") and "loopback" in delivery.last_error
    assert not v4.connected()


@pytest.mark.django_db
def test_the_admin_send_test_action_connects_nowhere(admin_client, v4) -> None:
    channel = stored_channel(f"json://127.0.0.1:{v4.port}/hook")
    page = admin_client.post(
        "/admin/jobs/alertchannel/",
        {"action": "send_test", "index": 0, "select_across": 0, "_selected_action": [channel.pk]},
        follow=True,
    ).content.decode()
    assert "Hook: failed" in page and "loopback" in page
    assert AuditEvent.objects.filter(action="channel.test", outcome="error").exists()
    assert not v4.connected()


@pytest.mark.django_db
@pytest.mark.parametrize("allowed", [["127.0.0.1"], ["127.0.0.0/8"], ["localhost"]])
def test_listed_internal_webhooks_are_saved_and_delivered(admin_client, settings, allowed) -> None:
    settings.ALERT_CHANNEL_ALLOWED_HOSTS = allowed
    receiver = Receiver()
    try:
        host = "localhost" if allowed == ["localhost"] else "127.0.0.1"
        url = receiver.url.replace("127.0.0.1", host)
        assert add_channel(admin_client, url).status_code == 302
        assert alerts.send_test(AlertChannel.objects.get()).startswith("sent")
        assert receiver.received[0]["title"] == "[TEST] Pipewatch channel 'hook'"
    finally:
        receiver.close()


@pytest.mark.django_db
def test_a_redirect_to_an_internal_address_is_not_followed(settings) -> None:
    """An allowed webhook that answers 307 to another internal address: the guard refuses
    the second connection, whatever the HTTP library would do."""
    settings.ALERT_CHANNEL_ALLOWED_HOSTS = ["127.0.0.1"]
    inner = Listener("127.0.0.2")

    class Redirect(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(307)
            self.send_header("Location", f"http://127.0.0.2:{inner.port}/steal")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    outer = ThreadingHTTPServer(("127.0.0.1", 0), Redirect)
    threading.Thread(target=outer.serve_forever, daemon=True).start()
    try:
        channel = stored_channel(f"json://127.0.0.1:{outer.server_address[1]}/hook")
        outcome = alerts.send_test(channel)
        assert outcome.startswith("failed") and "refused by the egress policy: 127.0.0.2 is a loopback" in outcome
        assert not inner.connected()
    finally:
        outer.shutdown()
        outer.server_close()
        inner.close()


def test_guard_is_inert_outside_a_send(v4) -> None:
    with egress.guarded_connections(), pytest.raises(egress.EgressRefused):
        socket.create_connection(("127.0.0.1", v4.port), timeout=1)
    socket.create_connection(("127.0.0.1", v4.port), timeout=1).close()  # the test's own sockets work
    assert v4.connected()


@pytest.mark.parametrize(
    ("ip", "why"),
    [
        ("::ffff:169.254.169.254", "link-local"),
        ("::ffff:10.1.2.3", "private"),
        ("64:ff9b::a9fe:a9fe", "link-local"),  # NAT64 to 169.254.169.254
        ("2002:7f00:1::1", "loopback"),  # 6to4 around 127.0.0.1
        ("fe80::1%eth0", "link-local"),
        ("224.0.0.251", "multicast"),
        ("198.18.0.1", "private"),
    ],
)
def test_address_forms(settings, ip, why) -> None:
    settings.ALERT_CHANNEL_ALLOWED_HOSTS = []
    assert why in egress.address_problem(ip)


@pytest.mark.parametrize("ip", ["8.8.8.8", "2606:4700:4700::1111", "93.184.215.14"])
def test_public_addresses_pass(settings, ip) -> None:
    settings.ALERT_CHANNEL_ALLOWED_HOSTS = []
    assert egress.address_problem(ip) == ""


def test_a_url_apprise_cannot_read_or_that_names_no_host_is_refused() -> None:
    assert "apprise does not understand" in egress.channel_problem("nosuch://x")
    assert "apprise does not understand" in egress.channel_problem("json://")


@pytest.mark.parametrize("value", ["10.0.0.0/33", "hooks.internal:8080", "300.1.2.3"])
def test_a_malformed_allow_list_fails_loudly(monkeypatch, value) -> None:
    from dashboard.envvars import hosts_or_networks

    monkeypatch.setenv("ALERT_CHANNEL_ALLOWED_HOSTS", f"hooks.internal,{value}")
    with pytest.raises(ImproperlyConfigured, match="ALERT_CHANNEL_ALLOWED_HOSTS"):
        hosts_or_networks("ALERT_CHANNEL_ALLOWED_HOSTS")
