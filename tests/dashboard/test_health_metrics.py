from datetime import timedelta

import pytest
from django.utils import timezone

from jobs import tasks
from jobs.models import Heartbeat


@pytest.mark.django_db
def test_healthz_needs_a_recent_beat_tick(client) -> None:
    body = client.get("/healthz")
    assert body.status_code == 503 and body.json()["checks"]["beat"].startswith("error")
    tasks.tick()  # beat's tick leaves its heartbeat
    ok = client.get("/healthz")
    assert ok.status_code == 200, ok.json()
    assert ok.json()["checks"] == {"database": "ok", "broker": "ok", "beat": "ok"}
    Heartbeat.objects.update(at=timezone.now() - timedelta(minutes=10))
    stale = client.get("/healthz").json()
    assert stale["status"] == "error" and "last tick 600 s ago" in stale["checks"]["beat"]


@pytest.mark.django_db
def test_healthz_reports_a_dead_broker(client, settings) -> None:
    from dashboard.celery import app

    tasks.tick()
    original = app.conf.broker_url
    app.conf.broker_url = "redis://127.0.0.1:1/0"
    try:
        body = client.get("/healthz")
    finally:
        app.conf.broker_url = original
    assert body.status_code == 503 and body.json()["checks"]["broker"].startswith("error")


def test_metrics_are_protected(client, settings, polled) -> None:
    settings.METRICS_ALLOWED_NETWORKS = []
    settings.METRICS_TOKEN = "scrape-me"
    assert client.get("/metrics").status_code == 403
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer nope").status_code == 403
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-me").status_code == 200


def test_metrics_content(client, polled) -> None:
    text = client.get("/metrics").content.decode()  # the test client is 127.0.0.1: allowed by default
    assert 'pipewatch_pipelines{health="failing"} 1.0' in text
    assert 'pipewatch_pipelines{health="running"} 2.0' in text  # the running and the queued seed
    assert 'pipewatch_runs{state="succeeded"} 1.0' in text
    running = polled["seed-running"]
    labels = f'account="mp-test",kind="import_connector",pipeline="{running.uuid}",vendor="mixpanel"'
    assert f"pipewatch_pipeline_progress_ratio{{{labels}}} 0.25" in text
    assert "pipewatch_pipeline_last_success_timestamp_seconds" in text
    assert "pipewatch_poll_duration_seconds_count 1.0" in text
