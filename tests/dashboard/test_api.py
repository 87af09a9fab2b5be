import pytest

from dashboard.auth import issue_token
from jobs.models import Pipeline, Run

GZIP = "No compression specified but Gzip detected. Please submit a new request with correct compression as param"


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
