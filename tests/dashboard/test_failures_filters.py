"""/failures/ is filtered by vendor, account, kind and acknowledged, in the URL like the
overview, on the page and its API alike, and refreshes itself keeping the filters."""

from datetime import timedelta

import pytest
from django.utils import timezone

from jobs import health
from jobs.models import Account, Acknowledgement, Pipeline, Run


def _fail(account: Account, external_id: str, kind: str = "import_connector", minutes_ago: int = 0) -> Pipeline:
    now = timezone.now()
    at = now - timedelta(minutes=minutes_ago)
    p = Pipeline.objects.create(
        account=account, kind=kind, external_id=external_id, name=external_id, last_polled_at=now, last_failure_at=at
    )
    message = f"boom {external_id}"
    p.current_run = Run.objects.create(
        pipeline=p, external_id="r", state="failed", vendor_status="failed", error_message=message, sort_at=at
    )
    p.save(update_fields=["current_run"])
    return p


@pytest.fixture
def trouble(mp_account):
    statsig = Account.objects.create(name="sg-prod", vendor="statsig")
    made = {
        "mp-import": _fail(mp_account, "mp-import", minutes_ago=1),
        "mp-export": _fail(mp_account, "mp-export", kind="export_pipeline", minutes_ago=2),
        "sg-import": _fail(statsig, "sg-import", minutes_ago=3),
    }
    health.store(Pipeline.objects.select_related("account", "current_run"), timezone.now())
    return made


def _shown(client, query: str) -> set[str]:
    html = client.get(f"/failures/?{query}").content.decode()
    return {name for name in ("mp-import", "mp-export", "sg-import") if f"boom {name}" in html}


def _api(client, query: str) -> set[str]:
    response = client.get(f"/api/v1/failures/?{query}")
    assert response.status_code == 200, response.content
    return {i["pipeline_name"] for i in response.json()["results"]}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", {"mp-import", "mp-export", "sg-import"}),
        ("vendor=mixpanel", {"mp-import", "mp-export"}),
        ("vendor=statsig", {"sg-import"}),
        ("account=sg-prod", {"sg-import"}),
        ("kind=export", {"mp-export"}),
        ("kind=import&vendor=mixpanel", {"mp-import"}),
        ("vendor=nosuch", set()),
    ],
)
def test_filters_narrow_the_page_and_the_api_alike(logged_in, trouble, query, expected) -> None:
    assert _shown(logged_in, query) == expected
    assert _api(logged_in, query) == expected


def test_acknowledged_or_not(logged_in, trouble) -> None:
    listed = logged_in.get("/api/v1/failures/").json()["results"]
    incident = next(i for i in listed if i["pipeline_name"] == "mp-export")
    Acknowledgement.objects.create(incident=incident["id"], note="seen")
    assert _api(logged_in, "acknowledged=yes") == {"mp-export"}
    assert _api(logged_in, "acknowledged=no") == {"mp-import", "sg-import"}
    assert _shown(logged_in, "acknowledged=yes") == {"mp-export"}
    assert _shown(logged_in, "acknowledged=no&vendor=mixpanel") == {"mp-import"}
    page = logged_in.get("/failures/?acknowledged=yes").content.decode()
    assert '<option value="yes" selected>' in page and "<strong>1</strong> needs attention" in page


@pytest.mark.parametrize("query", ["kind=sideways", "acknowledged=maybe"])
def test_a_value_that_cannot_match_is_a_400_for_the_api_and_ignored_by_the_page(logged_in, trouble, query) -> None:
    response = logged_in.get(f"/api/v1/failures/?{query}")
    assert response.status_code == 400 and query.split("=")[0] in response.json()["error"]["fields"]
    assert _shown(logged_in, query) == {"mp-import", "mp-export", "sg-import"}


def test_the_list_refreshes_itself_keeping_the_filters(logged_in, trouble, settings) -> None:
    settings.IDLE_REFRESH_SECONDS = 42
    page = logged_in.get("/failures/?vendor=mixpanel&kind=export").content.decode()
    assert 'hx-get="/failures/?vendor=mixpanel&amp;kind=export"' in page and 'hx-trigger="every 42s' in page
    fragment = logged_in.get("/failures/?vendor=mixpanel&kind=export", HTTP_HX_REQUEST="true").content.decode()
    assert fragment.lstrip().startswith('<div id="live"') and "<html" not in fragment
    assert "boom mp-export" in fragment and "boom mp-import" not in fragment
