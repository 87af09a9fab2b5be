import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from jobs import polling
from jobs.models import Account, Pipeline, Run
from vendors.simulator.core import Fault

GZIP = "No compression specified but Gzip detected. Please submit a new request with correct compression as param"


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/", "/pipelines/00000000-0000-0000-0000-000000000000/"])
def test_pages_need_login(client, url) -> None:
    response = client.get(url)
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_overview_lists_every_pipeline_with_health_progress_and_failure(logged_in, polled) -> None:
    html = logged_in.get("/").content.decode()
    for pipeline in polled.values():
        assert f'href="/pipelines/{pipeline.uuid}/"' in html
    assert GZIP in html  # verbatim
    assert 'value="0.2500"' in html and "25%" in html
    assert "13 imported" in html and "1.6 KB size" in html
    assert html.split("<tbody>")[1].count('class="pill pill-failing"') == 1
    assert 'hx-trigger="every 5s' in html  # something is running: live


def test_overview_fragment_for_htmx(logged_in, polled) -> None:
    response = logged_in.get("/", HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith('<div id="live"') and "<html" not in html


def test_pipeline_page_lists_runs_with_snapshots(logged_in, polled, sim) -> None:
    pipeline = polled["seed-failed"]
    html = logged_in.get(f"/pipelines/{pipeline.uuid}/").content.decode()
    assert GZIP in html and "Failing" in html
    assert "<code>failed</code>" in html  # the vendor's own status beside ours
    assert "1 snapshot" in html and '<td data-label="What changed">created</td>' in html  # the snapshot's row
    run = Run.objects.get(pipeline=pipeline)
    assert f'href="/runs/{run.uuid}/"' in html


def test_pipeline_page_stops_polling_when_nothing_runs(logged_in, polled) -> None:
    done = logged_in.get(f"/pipelines/{polled['seed-success'].uuid}/", HTTP_HX_REQUEST="true")
    assert done.status_code == 286
    live = logged_in.get(f"/pipelines/{polled['seed-running'].uuid}/", HTTP_HX_REQUEST="true")
    assert live.status_code == 200 and 'hx-trigger="every 5s' in live.content.decode()


def test_run_page_shows_raw_json_and_error(logged_in, polled) -> None:
    run = Run.objects.get(pipeline=polled["seed-failed"])
    html = logged_in.get(f"/runs/{run.uuid}/").content.decode()
    error = html.split('<div class="error-box"')[1].split("</div>")[0]
    assert GZIP in error and "<code>failed</code>" in html  # the vendor's message and status, verbatim
    raw = html.split('<pre class="raw">')[1].split("</pre>")[0]  # the vendor's reply, every key of it
    for key in run.raw:
        assert f"&quot;{key}&quot;" in raw
    assert "&quot;connector_properties&quot;" in raw and f"&quot;run_id&quot;: &quot;{run.raw['run_id']}&quot;" in raw


def test_unpollable_account_shows_unknown_with_the_reason(logged_in, polled, sim, mp_account) -> None:
    sim.simulator.inject(
        Fault("status", status=401, body={"status": "error", "error": "Invalid service account credentials"})
    )
    mp_account.refresh_from_db()
    polling.poll_now(mp_account)
    html = logged_in.get("/").content.decode()
    assert "pill-healthy" not in html.split("<tbody>")[1]
    assert "Credentials rejected" in html
    page = logged_in.get(f"/pipelines/{polled['seed-success'].uuid}/").content.decode()
    assert "Invalid service account credentials" in page


def test_vendor_text_is_escaped(logged_in, mp_account) -> None:
    pipeline = Pipeline.objects.create(
        account=mp_account, kind="import_connector", external_id="x", name="<script>alert(1)</script>"
    )
    Run.objects.create(
        pipeline=pipeline, external_id="r", state="failed", error_message='"><img src=x onerror=alert(1)>'
    )
    Pipeline.objects.filter(pk=pipeline.pk).update(
        last_failure_message='"><img src=x onerror=alert(1)>', last_failure_at="2026-01-01T00:00Z"
    )
    html = logged_in.get("/").content.decode() + logged_in.get(f"/pipelines/{pipeline.uuid}/").content.decode()
    assert "<script>alert" not in html and "<img src=x" not in html
    assert "&lt;script&gt;" in html


def test_empty_state_says_what_to_do(logged_in) -> None:
    html = logged_in.get("/").content.decode()
    assert "No vendor accounts yet" in html and "apply_config" in html


def _make(account: Account, n: int) -> None:
    start = Pipeline.objects.count()
    for i in range(start, start + n):
        p = Pipeline.objects.create(account=account, kind="import_connector", external_id=f"bulk-{i}")
        run = Run.objects.create(pipeline=p, external_id="r1", state="running", progress=0.5)
        p.current_run = run
        p.save()


def _queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


def test_overview_query_count_does_not_grow_with_pipelines(logged_in, mp_account) -> None:
    _make(mp_account, 5)
    small = _queries(logged_in, "/")
    _make(mp_account, 60)
    assert _queries(logged_in, "/") == small


def test_pipeline_page_query_count_does_not_grow_with_runs(logged_in, polled, mp_account) -> None:
    pipeline = polled["seed-running"]
    url = f"/pipelines/{pipeline.uuid}/"
    small = _queries(logged_in, url)
    for i in range(40):
        Run.objects.create(pipeline=pipeline, external_id=f"old-{i}", state="succeeded")
    assert _queries(logged_in, url) == small
