"""`since` is when an incident began and stays put until it ends (issue 18): a pipeline
the vendor no longer knows (404) used to restart its incident on every poll."""

from datetime import timedelta

import pytest
import time_machine

from jobs import alerts, polling
from jobs.failures import IncidentList, incidents
from jobs.models import UNKNOWN, Pipeline

from ..conftest import T0


@pytest.mark.django_db
def test_a_pipeline_the_vendor_no_longer_knows_keeps_its_since(sim, mp_account, make_pipeline, logged_in) -> None:
    make_pipeline("seed-failed")  # an older incident: began at its run's failure
    gone = make_pipeline("deleted-at-mixpanel", kind="export_pipeline", name="Gone export")
    with time_machine.travel(T0, tick=False) as traveller:
        for minutes in range(0, 60, 10):
            traveller.move_to(T0 + timedelta(minutes=minutes))
            sim.clock.advance(600 if minutes else 0)
            mp_account.refresh_from_db()
            polling.poll_now(mp_account)
            alerts.evaluate()
        gone.refresh_from_db()
        assert gone.poll_error_kind == "not_found" and gone.health_status == UNKNOWN
        assert gone.last_polled_at == T0 + timedelta(minutes=50)

        # first seen gone at T0, not at the last poll (T0+50 min)
        [incident] = [i for i in incidents() if i.pipeline and i.pipeline.pk == gone.pk]
        assert incident.since == T0
        assert [i.since for i in IncidentList()[0:10] if i.pipeline and i.pipeline.pk == gone.pk] == [T0]
        api = logged_in.get("/api/v1/failures/").json()["results"]
        assert {i["pipeline"]: i["since"] for i in api}[str(gone.uuid)] == "2026-11-20T12:00:00Z"
        page = logged_in.get("/failures/").content.decode()
        assert 'datetime="2026-11-20T12:00:00+00:00"' in page
        assert logged_in.get("/api/v1/pipelines/?q=Gone").json()["results"][0]["since"] == "2026-11-20T12:00:00Z"
        gone.refresh_from_db()
        assert gone.incident_since == T0
        # the same identity across polls: an acknowledgement keeps holding
        ids = {i.id for i in incidents()}
        traveller.move_to(T0 + timedelta(minutes=70))
        mp_account.refresh_from_db()
        polling.poll_now(mp_account)
        assert {i.id for i in incidents()} == ids


@pytest.mark.django_db
def test_since_of_a_failure_stays_when_more_failures_come(mp_account, make_pipeline) -> None:
    pipeline = make_pipeline("seed-failed")
    with time_machine.travel(T0, tick=False):
        polling.poll_now(mp_account)
        alerts.evaluate()
        [incident] = incidents()
    began = incident.since
    assert incident.what == "failed" and began is not None
    later = began + timedelta(hours=3)
    Pipeline.objects.filter(pk=pipeline.pk).update(last_failure_at=later)  # another failure since
    with time_machine.travel(later + timedelta(minutes=5), tick=False):
        alerts.evaluate()
        [incident] = incidents()
    assert incident.since == began
