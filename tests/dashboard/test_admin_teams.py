"""Admins manage teams and their members, route channels by team (checkboxes) and switch a
pipeline's "empty day is a failure" option, which re-reads the days already recorded."""

import json

import pytest
from django.utils import timezone

from jobs.models import AlertChannel, AuditEvent, Pipeline, Run, Team


@pytest.fixture
def admin_client(client, django_user_model):
    client.force_login(django_user_model.objects.create_superuser("ada", "ada@example.com", "x" * 12))
    return client


@pytest.mark.django_db
def test_teams_members_and_channel_teams_in_the_admin(admin_client, django_user_model, settings) -> None:
    settings.ALERT_CHANNEL_ALLOWED_HOSTS = ["hooks.example.com"]
    ana = django_user_model.objects.create_user("ana", password="x" * 12)
    response = admin_client.post("/admin/jobs/team/add/", {"name": "Growth", "slug": "growth", "members": [ana.pk]})
    assert response.status_code == 302, response.content.decode()[:2000]
    team = Team.objects.get()
    assert list(team.members.all()) == [ana] and list(ana.teams.all()) == [team]
    assert AuditEvent.objects.filter(action="team.created").exists()
    form = admin_client.get("/admin/jobs/alertchannel/add/").content.decode()
    assert f'type="checkbox" name="teams" value="{team.pk}"' in form
    response = admin_client.post(
        "/admin/jobs/alertchannel/add/",
        {
            "name": "growth-hook",
            "enabled": "on",
            "min_consecutive_failures": "1",
            "new_url": "json://hooks.example.com/growth",
            "teams": [team.pk],
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert list(AlertChannel.objects.get().teams.all()) == [team]
    assert ">Growth<" in admin_client.get("/admin/jobs/alertchannel/").content.decode()


@pytest.mark.django_db
def test_switching_the_empty_day_option_in_the_admin_rereads_recorded_days(admin_client, db) -> None:
    from jobs.models import Account

    account = Account.objects.create(name="sg", vendor="statsig")
    now = timezone.now()
    pipeline = Pipeline.objects.create(account=account, kind="ingestion", external_id="src/events", last_polled_at=now)
    run = Run.objects.create(
        pipeline=pipeline,
        external_id="2026-11-19",
        state="succeeded",
        vendor_status="LOADED_EMPTY_DATA",
        flags=["empty"],
        counts={"rows": 0},
        sort_at=now,
    )
    pipeline.current_run = run
    pipeline.save()
    page = admin_client.get(f"/admin/jobs/pipeline/{pipeline.pk}/change/").content.decode()
    assert 'name="empty_day_is_failure"' in page and 'name="team"' in page
    data = {
        "account": account.pk,
        "kind": "ingestion",
        "external_id": "src/events",
        "name": "",
        "config": json.dumps({}),
        "vendor_info": json.dumps({}),
        "source": "config",
        "empty_day_is_failure": "on",
        "created_at_0": now.strftime("%Y-%m-%d"),
        "created_at_1": now.strftime("%H:%M:%S"),
        "consecutive_failures": "0",
        "alerted_condition": "",
    }
    response = admin_client.post(f"/admin/jobs/pipeline/{pipeline.pk}/change/", data)
    assert response.status_code == 302, response.content.decode()[:3000]
    pipeline.refresh_from_db()
    assert pipeline.empty_day_is_failure and list(pipeline.missing_days) == ["2026-11-19"]
    assert pipeline.health_status == "failing"
    assert AuditEvent.objects.filter(action="pipeline.changed", actor_label="ada").exists()
