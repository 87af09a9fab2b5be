import json

import pytest
from django.contrib.auth.models import AnonymousUser
from django.http import JsonResponse
from django.test import RequestFactory
from django.urls import URLPattern, URLResolver, get_resolver

from dashboard.auth import api_auth_layers, api_auth_required, api_operator_required, issue_token
from jobs.models import Account, Pipeline, Run

from ..conftest import csrf_headers, user_with_role

GZIP = "No compression specified but Gzip detected. Please submit a new request with correct compression as param"


@pytest.fixture
def client(api_client):
    """Every request here goes through CSRF checks, as from a real server."""
    return api_client


@pytest.fixture
def one_shot(db) -> Pipeline:
    """A FullStory stream of jobs: registering a job touches no vendor."""
    account = Account(name="fs", vendor="fullstory", base_url="http://127.0.0.1:9")
    account.credentials = {"api_key": "na1.unused"}
    account.save()
    return Pipeline.objects.create(account=account, kind="events_import", external_id="events_import")


@pytest.mark.django_db
def test_api_needs_a_session_or_a_token(client) -> None:
    response = client.get("/api/v1/pipelines/")
    assert response.status_code == 401 and "Bearer" in response["WWW-Authenticate"]
    assert client.get("/api/v1/pipelines/", HTTP_AUTHORIZATION="Bearer pw_wrong").status_code == 401


def test_pipelines_shape(logged_in, polled) -> None:
    body = logged_in.get("/api/v1/pipelines/").json()
    assert body["next"] is None
    by_id = {p["external_id"]: p for p in body["results"]}
    assert set(by_id) == set(polled)
    failed = by_id["seed-failed"]
    assert set(failed) >= {
        "id",
        "name",
        "vendor",
        "kind",
        "account",
        "external_id",
        "health",
        "current_run",
        "last_success_at",
        "last_failure_at",
    }
    assert (failed["vendor"], failed["kind"], failed["health"]) == ("mixpanel", "import_connector", "failing")
    assert failed["current_run"]["error"] == {"code": "", "message": GZIP, "kind": "config"}
    running = by_id["seed-running"]["current_run"]
    assert running["progress"] == 0.25 and running["state"] == "running"
    assert running["started_at"] == "2020-09-16T07:00:00Z" and running["finished_at"] is None
    success = by_id["seed-success"]
    assert success["current_run"]["counts"] == {
        "processed": 13,
        "succeeded": 13,
        "dropped": 0,
        "files": 4,
        "bytes": 1610,
    }
    assert success["last_success_at"] == "2020-09-17T02:17:49.831793Z"
    queued = by_id["seed-queued"]["current_run"]
    assert queued["started_at"] is None and queued["state"] == "queued"


def test_runs_newest_first_and_paginated(logged_in, polled, viewer) -> None:
    pipeline = polled["seed-success"]
    for i in range(3):
        Run.objects.create(
            pipeline=pipeline, external_id=f"older-{i}", state="failed", sort_at=f"2019-01-0{i + 1}T00:00Z"
        )
    token = issue_token(viewer)
    logged_in.logout()
    auth = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    first = logged_in.get(f"/api/v1/pipelines/{pipeline.uuid}/runs/?limit=2", **auth).json()
    assert [r["external_id"] for r in first["results"]] == ["t:2020-09-16T07:00:00+00:00", "older-2"]
    assert first["next"].startswith("http://testserver/api/v1/pipelines/")
    second = logged_in.get(first["next"], **auth).json()
    assert [r["external_id"] for r in second["results"]] == ["older-1", "older-0"] and second["next"] is None


def test_bad_paging_parameters_are_a_400(logged_in, polled) -> None:
    assert logged_in.get("/api/v1/pipelines/?limit=abc").status_code == 400


def test_unknown_pipeline_is_404(logged_in) -> None:
    assert logged_in.get("/api/v1/pipelines/00000000-0000-0000-0000-000000000000/runs/").status_code == 404


def test_api_never_returns_credentials(logged_in, polled) -> None:
    text = logged_in.get("/api/v1/pipelines/").content.decode()
    assert "s3cret" not in text and "credentials" not in text
    assert Pipeline.objects.count() == 4


def test_bearer_register_passes_enforced_csrf(client, one_shot) -> None:
    """Scripts register jobs with a token and no cookie: CSRF cannot apply (it once answered
    403 "CSRF token missing" because the view was wrapped by the API auth twice)."""
    token = issue_token(user_with_role("op", "operator"), scope="operate")
    response = client.post(
        f"/api/v1/pipelines/{one_shot.uuid}/runs/",
        json.dumps({"external_id": "fs-1"}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert response.status_code == 201, response.content
    assert Run.objects.filter(pipeline=one_shot, external_id="fs-1").exists()


def test_bearer_action_passes_enforced_csrf(client, one_shot) -> None:
    token = issue_token(user_with_role("op", "operator"), scope="operate")
    response = client.post(f"/api/v1/pipelines/{one_shot.uuid}/actions/pause/", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200 and response.json()["ok"]
    one_shot.refresh_from_db()
    assert one_shot.paused


def test_session_register_needs_the_csrf_token(client, one_shot) -> None:
    client.force_login(user_with_role("op", "operator"))
    url, body = f"/api/v1/pipelines/{one_shot.uuid}/runs/", json.dumps({"external_id": "fs-2"})
    refused = client.post(url, body, content_type="application/json")
    assert refused.status_code == 403 and "CSRF" in refused.json()["error"]["message"]
    assert not Run.objects.exists()
    ok = client.post(url, body, content_type="application/json", **csrf_headers(client))
    assert ok.status_code == 201, ok.content


def _api_views(resolver: URLResolver | None = None, prefix: str = "") -> list[tuple[str, object]]:
    found = []
    for entry in (resolver or get_resolver()).url_patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            found += _api_views(entry, route)
        elif isinstance(entry, URLPattern) and route.startswith("api/"):
            found.append((route, entry.callback))
    return found


def test_every_api_view_is_wrapped_by_the_api_auth_exactly_once() -> None:
    views = _api_views()
    assert len(views) >= 6
    for route, view in views:
        assert api_auth_layers(view) == 1, route


def test_wrapping_a_view_twice_is_refused() -> None:
    def view(request):
        raise AssertionError("never called")

    with pytest.raises(TypeError, match="already"):
        api_auth_required(api_auth_required(view))


def test_a_wrapped_view_called_from_another_is_not_authenticated_twice(db) -> None:
    """The shape that broke register: a read view handing a POST to a write view."""
    inner = api_operator_required(lambda request: JsonResponse({"ok": True}, status=201))
    outer = api_auth_required(lambda request: inner(request))
    token = issue_token(user_with_role("op", "operator"), scope="operate")
    request = RequestFactory(enforce_csrf_checks=True).post("/x", HTTP_AUTHORIZATION=f"Bearer {token}")
    request.user = AnonymousUser()
    assert outer(request).status_code == 201
    read = issue_token(user_with_role("rita", "operator"), scope="read")
    request = RequestFactory(enforce_csrf_checks=True).post("/x", HTTP_AUTHORIZATION=f"Bearer {read}")
    request.user = AnonymousUser()
    assert outer(request).status_code == 403  # the inner write still checks the scope
