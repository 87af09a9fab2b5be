"""One-shot job kinds through the engine: FullStory and Micro, into PostgreSQL."""

import json
import textwrap
from collections.abc import Iterator

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command

from dashboard.auth import issue_token
from jobs import actions, polling
from jobs.models import Account, Pipeline, Run, RunItem
from jobs.uploads import parse_rows
from vendors.fullstory.simulator import FullStoryWorld, SimJob
from vendors.micro.simulator import MicroWorld
from vendors.simulator.core import Clock, SimServer, Simulator

from ..conftest import T0

FS_KEY, TEAM, MI_KEY = "na1.engine-key", "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee", "micro-engine-key"


@pytest.fixture
def world() -> Iterator[tuple[Simulator, FullStoryWorld, MicroWorld, str]]:
    sim = Simulator(Clock(T0, frozen=True))
    fs = FullStoryWorld(keys={FS_KEY})
    fs.jobs["fs-1"] = SimJob("fs-1", "events", T0, rows=500, failed_rows=3, process_seconds=60)
    fs.install(sim)
    mi = MicroWorld(teams={TEAM: MI_KEY})
    mi.install(sim)
    server = SimServer(sim).start()
    yield sim, fs, mi, server.url
    server.stop()


def poll(account: Account) -> polling.PollSummary:
    account.refresh_from_db()
    return polling.poll_now(account)


@pytest.mark.django_db
def test_fullstory_jobs_from_the_config_file_are_polled_and_their_errors_kept(world, tmp_path, logged_in) -> None:
    sim, _, _, url = world
    path = tmp_path / "c.toml"
    path.write_text(
        textwrap.dedent(f"""
        [[accounts]]
        name = "fs"
        vendor = "fullstory"
        base_url = "{url}"
        credentials = {{ api_key = "{FS_KEY}" }}

        [[pipelines]]
        account = "fs"
        kind = "events_import"
        name = "Backfill events"
        jobs = ["fs-1", "fs-unknown"]
    """)
    )
    call_command("apply_config", str(path))
    pipeline = Pipeline.objects.get()
    assert pipeline.external_id == "Backfill events" and Run.objects.filter(pipeline=pipeline).count() == 2
    account = Account.objects.get()
    poll(account)
    sim.clock.advance(61)
    poll(account)
    job = Run.objects.get(external_id="fs-1")
    assert (job.state, job.flags, job.closed) == ("failed", ["partial"], True)
    assert RunItem.objects.filter(run=job).count() == 3
    gone = Run.objects.get(external_id="fs-unknown")
    assert "expired" in gone.flags and gone.closed and gone.state == "unknown"
    requests_before = len(sim.request_log)
    poll(account)  # closed jobs are not polled again
    assert len(sim.request_log) == requests_before
    html = logged_in.get(f"/runs/{job.uuid}/").content.decode()
    assert "Row-level errors and results" in html and "property &#x27;plan&#x27; must be a string" in html
    csv = b"".join(logged_in.get(f"/runs/{job.uuid}/items.csv").streaming_content).decode()
    assert csv.count("\n") == 4 and "invalid_argument" in csv


@pytest.mark.django_db
def test_register_a_job_through_the_api_needs_an_operator(world, api_client, django_user_model) -> None:
    _, _, _, url = world
    account = Account(name="fs", vendor="fullstory", base_url=url)
    account.credentials = {"api_key": FS_KEY}
    account.save()
    pipeline = Pipeline.objects.create(account=account, kind="events_import", external_id="events_import")
    op = django_user_model.objects.create_user("op", password="x" * 12)
    op.groups.add(Group.objects.get(name="operator"))
    viewer = django_user_model.objects.create_user("v", password="x" * 12)
    viewer.groups.add(Group.objects.get(name="viewer"))
    body = json.dumps({"external_id": "fs-1"})
    refused = api_client.post(
        f"/api/v1/pipelines/{pipeline.uuid}/runs/",
        body,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {issue_token(viewer, scope='operate')}",
    )
    assert refused.status_code == 403
    ok = api_client.post(
        f"/api/v1/pipelines/{pipeline.uuid}/runs/",
        body,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {issue_token(op, scope='operate')}",
    )
    assert ok.status_code == 201 and Run.objects.filter(pipeline=pipeline, external_id="fs-1").exists()
    poll(account)
    assert Run.objects.get(external_id="fs-1").state == "running"


@pytest.mark.django_db
def test_micro_upload_sync_and_async_then_expiry_keeps_results(world, viewer) -> None:
    sim, _, _, url = world
    account = Account(name="mi", vendor="micro", base_url=url, settings={"team_id": TEAM})
    account.credentials = {"api_key": MI_KEY}
    account.save()
    small = parse_rows(b"email,name\na@x.io,A\nb@x.io,B\n", "people.csv", allow_csv=True)
    sync = actions.create(
        account, "import", {"object_type": "contact", "rows": small.rows, "dedupe_by": "email"}, viewer
    )
    assert sync.ok and "synchronously" in sync.message
    stream = Pipeline.objects.get(kind="import")
    done = Run.objects.get(pipeline=stream)
    assert done.state == "succeeded" and done.closed and done.items_count == 2

    big = [{"email": f"u{i}@x.io"} for i in range(150)]
    queued = actions.create(account, "import", {"object_type": "contact", "rows": big}, viewer)
    assert queued.ok and "queued for 150 rows" in queued.message
    job = Run.objects.exclude(pk=done.pk).get()
    sim.clock.advance(61)
    poll(account)
    job.refresh_from_db()
    assert job.state == "succeeded" and job.items_count == 150 and job.expires_at is not None
    sim.clock.advance(7 * 86400)
    Run.objects.filter(pk=job.pk).update(closed=False)  # pretend it was still open when the week ended
    poll(account)
    job.refresh_from_db()
    assert "expired" in job.flags and job.items_count == 150 and RunItem.objects.filter(run=job).count() == 150
    assert job.state == "succeeded"  # a finished job keeps its outcome when the vendor forgets it

    bad = actions.create(account, "import", {"object_type": "spaceship", "rows": big}, viewer)
    assert not bad.ok and "object_type" in bad.field_errors


@pytest.mark.django_db
def test_fullstory_upload_over_the_batch_limit_makes_several_jobs(world, viewer, monkeypatch) -> None:
    from vendors.fullstory import imports as fs_client

    monkeypatch.setattr(fs_client, "BATCH_LIMIT", 100)
    _, _, _, url = world
    account = Account(name="fs", vendor="fullstory", base_url=url)
    account.credentials = {"api_key": FS_KEY}
    account.save()
    upload = parse_rows(b"\n".join(b'{"name": "Signed Up", "n": %d}' % i for i in range(230)))
    assert upload.batches(fs_client.BATCH_LIMIT) == 3
    result = actions.create(account, "events_import", {"requests": upload.rows}, viewer)
    assert result.ok and Run.objects.filter(pipeline__kind="events_import").count() == 3
    again = actions.create(account, "events_import", {"requests": upload.rows}, viewer)
    assert again.ok and Run.objects.filter(pipeline__kind="events_import").count() == 3  # idempotent
