"""Every protected endpoint with every persona: anonymous, viewer, operator, admin."""

import pytest
from django.contrib.auth.models import Group
from django.test import Client

from dashboard.auth import issue_token
from jobs.models import AuditEvent

from ..conftest import csrf_headers, user_with_role

PAGES = ["/", "/failures/", "/audit/"]
ADMIN_ONLY = ["/accounts/", "/accounts/new/", "/admin/", "/admin/jobs/account/", "/admin/jobs/alertchannel/"]


@pytest.fixture
def personas(django_user_model, polled):
    clients = {"anonymous": Client(enforce_csrf_checks=True)}
    for role in ("viewer", "operator", "admin"):
        user = django_user_model.objects.create_user(role, password="x" * 12)
        user.groups.add(Group.objects.get(name=role))
        clients[role] = Client(enforce_csrf_checks=True)
        clients[role].force_login(user)
    return clients


def _csrf(client: Client) -> dict[str, str]:
    return csrf_headers(client)


def expected(role: str, allowed: bool) -> set[int]:
    if role == "anonymous":
        return {302}
    return {200} if allowed else {302, 403}


@pytest.mark.parametrize("role", ["anonymous", "viewer", "operator", "admin"])
def test_read_pages(personas, role, polled) -> None:
    pipeline = polled["seed-failed"]
    for url in [*PAGES, f"/pipelines/{pipeline.uuid}/"]:
        assert personas[role].get(url).status_code in expected(role, True), (role, url)


@pytest.mark.parametrize("role", ["anonymous", "viewer", "operator", "admin"])
def test_admin_pages(personas, role) -> None:
    for url in ADMIN_ONLY:
        assert personas[role].get(url).status_code in expected(role, role == "admin"), (role, url)


@pytest.mark.parametrize(("role", "status"), [("anonymous", 302), ("viewer", 403), ("operator", 200), ("admin", 200)])
def test_htmx_actions(personas, role, status, polled) -> None:
    pipeline = polled["seed-success"]
    client = personas[role]
    response = client.post(f"/pipelines/{pipeline.uuid}/actions/pause/", HTTP_HX_REQUEST="true", **_csrf(client))
    assert response.status_code == status


@pytest.mark.parametrize(("role", "status"), [("anonymous", 401), ("viewer", 403), ("operator", 200), ("admin", 200)])
def test_api_actions(personas, role, status, polled) -> None:
    pipeline = polled["seed-success"]
    client = personas[role]
    response = client.post(
        f"/api/v1/pipelines/{pipeline.uuid}/actions/resume/", content_type="application/json", **_csrf(client)
    )
    assert response.status_code == status


@pytest.mark.parametrize(("role", "status"), [("anonymous", 401), ("viewer", 200), ("operator", 200), ("admin", 200)])
def test_api_reads(personas, role, status) -> None:
    assert personas[role].get("/api/v1/pipelines/").status_code == status
    assert personas[role].get("/api/v1/failures/").status_code == status


def test_session_writes_need_csrf(polled, django_user_model) -> None:
    user = django_user_model.objects.create_user("op", password="x" * 12)
    user.groups.add(Group.objects.get(name="operator"))
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(user)
    pipeline = polled["seed-success"]
    assert strict.post(f"/api/v1/pipelines/{pipeline.uuid}/actions/pause/").status_code == 403
    assert strict.post(f"/pipelines/{pipeline.uuid}/actions/pause/", HTTP_HX_REQUEST="true").status_code == 403


@pytest.mark.django_db
def test_role_changes_are_audited(django_user_model) -> None:
    user = django_user_model.objects.create_user("newbie", password="x" * 12)
    user.groups.add(Group.objects.get(name="operator"))
    event = AuditEvent.objects.get(action="role.changed")
    assert event.target_label == "newbie" and event.detail == {"change": "add", "groups": ["operator"]}


NO_ROLE_PAGES = ["/", "/failures/", "/audit/", "/timeline/", "/freshness/", "/preferences/", "/pipelines/new/"]


def test_no_role_no_access(polled, api_client) -> None:
    """Signed in without a role group: every page and endpoint says to ask an admin."""
    user = user_with_role("nobody", None)
    api_client.force_login(user)
    pipeline = polled["seed-failed"]
    for url in [*NO_ROLE_PAGES, f"/pipelines/{pipeline.uuid}/", "/accounts/", "/admin/"]:
        response = api_client.get(url)
        assert response.status_code == 403, url
        assert "ask an admin for a role" in response.content.decode().lower(), url
    for url in ["/api/v1/pipelines/", "/api/v1/failures/", f"/api/v1/pipelines/{pipeline.uuid}/runs/"]:
        response = api_client.get(url)
        assert response.status_code == 403 and "ask an admin for a role" in response.json()["error"], url
    token = issue_token(user)
    api_client.logout()
    bearer = api_client.get("/api/v1/pipelines/", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert bearer.status_code == 403 and "role" in bearer.json()["error"]
    assert api_client.get("/login/").status_code == 200  # signing in (as someone else) still works


@pytest.mark.django_db
def test_no_role_can_still_log_out(api_client) -> None:
    api_client.force_login(user_with_role("nobody", None))
    page = api_client.get("/")
    token = api_client.cookies["csrftoken"].value
    assert page.status_code == 403 and "Log out" in page.content.decode()
    assert api_client.post("/logout/", HTTP_X_CSRFTOKEN=token).status_code == 302
    assert "_auth_user_id" not in api_client.session


@pytest.mark.django_db
def test_a_superuser_needs_no_group(django_user_model, api_client) -> None:
    api_client.force_login(django_user_model.objects.create_superuser("root", "r@example.com", "x" * 12))
    for url in ["/", "/preferences/", "/api/v1/pipelines/", "/accounts/"]:
        assert api_client.get(url).status_code == 200, url
