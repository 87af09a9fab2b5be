"""Nessie and warehouse imports through the engine: discovery, info, actions, into PostgreSQL."""

from datetime import date, timedelta

import pytest

from jobs import actions, polling
from jobs.models import AuditEvent, Pipeline, Run
from vendors.mixpanel.nessie_simulator import SimPipeline
from vendors.mixpanel.warehouse_simulator import SimWarehouseImport, WarehouseRun

from ..conftest import T0

YESTERDAY = date(2026, 11, 19)


def add_nessie(sim, name: str = "events-daily-gcs-raw", **kwargs) -> SimPipeline:
    kwargs = {
        "origin": YESTERDAY - timedelta(days=3),
        "delay_seconds": 4 * 3600,
        "queue_seconds": 60,
        "run_seconds": 600,
        **kwargs,
    }
    pipeline = SimPipeline(name, **kwargs)
    sim.mixpanel.projects["12345"].add_pipelines(pipeline)
    return pipeline


def poll(account):
    account.refresh_from_db()
    return polling.poll_now(account)


@pytest.mark.django_db
def test_nessie_pipelines_are_discovered_with_their_tasks_and_timeline(sim, mp_account, logged_in) -> None:
    add_nessie(sim, outcomes={1: "failed"})
    summary = poll(mp_account)
    assert summary.discovered == 1, summary.line()
    poll(mp_account)  # the discovered pipeline is due at once: its tasks and timeline arrive
    pipeline = Pipeline.objects.get(kind="export_pipeline")
    assert (pipeline.source, pipeline.external_id) == ("discovered", "events-daily-gcs-raw")
    assert pipeline.vendor_info["frequency"] == "daily" and pipeline.vendor_info["timeline"]
    assert pipeline.cadence_seconds() == 86400
    states = sorted(Run.objects.filter(pipeline=pipeline).values_list("state", flat=True))
    assert "failed" in states and "succeeded" in states
    html = logged_in.get(f"/pipelines/{pipeline.uuid}/").content.decode()
    assert "Days synced" in html and "day-synced" in html and "Tasks succeeded" in html
    # discovery is not repeated on every poll, and a known pipeline is not created twice
    assert poll(mp_account).discovered == 0
    assert Pipeline.objects.filter(kind="export_pipeline").count() == 1


@pytest.mark.django_db
def test_cancel_tells_what_the_vendor_does_and_keeps_our_history(sim, mp_account, viewer) -> None:
    add_nessie(sim)
    poll(mp_account)
    pipeline = Pipeline.objects.select_related("account").get(kind="export_pipeline")
    runs_before = Run.objects.filter(pipeline=pipeline).count()
    result = actions.cancel(pipeline, viewer)
    assert result.ok and "deletes" in result.message.lower() and "history" in result.message.lower()
    pipeline.refresh_from_db()
    assert pipeline.paused and Run.objects.filter(pipeline=pipeline).count() == runs_before
    assert pipeline.canceled_at and pipeline.health().status == "paused" and "Canceled" in pipeline.health().reason
    again = actions.cancel(pipeline, viewer)  # already canceled: refused here, the vendor is not asked again
    assert not again.ok and "already canceled" in again.message
    assert AuditEvent.objects.filter(action="pipeline.cancel", outcome="refused").exists()


@pytest.mark.django_db
def test_create_validates_first_then_tracks_what_mixpanel_created(product_at_t0, sim, mp_account, viewer) -> None:
    # from_date is checked against Pipewatch's clock: on the simulator's T0 (product_at_t0), any real date
    bad = actions.create(mp_account, "export_pipeline", {"type": "gcs-raw", "from_date": "11/01/2026"}, viewer)
    assert not bad.ok and "from_date" in bad.field_errors and "gcs_bucket" in bad.field_errors
    assert not Pipeline.objects.filter(kind="export_pipeline").exists()
    spec = {
        "type": "gcs-raw",
        "from_date": str(YESTERDAY),
        "gcs_bucket": "exports",
        "gcs_region": "us-east1",
        "gcs_prefix": "mp",
    }
    good = actions.create(mp_account, "export_pipeline", spec, viewer)
    assert good.ok, good.message
    created = Pipeline.objects.get(kind="export_pipeline")
    assert created.source == "created" and created.external_id in good.details["pipeline_names"]
    assert AuditEvent.objects.filter(action="pipeline.create", outcome="ok").exists()


@pytest.mark.django_db
def test_warehouse_import_history_and_run_now(sim, mp_account, make_pipeline, viewer) -> None:
    sim.mixpanel.projects["12345"].add_imports(
        SimWarehouseImport(
            "4242",
            runs=[
                WarehouseRun(T0 - timedelta(hours=2), run_seconds=600, events=5000),
                WarehouseRun(T0 - timedelta(hours=1), run_seconds=600, outcome="FAILED"),
            ],
        )
    )
    pipeline = make_pipeline("4242", kind="warehouse_import")
    poll(mp_account)
    assert sorted(Run.objects.filter(pipeline=pipeline).values_list("state", flat=True)) == ["failed", "succeeded"]
    pipeline = Pipeline.objects.select_related("account").get(pk=pipeline.pk)
    result = actions.run_now(pipeline, viewer)
    assert result.ok, result.message
    poll(mp_account)
    assert Run.objects.filter(pipeline=pipeline, state="running").count() == 1


@pytest.mark.django_db
def test_discovery_runs_once_per_interval_and_never_delays_known_pipelines(sim, mp_account, settings) -> None:
    settings.DISCOVERY_SECONDS = 600
    add_nessie(sim)
    poll(mp_account)
    mp_account.refresh_from_db()
    assert mp_account.next_discovery_at is not None
    jobs_calls = sum(1 for _, path in sim.simulator.request_log if path.endswith("/pipeline/jobs"))
    pipeline = Pipeline.objects.get(kind="export_pipeline")
    due = pipeline.next_poll_at
    mp_account.refresh_from_db()
    polling.poll_account(mp_account)  # only what is due: the new pipeline, no discovery
    assert sum(1 for _, path in sim.simulator.request_log if path.endswith("/pipeline/jobs")) == jobs_calls + 1
    pipeline.refresh_from_db()
    assert pipeline.next_poll_at > due and Run.objects.filter(pipeline=pipeline).exists()
