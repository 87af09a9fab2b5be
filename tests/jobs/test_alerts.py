"""Alerts fire once per change: against the simulator, into a real local webhook receiver."""

import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core import mail
from django.utils import timezone

from jobs import alerts, polling
from jobs.models import AlertChannel, AlertDelivery, AlertEvent, MaintenanceWindow, Pipeline
from vendors.mixpanel.simulator import ScriptedRun, SimConnector

from ..conftest import T0, user_with_role

GZIP = "No compression specified but Gzip detected. Please submit a new request with correct compression as param"


class Receiver:
    def __init__(self, status: int = 200) -> None:
        received: list[dict] = []
        self.received = received
        self.status = status
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                received.append(json.loads(body))
                self.send_response(outer.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"json://127.0.0.1:{self.server.server_address[1]}/hook"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(autouse=True)
def _local_receivers_allowed(settings) -> None:
    """These tests deliver to webhook receivers on 127.0.0.1, an internal webhook as far as
    the egress policy goes: allowed the way an operator would allow one."""
    settings.ALERT_CHANNEL_ALLOWED_HOSTS = ["127.0.0.1"]


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def failing_then_fixed(sim, mp_account, make_pipeline):
    """A connector whose run fails at T0+45 s and whose next run succeeds at T0+160 s."""
    runs = [
        ScriptedRun(queued_at=T0, queue_seconds=5, run_seconds=100, outcome="failed", message=GZIP, run_id="r1"),
        ScriptedRun(queued_at=T0 + timedelta(seconds=100), queue_seconds=5, run_seconds=50, run_id="r2"),
    ]
    sim.mixpanel.projects["12345"].add(SimConnector("flaky", runs=runs))
    return make_pipeline("flaky", name="Flaky S3 import")


def cycle(account) -> None:
    account.refresh_from_db()
    polling.poll_now(account)
    alerts.evaluate()
    alerts.deliver_due()


def channel(name: str, url: str, **kwargs) -> AlertChannel:
    c = AlertChannel(name=name, **kwargs)
    c.url = url
    c.save()
    return c


@pytest.mark.django_db
def test_failure_then_recovery_each_notified_exactly_once(
    sim, mp_account, failing_then_fixed, receiver, settings
) -> None:
    settings.SITE_URL = "https://pipewatch.example.com"
    channel("ops-webhook", receiver.url)
    channel("ops-mail", "email://oncall@example.com")

    sim.advance(10)
    cycle(mp_account)  # running: nothing to say
    assert receiver.received == [] and mail.outbox == []

    sim.advance(40)  # the run fails
    cycle(mp_account)
    assert len(receiver.received) == 1
    note = receiver.received[0]
    assert "Flaky S3 import" in note["title"] and "Mixpanel" in note["title"] and "FAILED" in note["title"]
    assert GZIP in note["message"]
    assert f"https://pipewatch.example.com/pipelines/{failing_then_fixed.uuid}/" in note["message"]
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["oncall@example.com"] and GZIP in mail.outbox[0].body

    sim.advance(120)  # the next run succeeds
    cycle(mp_account)
    assert len(receiver.received) == 2 and "RECOVERED" in receiver.received[1]["title"]
    assert len(mail.outbox) == 2

    for _ in range(100):
        cycle(mp_account)
    assert len(receiver.received) == 2 and len(mail.outbox) == 2
    assert AlertEvent.objects.count() == 2
    assert set(AlertDelivery.objects.values_list("status", flat=True)) == {"sent"}


@pytest.mark.django_db
def test_history_found_on_the_first_poll_does_not_page_anyone_twice(mp_account, make_pipeline, receiver) -> None:
    make_pipeline("seed-failed")  # failing when we first see it: one alert, then silence
    channel("ops", receiver.url)
    for _ in range(5):
        cycle(mp_account)
    assert len(receiver.received) == 1


@pytest.mark.django_db
@pytest.mark.parametrize("quiet", ["muted", "maintenance"])
def test_muted_and_maintenance_send_nothing_but_the_page_shows_the_failure(
    quiet, sim, mp_account, failing_then_fixed, receiver, client, django_user_model
) -> None:
    channel("ops", receiver.url)
    now = timezone.now()
    if quiet == "muted":
        Pipeline.objects.filter(pk=failing_then_fixed.pk).update(muted_until=now + timedelta(hours=2))
    else:
        MaintenanceWindow.objects.create(
            starts_at=now - timedelta(minutes=1),
            ends_at=now + timedelta(hours=1),
            account=mp_account,
            reason="vendor migration",
        )
    sim.advance(50)
    cycle(mp_account)
    assert receiver.received == []
    event = AlertEvent.objects.get()
    assert event.kind == "failed" and event.suppressed
    client.force_login(user_with_role("viewer", "viewer"))
    html = client.get(f"/pipelines/{failing_then_fixed.uuid}/").content.decode()
    assert GZIP in html and "Failing" in html


@pytest.mark.django_db
def test_only_after_n_consecutive_failures(sim, mp_account, make_pipeline, receiver) -> None:
    runs = [
        ScriptedRun(
            queued_at=T0 + timedelta(seconds=100 * i),
            queue_seconds=0,
            run_seconds=10,
            outcome="failed",
            message=f"boom {i}",
            run_id=f"f{i}",
            fail_at=1.0,
        )
        for i in range(3)
    ]
    sim.mixpanel.projects["12345"].add(SimConnector("bad", runs=runs))
    make_pipeline("bad")
    channel("patient", receiver.url, min_consecutive_failures=3)
    cycle(mp_account)  # first poll: nothing yet visible (clock at T0, run queued with 0 s wait)
    for step in range(3):
        sim.advance(100)
        cycle(mp_account)
        assert len(receiver.received) == (1 if step == 2 else 0), step
    assert "boom" in receiver.received[0]["message"]


@pytest.mark.django_db
def test_failing_channel_retries_a_bounded_number_of_times_and_is_flagged(sim, mp_account, failing_then_fixed) -> None:
    broken = Receiver(status=500)
    try:
        c = channel("broken", broken.url)
        sim.advance(50)
        cycle(mp_account)
        delivery = AlertDelivery.objects.get()
        assert delivery.status == "pending" and delivery.attempts == 1
        assert "Internal server error" in delivery.last_error
        for hour in range(1, 11):
            alerts.deliver_due(now=timezone.now() + timedelta(hours=hour))
        delivery.refresh_from_db()
        assert delivery.status == "gave_up" and delivery.attempts == len(alerts.RETRY_DELAYS) + 1
        assert len(broken.received) == delivery.attempts
        c.refresh_from_db()
        assert c.consecutive_delivery_failures == 4
    finally:
        broken.close()


@pytest.mark.django_db
def test_send_test_reports_success_and_failure(receiver) -> None:
    ok = channel("ok", receiver.url)
    assert alerts.send_test(ok).startswith("sent")
    assert receiver.received[0]["title"].startswith("[TEST]")
    bad = channel("bad", "notaservice://x")
    assert "does not understand" in alerts.send_test(bad)


def test_each_tick_handles_new_failures_and_one_in_a_scan_interval_checks_everything(
    sim, mp_account, failing_then_fixed, settings
) -> None:
    """The tick's alert task is cheap on most ticks (only pipelines with new state changes)
    and looks at every pipeline once per ALERT_SCAN_SECONDS, whichever worker runs it."""
    import time_machine

    from jobs import tasks
    from vendors.simulator.core import Fault

    settings.ALERT_SCAN_SECONDS = 30
    with time_machine.travel(timezone.now(), tick=False) as clock:
        tasks.send_alerts()  # the first scan of the interval: nothing to say yet
        sim.advance(60)
        mp_account.refresh_from_db()
        polling.poll_now(mp_account)  # the run failed: a state change
        clock.shift(5)
        tasks.send_alerts()
        assert list(AlertEvent.objects.values_list("kind", flat=True)) == ["failed"]  # at once, no scan needed

        sim.simulator.inject(Fault("status", status=401, body={"error": "Invalid service account credentials"}))
        mp_account.refresh_from_db()
        polling.poll_now(mp_account)  # no run changed: only a scan can see the broken credentials
        clock.shift(5)
        tasks.send_alerts()
        assert AlertEvent.objects.count() == 1
        clock.shift(25)  # 35 s since the last scan
        tasks.send_alerts()
        assert list(AlertEvent.objects.order_by("id").values_list("kind", flat=True)) == ["failed", "credentials"]
        tasks.send_alerts()  # the same second: no second scan, nothing twice
        assert AlertEvent.objects.count() == 2


@pytest.mark.django_db
def test_a_quiet_pass_reads_only_its_accounts_and_a_success_after_successes_writes_nothing(
    sim, mp_account, make_pipeline
) -> None:
    """Most state changes are runs starting and succeeding: the pass after each tick must not
    read every account, nor rewrite a failure streak that is already zero."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from jobs.models import Account

    for n in range(5):  # accounts with nothing new
        Account.objects.create(name=f"other-{n}", vendor="mixpanel", base_url=sim.url, settings={"project_id": "1"})
    runs = [ScriptedRun(queued_at=T0 + timedelta(seconds=100 * k), queue_seconds=5, run_seconds=50) for k in range(2)]
    sim.mixpanel.projects["12345"].add(SimConnector("steady", runs=runs))
    pipeline = make_pipeline("steady", name="Steady import")
    for seconds in (10, 60, 100):  # running, succeeded, the next one queued
        sim.advance(seconds - (sim.clock.now() - T0).total_seconds())
        cycle(mp_account)
    sim.advance(60)  # the second run succeeds: a success after a success
    mp_account.refresh_from_db()
    polling.poll_now(mp_account)
    with CaptureQueriesContext(connection) as ctx:
        alerts.evaluate(scan_all=False)
    sql = [q["sql"] for q in ctx.captured_queries]
    account_reads = [q for q in sql if q.startswith("SELECT") and 'FROM "jobs_account"' in q]
    assert len(account_reads) == 1 and "WHERE" in account_reads[0]
    assert not [q for q in sql if 'UPDATE "jobs_pipeline"' in q]
    pipeline.refresh_from_db()
    assert pipeline.consecutive_failures == 0 and pipeline.alerted_condition == alerts.OK


@pytest.mark.django_db
def test_a_first_scan_writes_what_it_learned_in_one_statement_each(mp_account, make_pipeline) -> None:
    """New pipelines have said nothing yet: the first scan learns "ok" and their health for
    all of them at once (it made a transaction per pipeline: 10,000 commits at onboarding)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    now = timezone.now()
    for n in range(6):
        make_pipeline(f"new-{n}", last_polled_at=now)
    with CaptureQueriesContext(connection) as ctx:
        assert alerts.evaluate(now, scan_all=True) == 0
    # An executemany is captured once, as "N times: UPDATE ...".
    writes = [q["sql"] for q in ctx.captured_queries if 'UPDATE "jobs_pipeline"' in q["sql"]]
    assert len(writes) == 2, writes  # conditions and health, each one statement for all six
    assert set(Pipeline.objects.values_list("alerted_condition", "health_status")) == {(alerts.OK, "healthy")}
    assert alerts.evaluate(now, scan_all=True) == 0 and AlertEvent.objects.count() == 0
