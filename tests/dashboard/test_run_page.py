"""The run page as a data team uses it: live while open, time left, the drop warning, a
failed run that looks failed, failures first among row results; and a canceled pipeline
that reads canceled and offers nothing the vendor would refuse."""

from datetime import timedelta

import pytest
from django.utils import timezone

from jobs import actions, polling
from jobs.models import Account, Pipeline, Run, RunItem

from ..conftest import csrf_headers, user_with_role
from ..jobs.test_mixpanel_engine import add_nessie

pytestmark = pytest.mark.django_db


@pytest.fixture
def micro(db) -> Pipeline:
    account = Account.objects.create(name="micro", vendor="micro", base_url="http://127.0.0.1:9")
    return Pipeline.objects.create(account=account, kind="import", external_id="imports", name="Micro imports")


def _run(pipeline: Pipeline, **fields) -> Run:
    now = timezone.now()
    fields.setdefault("state", "running")
    return Run.objects.create(pipeline=pipeline, external_id=fields.pop("key", "job-1"), sort_at=now, **fields)


def test_running_run_polls_its_fragment_and_shows_time_left(logged_in, micro) -> None:
    run = _run(micro, progress=0.25, started_at=timezone.now() - timedelta(minutes=10))
    html = logged_in.get(f"/runs/{run.uuid}/").content.decode()
    assert 'id="run-live"' in html and 'hx-trigger="every 5s' in html
    assert "~30 min left" in html  # a quarter in 10 minutes: 30 more at that rate
    fragment = logged_in.get(f"/runs/{run.uuid}/", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="run-live")
    body = fragment.content.decode()
    assert fragment.status_code == 200 and body.lstrip().startswith('<div id="run-live"') and "<html" not in body

    Run.objects.filter(pk=run.pk).update(state="succeeded", progress=1.0, finished_at=timezone.now())
    done = logged_in.get(f"/runs/{run.uuid}/", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="run-live")
    assert done.status_code == 286  # the final state once more, then htmx stops polling
    assert "hx-trigger" not in done.content.decode() and "Succeeded" in done.content.decode()


def test_drop_warning_on_the_run_page(logged_in, micro) -> None:
    run = _run(micro, state="succeeded", progress=1.0, counts={"processed": 1000, "succeeded": 962, "failed": 38})
    html = logged_in.get(f"/runs/{run.uuid}/").content.decode()
    assert "38 of 1,000 rows dropped or failed (3.8%" in html
    assert 'hx-trigger="every' not in html  # a finished run does not poll


def test_failed_run_bar_is_coloured_as_failed(logged_in, micro) -> None:
    run = _run(micro, state="failed", progress=1.0, error_message="bad file")
    html = logged_in.get(f"/runs/{run.uuid}/").content.decode()
    assert 'class="large state-failed"' in html and "run-card run-failed" in html and "bad file" in html


def test_row_results_failures_first_and_filtered(logged_in, micro) -> None:
    run = _run(micro, state="succeeded", items_count=350)
    items = [RunItem(run=run, position=i, kind="result", data={"i": i}) for i in range(350)]
    for item in items[320:]:  # the failures sit at the end, as Micro returns them
        item.code, item.message = "invalid_email", f"row {item.position}: email is not valid"
    RunItem.objects.bulk_create(items)
    html = logged_in.get(f"/runs/{run.uuid}/").content.decode()
    first_rows = html.split('<table class="items">')[1].split("</tr>")[1:4]
    assert all("invalid_email" in row for row in first_rows)  # page 1 starts with failures
    assert "(350 · 30 failed)" in html

    only = logged_in.get(f"/runs/{run.uuid}/?show=errors").content.decode()
    assert "(30 failed of 350 rows)" in only
    assert only.count('class="item-failed"') == 30 and "Page 1 of" not in only
    with_query = logged_in.get(f"/runs/{run.uuid}/?show=errors&q=row+33").content.decode()
    assert "(10 failed matching of 350 rows)" in with_query  # rows 330..339
    searched = logged_in.get(f"/runs/{run.uuid}/?q=row+33").content.decode()
    assert "(10 matching of 350 · 30 failed in all)" in searched
    csv = b"".join(logged_in.get(f"/runs/{run.uuid}/items.csv?show=errors").streaming_content).decode()
    assert csv.count("invalid_email") == 30 and len(csv.strip().splitlines()) == 31

    assert logged_in.get(f"/runs/{run.uuid}/?show=bogus").status_code == 400


@pytest.mark.django_db(transaction=True)
def test_cancel_reads_canceled_and_leaves_no_vendor_actions(client, sim, mp_account) -> None:
    add_nessie(sim)
    polling.poll_now(mp_account)
    pipeline = Pipeline.objects.get(kind="export_pipeline")
    client.force_login(user_with_role("olga", "operator"))
    page = client.get(f"/pipelines/{pipeline.uuid}/").content.decode()
    assert "Cancel pipeline" in page and "Pause at Mixpanel" in page

    answer = client.post(f"/pipelines/{pipeline.uuid}/actions/cancel/", **csrf_headers(client))
    html = answer.content.decode()
    assert answer.status_code == 200
    card = html.split('id="health-card"')[1]
    assert 'hx-swap-oob="true"' in card and "pill-paused" in card and "Canceled at Mixpanel" in card
    assert "pill-healthy" not in html
    for button in ("Cancel pipeline", "Pause at Mixpanel", "Resume at Mixpanel", "Poll now", "Resume monitoring"):
        assert button not in html
    page = client.get(f"/pipelines/{pipeline.uuid}/").content.decode()
    assert "Canceled at Mixpanel" in page and "Pause at Mixpanel" not in page and "pill-healthy" not in page

    refused = client.post(f"/pipelines/{pipeline.uuid}/actions/vendor-pause/", **csrf_headers(client))
    assert refused.status_code == 409 and "not available" in refused.content.decode()
    polling.poll_now(Account.objects.get(pk=mp_account.pk))  # a later poll keeps the mark
    pipeline.refresh_from_db()
    assert pipeline.canceled_at and actions.available(pipeline) == []


def test_actions_follow_the_vendor_capabilities(mp_account, micro) -> None:
    nessie = Pipeline.objects.create(account=mp_account, kind="export_pipeline", external_id="p")
    warehouse = Pipeline.objects.create(account=mp_account, kind="warehouse_import", external_id="w")
    assert actions.available(nessie) == ["poll", "pause", "vendor-pause", "vendor-resume", "cancel"]
    assert actions.available(warehouse) == ["poll", "pause", "run-now"]
    assert actions.available(micro) == ["poll", "pause"]
    micro.paused = True
    assert actions.available(micro) == ["resume"]
