"""In Chromium: an empty day has its own mark in the overview strip and the day grids (with
a legend); the day grid says "before the pipeline existed" and where Mixpanel's days synced
disagrees; "My teams" and the Team select filter the overview and /failures/."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone
from playwright.sync_api import expect

from jobs import health
from jobs.models import Account, Pipeline, Run, Team

from .conftest import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _daily(account: Account, external_id: str, outcomes: dict[int, dict], **fields: object) -> Pipeline:
    """A daily pipeline with one run per day `n` days ago."""
    now = timezone.now()
    pipeline = Pipeline.objects.create(
        account=account, external_id=external_id, name=external_id, last_polled_at=now, **fields
    )
    runs = []
    for n, run in sorted(outcomes.items(), reverse=True):
        day = (now - timedelta(days=n + 1)).date()
        key = str(day) if pipeline.kind == "ingestion" else f"{day}T00:00:00-08:00..{day + timedelta(days=1)}T00:00"
        at = now - timedelta(days=n, hours=1)
        runs.append(Run.objects.create(pipeline=pipeline, external_id=key, sort_at=at, finished_at=at, **run))
    pipeline.current_run = runs[-1]
    failed = [r for r in runs if r.state == "failed"]
    if failed:
        pipeline.missing_days = {
            r.external_id: {"at": r.finished_at.isoformat(), "run": str(r.uuid), "message": r.error_message}
            for r in failed
        }
        pipeline.missing_since = failed[0].finished_at
        pipeline.last_failure_at, pipeline.last_failure_message = failed[-1].finished_at, failed[-1].error_message
    pipeline.save()
    return pipeline


@pytest.fixture
def owned(mp_account, django_user_model):
    growth, data = Team.objects.create(slug="growth", name="Growth"), Team.objects.create(slug="data", name="Data")
    viewer = django_user_model.objects.create_user("vera", password="correct-horse-battery")
    viewer.groups.add(Group.objects.get_or_create(name="viewer")[0])
    growth.members.add(viewer)
    statsig = Account.objects.create(name="statsig-prod", vendor="statsig", team=growth)
    ok = {"state": "succeeded", "vendor_status": "IMPORT_SUCCESSFUL", "counts": {"rows": 1000}}
    empty = {"state": "succeeded", "vendor_status": "LOADED_EMPTY_DATA", "counts": {"rows": 0}, "flags": ["empty"]}
    failed = {"state": "failed", "vendor_status": "QUERY_ERROR", "error_message": "SQL compilation error"}
    events = _daily(statsig, "snowflake-prod/events", {n: ok for n in range(6)} | {2: empty}, kind="ingestion")
    users = _daily(statsig, "snowflake-prod/users", {3: ok, 2: failed, 1: ok, 0: empty}, kind="ingestion", team=data)
    Pipeline.objects.filter(pk=users.pk).update(empty_day_is_failure=True)
    today = timezone.now().date()
    nessie = _daily(
        mp_account,
        "events-daily-gcs",
        {3: ok, 2: ok, 1: failed},
        kind="export_pipeline",
        created_at=timezone.now() - timedelta(days=5),
        vendor_info={
            "frequency": "daily",
            "timeline": [{"date": str(today - timedelta(days=n)), "status": "synced"} for n in (4, 2)],
        },
    )
    health.store(Pipeline.objects.select_related("account", "current_run"), timezone.now())
    return {"events": events, "users": users, "nessie": nessie}


def test_empty_marks_day_grids_and_team_filters(live_server, page, screenshot, owned) -> None:
    login(page, live_server.url, "vera", "correct-horse-battery")
    page.goto(f"{live_server.url}/")
    events_row = page.locator(f"#p-{owned['events'].uuid}")
    empty_tick = events_row.locator("a.tick-empty")
    expect(empty_tick).to_have_count(1)
    expect(empty_tick).to_contain_text("empty, no data loaded")  # the accessible label
    expect(page.get_by_label("Legend of the runs strip")).to_contain_text("empty (no data loaded)")
    expect(page.locator(f"#p-{owned['users'].uuid} a.tick-empty.tick-empty-failure")).to_have_count(1)
    expect(page.locator(f"#p-{owned['users'].uuid}")).to_contain_text("team Data")
    screenshot("empty-days-overview")

    page.get_by_role("button", name="My teams").click()
    page.wait_for_url("**/?*team=mine*")
    expect(page.locator("table.pipelines tbody tr")).to_have_count(1)  # Growth owns the statsig account's
    expect(page.locator(f"#p-{owned['events'].uuid}")).to_be_visible()
    expect(page.locator(f"#p-{owned['users'].uuid}")).to_have_count(0)  # overridden to Data
    screenshot("teams-overview-my-teams")

    page.goto(f"{live_server.url}/failures/")
    page.get_by_label("Team").select_option("data")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url("**/failures/?*team=data*")
    expect(page.get_by_text("snowflake-prod/users").first).to_be_visible()
    expect(page.get_by_text("events-daily-gcs")).to_have_count(0)
    screenshot("teams-failures-filtered")

    page.goto(f"{live_server.url}/pipelines/{owned['nessie'].uuid}/")
    grid = page.get_by_label("Days", exact=True)
    expect(grid.locator(".day-before").first).to_be_visible()
    expect(grid.locator(".day-disagree")).to_have_count(2)
    expect(page.locator(".day-notes li")).to_have_count(2)
    expect(page.locator(".day-notes")).to_contain_text("Mixpanel synced")
    screenshot("daygrid-before-and-disagreement")

    page.goto(f"{live_server.url}/pipelines/{owned['events'].uuid}/")
    expect(page.get_by_label("Days", exact=True).locator(".day-empty")).to_have_count(1)
    screenshot("daygrid-empty-day")
    page.goto(f"{live_server.url}/freshness/")
    expect(page.locator("td.day-empty")).to_have_count(2)
    screenshot("freshness-empty-days")
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{live_server.url}/?team=mine")
    screenshot("teams-overview-390")


def test_admin_team_channel_and_pipeline_forms(live_server, page, screenshot, owned, django_user_model) -> None:
    django_user_model.objects.create_superuser("ada", "ada@example.com", "correct-horse-battery")
    login(page, live_server.url, "ada", "correct-horse-battery")
    page.goto(f"{live_server.url}/admin/jobs/team/{Team.objects.get(slug='growth').pk}/change/")
    expect(page.locator("#id_members_to option, #id_members option").first).to_be_attached()
    screenshot("admin-team")
    page.goto(f"{live_server.url}/admin/jobs/alertchannel/add/")
    expect(page.get_by_label("Growth")).to_be_visible()  # a checkbox per team
    screenshot("admin-channel-teams")
    page.goto(f"{live_server.url}/admin/jobs/pipeline/{owned['users'].pk}/change/")
    expect(page.get_by_label("Empty day is failure")).to_be_checked()
    screenshot("admin-pipeline-team-empty")
