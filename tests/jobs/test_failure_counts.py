"""The failures page's totals for everything come from the counts the database keeps, less
the few pipelines left out (those of accounts we cannot poll, acknowledged or snoozed ones):
they must equal counting the listed pipelines one by one, whatever the mix (ADR 17)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from jobs.failures import IncidentList, find_incident
from jobs.models import FAILING, HEALTHY, LATE, STUCK, UNKNOWN, Account, Acknowledgement, Pipeline, Run

pytestmark = pytest.mark.django_db


def _mix() -> None:
    """Pipelines whose stored health is what health() derives live (the page confirms each row)."""
    now = timezone.now()
    good = Account.objects.create(name="good", vendor="mixpanel")
    blind = Account.objects.create(
        name="blind", vendor="mixpanel", poll_error_kind="auth", poll_error_message="401", poll_error_since=now
    )
    missing = {"2026-01-01": {"at": now.isoformat(), "run": "", "code": "", "kind": "vendor", "message": "lost"}}
    rows = [
        (good, FAILING, {"missing_days": missing}),
        (good, FAILING, {"missing_days": missing}),
        (good, STUCK, {"stuck_after_seconds": 3600}),
        (good, LATE, {"expected_every_seconds": 3600, "last_success_at": now - timedelta(days=1)}),
        (good, UNKNOWN, {"poll_error_kind": "not_found", "poll_error_message": "gone"}),  # listed
        (good, UNKNOWN, {"last_polled_at": None}),  # waiting for a first poll: not listed
        (good, FAILING, {"paused": True, "missing_days": missing}),  # stored health not yet rewritten
        (good, HEALTHY, {}),
        (blind, FAILING, {"missing_days": missing}),  # its account's incident says it all
        (blind, UNKNOWN, {"poll_error_kind": "not_found", "poll_error_message": "gone"}),
    ]
    for i, (account, health, fields) in enumerate(rows):
        pipeline = Pipeline.objects.create(
            account=account,
            kind="import_connector",
            external_id=f"p{i}",
            health_status=health,
            incident_since=now - timedelta(minutes=i),
            **{"last_polled_at": now, **fields},
        )
        if health == STUCK:
            run = Run.objects.create(
                pipeline=pipeline, external_id="r", state="running", last_change_at=now - timedelta(hours=5)
            )
            Pipeline.objects.filter(pk=pipeline.pk).update(current_run=run)


def _one_by_one(**kwargs: object) -> IncidentList:
    """The same list counted by a GROUP BY over its pipelines (as a filtered page counts)."""
    return IncidentList(pipelines=Pipeline.objects.all(), accounts=Account.objects.all(), **kwargs)


@pytest.mark.parametrize("acknowledged", [None, False, True])
@pytest.mark.parametrize("show_snoozed", [False, True])
def test_kept_totals_equal_counting_one_by_one(acknowledged, show_snoozed) -> None:
    _mix()
    first, second, *_ = (i for i in IncidentList(show_snoozed=True)[0:50] if i.pipeline is not None)
    Acknowledgement.objects.create(incident=first.id, note="seen")
    Acknowledgement.objects.create(incident=second.id, note="later", snoozed_until=timezone.now() + timedelta(hours=1))

    kept = IncidentList(show_snoozed=show_snoozed, acknowledged=acknowledged)
    counted = _one_by_one(show_snoozed=show_snoozed, acknowledged=acknowledged)

    assert (kept.total, kept.by_what, kept.hidden) == (counted.total, counted.by_what, counted.hidden)
    assert [i.id for i in kept[0 : kept.total]] == [i.id for i in counted[0 : counted.total]]
    assert len(kept[0 : kept.total]) == kept.total  # the total says what the list holds


def test_everything_is_counted_as_listed() -> None:
    _mix()
    found = IncidentList()
    assert dict(found.by_what) == {"failed": 2, "stuck": 1, "late": 1, "credentials": 1, "unpollable": 1}
    assert found.total == 6


def test_an_incident_is_found_by_its_id_alone() -> None:
    _mix()
    listed = IncidentList()[0:50]
    assert {i.what for i in listed} >= {"failed", "unpollable"} and any(i.pipeline is None for i in listed)
    for incident in listed:
        assert find_incident(incident.id).id == incident.id
    one = next(i for i in listed if i.pipeline is not None)
    assert find_incident("pipeline-not-a-uuid") is None
    assert find_incident(one.id.replace("pipeline-", "nothing-")) is None
    assert find_incident(one.id + "0") is None  # another start: another (closed) incident
