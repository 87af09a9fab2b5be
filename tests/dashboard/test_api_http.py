"""The API over real HTTP, as scripts and browsers call it: a live server and `requests`,
so CSRF, cookies and headers behave as in production (the test client skips CSRF)."""

import pytest
import requests

from dashboard.auth import issue_token
from jobs.models import Account, Pipeline, Run

from ..conftest import user_with_role

pytestmark = pytest.mark.django_db(transaction=True)
PASSWORD = "correct-horse-battery"


@pytest.fixture
def one_shot() -> Pipeline:
    account = Account(name="fs", vendor="fullstory", base_url="http://127.0.0.1:9")
    account.credentials = {"api_key": "na1.unused"}
    account.save()
    return Pipeline.objects.create(account=account, kind="events_import", external_id="events_import")


@pytest.fixture
def bearer() -> dict[str, str]:
    token = issue_token(user_with_role("robot", "operator"), name="ci", scope="operate")
    return {"Authorization": f"Bearer {token}"}


def test_bearer_get(live_server, one_shot, bearer) -> None:
    response = requests.get(f"{live_server.url}/api/v1/pipelines/", headers=bearer, timeout=10)
    assert response.status_code == 200
    assert [p["id"] for p in response.json()["results"]] == [str(one_shot.uuid)]
    assert requests.get(f"{live_server.url}/api/v1/pipelines/", timeout=10).status_code == 401


def test_bearer_post_registers_a_job(live_server, one_shot, bearer) -> None:
    response = requests.post(
        f"{live_server.url}/api/v1/pipelines/{one_shot.uuid}/runs/",
        json={"external_id": "fs-1"},
        headers=bearer,
        timeout=10,
    )
    assert response.status_code == 201, response.text
    assert Run.objects.filter(pipeline=one_shot, external_id="fs-1").exists()


def test_bearer_post_action(live_server, one_shot, bearer) -> None:
    url = f"{live_server.url}/api/v1/pipelines/{one_shot.uuid}/actions/pause/"
    response = requests.post(url, headers=bearer, timeout=10)
    assert response.status_code == 200 and response.json()["ok"], response.text
    assert Pipeline.objects.get(pk=one_shot.pk).paused


def _browser_session(base: str, username: str) -> requests.Session:
    """Log in through the login form like a browser: cookie, form token, redirect."""
    session = requests.Session()
    session.get(f"{base}/login/", timeout=10)
    response = session.post(
        f"{base}/login/",
        data={"username": username, "password": PASSWORD, "csrfmiddlewaretoken": session.cookies["csrftoken"]},
        allow_redirects=False,
        timeout=10,
    )
    assert response.status_code == 302, response.text
    return session


def test_session_post_without_csrf_is_refused(live_server, one_shot) -> None:
    user_with_role("olga", "operator", PASSWORD)
    session = _browser_session(live_server.url, "olga")
    url = f"{live_server.url}/api/v1/pipelines/{one_shot.uuid}/actions/pause/"
    refused = session.post(url, timeout=10)
    assert refused.status_code == 403 and "CSRF" in refused.json()["error"]["message"]
    refused = session.post(f"{live_server.url}/api/v1/pipelines/{one_shot.uuid}/runs/", json={"external_id": "x"})
    assert refused.status_code == 403
    assert not Pipeline.objects.get(pk=one_shot.pk).paused and not Run.objects.exists()


def test_session_post_with_csrf_is_allowed(live_server, one_shot) -> None:
    user_with_role("olga", "operator", PASSWORD)
    session = _browser_session(live_server.url, "olga")
    headers = {"X-CSRFToken": session.cookies["csrftoken"]}
    url = f"{live_server.url}/api/v1/pipelines/{one_shot.uuid}/actions/pause/"
    assert session.post(url, headers=headers, timeout=10).status_code == 200
    registered = session.post(
        f"{live_server.url}/api/v1/pipelines/{one_shot.uuid}/runs/",
        json={"external_id": "fs-9"},
        headers=headers,
        timeout=10,
    )
    assert registered.status_code == 201, registered.text
    assert Pipeline.objects.get(pk=one_shot.pk).paused and Run.objects.filter(external_id="fs-9").exists()
