"""Every refused attempt by a signed-in person is in the audit log, whatever the path:
pipeline actions, create, acknowledge (page and API), the Django admin."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth.models import Group
from django.test import Client

from dashboard.auth import issue_token
from jobs.failures import incidents
from jobs.models import Acknowledgement, AuditEvent, Pipeline


def csrf_client(user) -> Client:
    """A browser session as the pages use it: CSRF enforced, the token sent as htmx sends it."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    client.get("/")
    client.defaults["HTTP_X_CSRFTOKEN"] = client.cookies["csrftoken"].value
    return client


def bearer_client(user) -> Client:
    return Client(enforce_csrf_checks=True, HTTP_AUTHORIZATION=f"Bearer {issue_token(user, 'script')}")


def refusals(user, path: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action="refused", outcome="refused", actor=user, target_label=path))


@pytest.fixture
def targets(polled, mp_account):
    return {
        "pipeline": polled["seed-success"],
        "incident": next(i for i in incidents() if i.pipeline is not None).id,
        "what": f"{mp_account.uuid}:export_pipeline",
    }


PAGE_CASES = {
    "action": lambda t: (f"/pipelines/{t['pipeline'].uuid}/actions/pause/", {}),
    "create": lambda t: ("/pipelines/new/", {"what": t["what"], "type": "gcs-raw", "gcs_bucket": "b"}),
    "ack": lambda t: (f"/failures/{t['incident']}/ack/", {"note": "mine", "snooze": "60"}),
}
API_CASES = {
    "action": lambda t: (f"/api/v1/pipelines/{t['pipeline'].uuid}/actions/pause/", {}),
    "create": lambda t: ("/api/v1/pipelines/new/", {"account": "mp-test", "kind": "export_pipeline", "spec": {}}),
    "ack": lambda t: (f"/api/v1/failures/{t['incident']}/ack/", {"note": "mine", "snooze_minutes": 60}),
}


def nothing_happened(t) -> None:
    assert not Pipeline.objects.get(pk=t["pipeline"].pk).paused
    assert not Pipeline.objects.filter(kind="export_pipeline").exists()
    assert not Acknowledgement.objects.exists()


@pytest.mark.parametrize("case", PAGE_CASES)
def test_a_viewers_refused_page_post_is_audited(targets, viewer, case) -> None:
    path, form = PAGE_CASES[case](targets)
    response = csrf_client(viewer).post(path, form, HTTP_HX_REQUEST="true")
    assert response.status_code == 403
    nothing_happened(targets)
    [event] = refusals(viewer, path)
    assert event.target_type == "page" and event.detail["method"] == "POST"
    assert event.detail["reason"] == "role" and event.actor_label == "viewer"


@pytest.mark.parametrize("case", API_CASES)
def test_a_viewers_refused_api_call_is_audited(targets, viewer, case) -> None:
    path, body = API_CASES[case](targets)
    response = bearer_client(viewer).post(path, json.dumps(body), content_type="application/json")
    assert response.status_code == 403 and "operator" in response.json()["error"]["message"]
    nothing_happened(targets)
    [event] = refusals(viewer, path)
    assert event.target_type == "api" and event.detail["method"] == "POST" and event.detail["reason"] == "role"


def test_a_refused_api_call_over_the_session_is_audited(targets, viewer) -> None:
    path, body = API_CASES["action"](targets)
    response = csrf_client(viewer).post(path, json.dumps(body), content_type="application/json")
    assert response.status_code == 403
    assert len(refusals(viewer, path)) == 1


def test_a_request_without_its_csrf_token_is_audited_as_such(targets, viewer) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(viewer)
    path = f"/pipelines/{targets['pipeline'].uuid}/actions/pause/"
    assert client.post(path).status_code == 403
    [event] = refusals(viewer, path)
    assert event.detail["reason"] == "csrf"


def test_the_refusal_names_the_view_and_the_get_is_audited_too(db, viewer) -> None:
    client = Client()
    client.force_login(viewer)
    assert client.get("/pipelines/new/").status_code == 403
    [event] = refusals(viewer, "/pipelines/new/")
    assert event.detail == {"method": "GET", "view": "pipeline-new", "reason": "role", "needs": "operator"}


def test_anonymous_requests_are_not_audited(targets) -> None:
    path, body = API_CASES["action"](targets)
    assert Client().post(path, json.dumps(body), content_type="application/json").status_code == 401
    assert Client().post(PAGE_CASES["action"](targets)[0]).status_code in (302, 403)
    assert not AuditEvent.objects.filter(action="refused").exists()


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["viewer", "operator"])
def test_the_admin_refuses_non_admins_with_a_403_and_audits_it(django_user_model, role) -> None:
    user = django_user_model.objects.create_user(f"{role}-1", password="x" * 12)
    user.groups.add(Group.objects.get(name=role))
    client = Client()
    client.force_login(user)
    for path in ("/admin/", "/admin/auth/user/", "/admin/jobs/alertchannel/add/"):
        assert client.get(path).status_code == 403, path
        [event] = refusals(user, path)
        assert event.target_type == "admin"


@pytest.mark.django_db
def test_the_admins_own_permission_denials_are_audited(django_user_model) -> None:
    root = django_user_model.objects.create_superuser("root", "r@example.com", "x" * 12)
    client = Client()
    client.force_login(root)
    event = AuditEvent.objects.create(actor_label="t", action="config.apply")
    assert client.get("/admin/jobs/auditevent/add/").status_code == 403
    client.post(f"/admin/jobs/auditevent/{event.pk}/delete/", {"post": "yes"})
    assert len(refusals(root, "/admin/jobs/auditevent/add/")) == 1
    assert len(refusals(root, f"/admin/jobs/auditevent/{event.pk}/delete/")) == 1


@pytest.mark.django_db
def test_a_path_with_a_nul_is_refused_as_bad_input_before_any_check(viewer) -> None:
    client = Client()
    client.force_login(viewer)
    # dashboard.inputs answers 400 before sessions and roles: no 500, nothing stored with a NUL.
    assert client.get("/admin/x%00y/").status_code == 400
    assert all("\x00" not in e.target_label for e in AuditEvent.objects.all())
