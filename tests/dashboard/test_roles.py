"""Every protected endpoint with every persona: anonymous, viewer, operator, admin."""

import pytest
from django.contrib.auth.models import Group
from django.test import Client

from jobs.models import AuditEvent

PAGES = ["/", "/failures/", "/audit/"]
ADMIN_ONLY = ["/accounts/", "/accounts/new/", "/admin/", "/admin/jobs/account/", "/admin/jobs/alertchannel/"]


@pytest.fixture
def personas(django_user_model, polled):
    clients = {"anonymous": Client()}
    for role in ("viewer", "operator", "admin"):
        user = django_user_model.objects.create_user(role, password="x" * 12)
        user.groups.add(Group.objects.get(name=role))
        clients[role] = Client()
        clients[role].force_login(user)
    return clients


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
    response = personas[role].post(f"/pipelines/{pipeline.uuid}/actions/pause/", HTTP_HX_REQUEST="true")
    assert response.status_code == status


@pytest.mark.parametrize(("role", "status"), [("anonymous", 401), ("viewer", 403), ("operator", 200), ("admin", 200)])
def test_api_actions(personas, role, status, polled) -> None:
    pipeline = polled["seed-success"]
    client = personas[role]
    client.handler.enforce_csrf_checks = False
    response = client.post(f"/api/v1/pipelines/{pipeline.uuid}/actions/resume/", content_type="application/json")
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
