"""Role checks generated from the URL configuration: every route (pages, HTMX endpoints, API,
admin) x every persona x GET and POST, each cell one exact status. POSTs carry a valid CSRF
token, so the role check itself is what answers; each request's writes are rolled back."""

import pytest
from django.contrib.auth.models import Group
from django.test import Client

from dashboard.auth import issue_token
from jobs.models import AuditEvent

from ..conftest import user_with_role
from .route_matrix import PERSONAS, ask, make_users, make_world, routes, url_for

# Rows are (anonymous, no role, viewer, operator, admin).
READ = (302, 403, 200, 200, 200)  # any role reads; anonymous goes to the login page
OPERATE = (302, 403, 403, 200, 200)  # operators and admins act on pipelines
ADMIN = (302, 403, 403, 403, 200)  # admins configure
OPEN = (200, 200, 200, 200, 200)  # signing in, resetting a password, probes
NO_SUCH_METHOD = (405, 405, 405, 405, 405)
API_READ = (401, 403, 200, 200, 200)  # the API says 401, it does not redirect
ADMIN_FORWARD = (302, 403, 403, 403, 302)  # the admin's bare object URL forwards to its change page
ADMIN_READ_ONLY = (302, 403, 403, 403, 403)  # records the admin may look at but not add or delete

# URL name (or the pattern of an unnamed route) -> (GET row, POST row).
EXPECTED: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = {
    "overview": (READ, READ),
    "pipeline-new": (OPERATE, OPERATE),
    "upload": (OPERATE, OPERATE),
    "pipeline": (READ, READ),
    "pipeline-action": ((302, 403, 405, 405, 405), OPERATE),  # acting is POST only
    # A kind's own operations: POST only; this kind has no "retry", which operators are told.
    "pipeline-operation": ((302, 403, 405, 405, 405), (302, 403, 403, 409, 409)),
    "run": (READ, READ),
    "run-items-csv": (READ, READ),
    # Run history downloads (default period: the last 30 days) are reads: GET only.
    "runs-export-csv": (READ, (302, 403, 405, 405, 405)),
    "runs-export-jsonl": (READ, (302, 403, 405, 405, 405)),
    "pipeline-runs-csv": (READ, (302, 403, 405, 405, 405)),
    "pipeline-runs-jsonl": (READ, (302, 403, 405, 405, 405)),
    "pipeline-timeline": (READ, READ),
    "timeline": (READ, READ),
    "freshness": (READ, READ),
    "failures": (READ, READ),
    "audit": (READ, READ),
    "accounts": (ADMIN, ADMIN),
    "account-new": (ADMIN, ADMIN),
    "account-edit": (ADMIN, ADMIN),
    "account-test": ((302, 403, 403, 403, 405), ADMIN),  # the role check comes before the method check
    "failure-ack": ((302, 403, 405, 405, 405), OPERATE),
    # Mute and unmute are POST only and go back to the page they came from.
    "pipeline-mute": ((302, 403, 405, 405, 405), (302, 403, 403, 303, 303)),  # 303: see the page again
    "pipeline-unmute": ((302, 403, 405, 405, 405), (302, 403, 403, 303, 303)),
    "pipeline-owner": ((302, 403, 405, 405, 405), (302, 403, 403, 303, 303)),  # team and empty-day option
    "preferences": (READ, (302, 403, 302, 302, 302)),  # saving redirects back
    "token-create": (
        (302, 403, 405, 405, 405),
        (302, 403, 400, 400, 400),
    ),  # an empty form is a 400, past the role check
    "token-revoke": ((302, 403, 405, 405, 405), (302, 403, 302, 302, 302)),  # one's own token
    "login": (OPEN, OPEN),
    "logout": (NO_SUCH_METHOD, (302, 302, 302, 302, 302)),  # Django 5: POST only
    "password_reset": (OPEN, OPEN),
    "password_reset_done": (OPEN, NO_SUCH_METHOD),
    "password_reset_confirm": (
        (302, 302, 302, 302, 302),
        (302, 302, 302, 302, 302),
    ),  # a valid link forwards to the set-password form
    "password_reset_complete": (OPEN, NO_SUCH_METHOD),
    # Lists answer GET only: a POST was once served as a GET; now 405, as the OpenAPI schema says.
    "api-pipelines": (API_READ, (405, 403, 405, 405, 405)),
    # Run history downloads (streamed CSV or JSON lines): GET only, as the lists.
    "api-runs-export": (API_READ, (405, 403, 405, 405, 405)),
    "api-pipeline-runs-export": (API_READ, (405, 403, 405, 405, 405)),
    # One pipeline: GET reads, PATCH (an operator's) changes its team and empty-day option; POST is no method.
    "api-pipeline": (API_READ, (405, 403, 405, 405, 405)),
    "api-pipeline-runs": (API_READ, (401, 403, 403, 400, 400)),  # registering a run is a write: an empty body is a 400
    "api-pipeline-create": (
        (405, 403, 405, 405, 405),
        (401, 403, 403, 400, 400),
    ),  # no role: the middleware answers before the method check
    # Adding an account is the admin's: an operator is refused before the body is read.
    "api-accounts": ((405, 403, 405, 405, 405), (401, 403, 403, 403, 400)),
    "api-failures": (API_READ, (405, 403, 405, 405, 405)),
    "api-failure-ack": ((405, 403, 405, 405, 405), (401, 403, 403, 400, 400)),
    "api-pipeline-action": ((405, 403, 405, 405, 405), (401, 403, 403, 200, 200)),
    "api-pipeline-operation": ((405, 403, 405, 405, 405), (401, 403, 403, 400, 400)),  # no JSON body: 400
    # The API's OpenAPI schema and its docs page: readers of the API read them; GET only.
    "api-openapi": (API_READ, (405, 403, 405, 405, 405)),
    "api-docs": (API_READ, (405, 403, 405, 405, 405)),
    "healthz": (OPEN, OPEN),
    "metrics": (OPEN, OPEN),
    "admin:index": (ADMIN, ADMIN),
    "admin:login": ((200, 200, 200, 200, 302), OPEN),  # url name 'login' is open; an admin is sent on to the index
    "admin:logout": ((302, 403, 403, 403, 405), (302, 403, 403, 403, 302)),
    "admin:password_change": (ADMIN, ADMIN),
    "admin:password_change_done": (ADMIN, (302, 403, 403, 403, 405)),
    "admin:autocomplete": (
        (302, 403, 403, 403, 403),
        (302, 403, 403, 403, 405),
    ),  # without its query parameters Django refuses even an admin
    "admin:jsi18n": (ADMIN, (302, 403, 403, 403, 405)),
    "admin:view_on_site": (
        (302, 403, 403, 403, 404),
        (302, 403, 403, 403, 404),
    ),  # a pipeline has no public URL of its own
    "admin:auth_group_changelist": (ADMIN, ADMIN),
    "admin:auth_group_add": (ADMIN, ADMIN),
    "admin:auth_group_history": (ADMIN, ADMIN),
    "admin:auth_group_delete": (ADMIN, ADMIN),
    "admin:auth_group_change": (ADMIN, ADMIN),
    "admin/auth/group/<path:object_id>/": (ADMIN_FORWARD, ADMIN_FORWARD),
    "admin:auth_user_password_change": (ADMIN, ADMIN),
    "admin:auth_user_changelist": (ADMIN, ADMIN),
    "admin:auth_user_add": (ADMIN, ADMIN),
    "admin:auth_user_history": (ADMIN, ADMIN),
    "admin:auth_user_delete": (ADMIN, ADMIN),
    "admin:auth_user_change": (ADMIN, ADMIN),
    "admin/auth/user/<path:object_id>/": (ADMIN_FORWARD, ADMIN_FORWARD),
    "admin:axes_accessattempt_changelist": (ADMIN, ADMIN),
    "admin:axes_accessattempt_add": (ADMIN_READ_ONLY, ADMIN_READ_ONLY),
    "admin:axes_accessattempt_history": (ADMIN, ADMIN),
    "admin:axes_accessattempt_delete": (ADMIN, ADMIN),
    "admin:axes_accessattempt_change": (ADMIN, ADMIN_FORWARD),
    "admin/axes/accessattempt/<path:object_id>/": (ADMIN_FORWARD, ADMIN_FORWARD),
    "admin:axes_accesslog_changelist": (ADMIN, ADMIN),
    "admin:axes_accesslog_add": (ADMIN_READ_ONLY, ADMIN_READ_ONLY),
    "admin:axes_accesslog_history": (ADMIN, ADMIN),
    "admin:axes_accesslog_delete": (ADMIN, ADMIN),
    "admin:axes_accesslog_change": (ADMIN, ADMIN_FORWARD),
    "admin/axes/accesslog/<path:object_id>/": (ADMIN_FORWARD, ADMIN_FORWARD),
    "admin:axes_accessfailurelog_changelist": (ADMIN, ADMIN),
    "admin:axes_accessfailurelog_add": (ADMIN_READ_ONLY, ADMIN_READ_ONLY),
    "admin:axes_accessfailurelog_history": (ADMIN, ADMIN),
    "admin:axes_accessfailurelog_delete": (ADMIN, ADMIN),
    "admin:axes_accessfailurelog_change": (ADMIN, ADMIN_FORWARD),
    "admin/axes/accessfailurelog/<path:object_id>/": (ADMIN_FORWARD, ADMIN_FORWARD),
    "admin:jobs_account_changelist": (ADMIN, ADMIN),
    "admin:jobs_account_add": (ADMIN, ADMIN),
    "admin:jobs_account_history": (ADMIN, ADMIN),
    "admin:jobs_account_delete": (ADMIN, ADMIN),
    "admin:jobs_account_change": (ADMIN, ADMIN),
    "admin/jobs/account/<path:object_id>/": (ADMIN_FORWARD, ADMIN_FORWARD),
    "admin:jobs_pipeline_changelist": (ADMIN, ADMIN),
    "admin:jobs_pipeline_add": (ADMIN, ADMIN),
    "admin:jobs_pipeline_history": (ADMIN, ADMIN),
    "admin:jobs_pipeline_delete": (ADMIN, ADMIN),
    "admin:jobs_pipeline_change": (ADMIN, ADMIN),
    "admin/jobs/pipeline/<path:object_id>/": (ADMIN_FORWARD, ADMIN_FORWARD),
    "admin:jobs_run_changelist": (ADMIN, ADMIN),
    "admin:jobs_run_add": (ADMIN_READ_ONLY, ADMIN_READ_ONLY),
    "admin:jobs_run_history": (ADMIN, ADMIN),
    "admin:jobs_run_delete": (ADMIN_READ_ONLY, ADMIN_READ_ONLY),
    "admin:jobs_run_change": (ADMIN, ADMIN_READ_ONLY),
    "admin/jobs/run/<path:object_id>/": (ADMIN_FORWARD, ADMIN_FORWARD),
    "admin:jobs_pollattempt_changelist": (ADMIN, ADMIN),
    "admin:jobs_pollattempt_add": (ADMIN_READ_ONLY, ADMIN_READ_ONLY),
    "admin:jobs_pollattempt_history": (ADMIN, ADMIN),
    "admin:jobs_pollattempt_delete": (ADMIN_READ_ONLY, ADMIN_READ_ONLY),
    "admin:jobs_pollattempt_change": (ADMIN, ADMIN_READ_ONLY),
    "admin/jobs/pollattempt/<path:object_id>/": (ADMIN_FORWARD, ADMIN_FORWARD),
    "admin:jobs_auditevent_changelist": (ADMIN, ADMIN),
    "admin:jobs_auditevent_add": (ADMIN_READ_ONLY, ADMIN_READ_ONLY),
    "admin:jobs_auditevent_history": (ADMIN, ADMIN),
    "admin:jobs_auditevent_delete": (ADMIN_READ_ONLY, ADMIN_READ_ONLY),
    "admin:jobs_auditevent_change": (ADMIN, ADMIN_READ_ONLY),
    "admin/jobs/auditevent/<path:object_id>/": (ADMIN_FORWARD, ADMIN_FORWARD),
    "admin:jobs_alertevent_changelist": (ADMIN, ADMIN),
    "admin:jobs_alertevent_add": (ADMIN_READ_ONLY, ADMIN_READ_ONLY),
    "admin:jobs_alertevent_history": (ADMIN, ADMIN),
    "admin:jobs_alertevent_delete": (ADMIN_READ_ONLY, ADMIN_READ_ONLY),
    "admin:jobs_alertevent_change": (ADMIN, ADMIN_READ_ONLY),
    "admin/jobs/alertevent/<path:object_id>/": (ADMIN_FORWARD, ADMIN_FORWARD),
    "admin:jobs_apitoken_changelist": (ADMIN, ADMIN),
    "admin:jobs_apitoken_add": (ADMIN_READ_ONLY, ADMIN_READ_ONLY),
    "admin:jobs_apitoken_history": (ADMIN, ADMIN),
    "admin:jobs_apitoken_delete": (ADMIN, ADMIN),
    "admin:jobs_apitoken_change": (ADMIN, ADMIN_FORWARD),
    "admin/jobs/apitoken/<path:object_id>/": (ADMIN_FORWARD, ADMIN_FORWARD),
    "admin:jobs_team_changelist": (ADMIN, ADMIN),
    "admin:jobs_team_add": (ADMIN, ADMIN),
    "admin:jobs_team_history": (ADMIN, ADMIN),
    "admin:jobs_team_delete": (ADMIN, ADMIN),
    "admin:jobs_team_change": (ADMIN, ADMIN),
    "admin/jobs/team/<path:object_id>/": (ADMIN_FORWARD, ADMIN_FORWARD),
    "admin:jobs_alertchannel_changelist": (ADMIN, ADMIN),
    "admin:jobs_alertchannel_add": (ADMIN, ADMIN),
    "admin:jobs_alertchannel_history": (ADMIN, ADMIN),
    "admin:jobs_alertchannel_delete": (ADMIN, ADMIN),
    "admin:jobs_alertchannel_change": (ADMIN, ADMIN),
    "admin/jobs/alertchannel/<path:object_id>/": (ADMIN_FORWARD, ADMIN_FORWARD),
    "admin:jobs_alertdelivery_changelist": (ADMIN, ADMIN),
    "admin:jobs_alertdelivery_add": (ADMIN_READ_ONLY, ADMIN_READ_ONLY),
    "admin:jobs_alertdelivery_history": (ADMIN, ADMIN),
    "admin:jobs_alertdelivery_delete": (ADMIN_READ_ONLY, ADMIN_READ_ONLY),
    "admin:jobs_alertdelivery_change": (ADMIN, ADMIN_READ_ONLY),
    "admin/jobs/alertdelivery/<path:object_id>/": (ADMIN_FORWARD, ADMIN_FORWARD),
    "admin:jobs_maintenancewindow_changelist": (ADMIN, ADMIN),
    "admin:jobs_maintenancewindow_add": (ADMIN, ADMIN),
    "admin:jobs_maintenancewindow_history": (ADMIN, ADMIN),
    "admin:jobs_maintenancewindow_delete": (ADMIN, ADMIN),
    "admin:jobs_maintenancewindow_change": (ADMIN, ADMIN),
    "admin/jobs/maintenancewindow/<path:object_id>/": (ADMIN_FORWARD, ADMIN_FORWARD),
    "admin:app_list": (ADMIN, ADMIN),
    "admin/(?P<url>.*)$": (
        (302, 403, 403, 403, 404),
        (302, 403, 403, 403, 404),
    ),  # the admin's catch-all: past the role check, nothing there
}


def test_every_route_has_an_expectation() -> None:
    keys = [r.key for r in routes()]
    missing = [k for k in keys if k not in EXPECTED]
    assert not missing, f"add these routes to EXPECTED in tests/dashboard/test_roles.py: {missing}"
    gone = set(EXPECTED) - set(keys)
    assert not gone, f"EXPECTED names routes that no longer exist: {sorted(gone)}"


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize("persona", PERSONAS)
def test_role_matrix(polled, mp_account, persona: str, method: str) -> None:
    world = make_world(polled, mp_account)
    users = make_users(world["admin_user"])
    column = PERSONAS.index(persona)
    wrong = []
    for route in routes():
        if route.key not in EXPECTED:
            continue  # test_every_route_has_an_expectation names it
        want = EXPECTED[route.key][method == "POST"][column]
        got = ask(route, world, persona, method, users)
        if got != want:
            wrong.append(f"{method} {route.key}: {got}, expected {want}")
    assert not wrong, f"{persona}:\n" + "\n".join(wrong)


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


def test_no_role_is_told_to_ask_an_admin_everywhere(polled, mp_account) -> None:
    """Signed in without a role group: every page and endpoint the matrix refuses says why."""
    world = make_world(polled, mp_account)
    users = make_users(world["admin_user"])
    client = Client()
    client.force_login(users["no_role"])

    refused = [r for r in routes() if EXPECTED.get(r.key, ((0,) * 5,))[0][1] == 403]
    assert len(refused) > 100
    for route in refused:
        response = client.get(url_for(route, world, "no_role", users))
        body = response.json()["error"]["message"] if route.pattern.startswith("api/") else response.content.decode()
        # admin:logout shares the open url name "logout": the admin's own refusal answers it
        assert response.status_code == 403 and "ask an admin" in body.lower(), route.key
    token = issue_token(users["no_role"])
    client.logout()
    bearer = client.get("/api/v1/pipelines/", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert bearer.status_code == 403 and "role" in bearer.json()["error"]["message"]


@pytest.mark.django_db
def test_no_role_can_still_log_out(api_client) -> None:
    api_client.force_login(user_with_role("nobody", None))
    page = api_client.get("/")
    token = api_client.cookies["csrftoken"].value
    assert page.status_code == 403 and 'action="/logout/"' in page.content.decode()
    assert api_client.post("/logout/", HTTP_X_CSRFTOKEN=token).status_code == 302
    assert "_auth_user_id" not in api_client.session


@pytest.mark.django_db
def test_a_superuser_needs_no_group(django_user_model, api_client) -> None:
    api_client.force_login(django_user_model.objects.create_superuser("root", "r@example.com", "x" * 12))
    for url in ["/", "/preferences/", "/api/v1/pipelines/", "/accounts/"]:
        assert api_client.get(url).status_code == 200, url
