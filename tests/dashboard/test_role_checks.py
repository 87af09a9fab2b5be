"""The role checks one by one (jobs/roles.py, the API's auth in dashboard/auth.py), below the
role matrix: what each answers for every kind of user, what a refusal leaves for the audit
log, and the API decorators applied here, at test time, so `make mutation` reaches them."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth.models import AnonymousUser, Group, Permission
from django.http import HttpResponse, JsonResponse
from django.test import RequestFactory

from dashboard.auth import (
    ADMIN_WRITES,
    admin_refusal,
    admin_writes,
    api_auth_layers,
    api_auth_required,
    api_operator_required,
    api_route,
    issue_token,
    operate_refusal,
)
from jobs import roles
from jobs.models import ApiToken

from ..conftest import user_with_role

pytestmark = pytest.mark.django_db


def _ok(request) -> HttpResponse:
    return JsonResponse({"user": request.user.username})


def _request(method: str = "GET", user=None, token: str | None = None, scheme: str = "Bearer"):
    factory = RequestFactory(enforce_csrf_checks=True)
    headers = {"HTTP_AUTHORIZATION": f"{scheme} {token}"} if token is not None else {}
    request = factory.generic(method, "/api/v1/x/", **headers)
    request.user = user or AnonymousUser()
    return request


def _error(response) -> tuple[int, str, str]:
    error = json.loads(response.content)["error"]
    return response.status_code, error["code"], error["message"]


# --- jobs/roles.py ---------------------------------------------------------------------


def test_each_role_answers_for_itself_and_the_roles_below() -> None:
    people = {name: user_with_role(name, name) for name in roles.ROLES}
    nobody, anonymous = user_with_role("nobody", None), AnonymousUser()
    root = type(nobody).objects.create_superuser("root", "root@example.com", "x" * 12)
    answers = {
        name: (roles.has_role(user), roles.is_operator(user), roles.is_admin(user))
        for name, user in {**people, "nobody": nobody, "anonymous": anonymous, "root": root}.items()
    }
    assert answers == {
        "viewer": (True, False, False),
        "operator": (True, True, False),
        "admin": (True, True, True),
        "nobody": (False, False, False),
        "anonymous": (False, False, False),
        "root": (True, True, True),  # a superuser needs no group
    }


def test_an_inactive_signed_in_object_without_groups_has_no_role() -> None:
    class Stranger:  # what a broken session or a token's missing user would leave
        pass

    assert not roles.has_role(Stranger()) and not roles.is_operator(Stranger()) and not roles.is_admin(Stranger())


def test_a_users_groups_are_read_once_per_request(django_assert_num_queries) -> None:
    user = user_with_role("olga", "operator")
    with django_assert_num_queries(1):
        assert roles.is_operator(user) and roles.has_role(user) and not roles.is_admin(user)


def test_lacks_leaves_the_refused_role_for_the_audit_log() -> None:
    operator = _request(user=user_with_role("olga", "operator"))
    assert roles.lacks(operator, roles.OPERATOR) is False and not hasattr(operator, "refused_role")
    assert roles.lacks(operator, roles.ADMIN) is True and operator.refused_role == "admin"
    viewer = _request(user=user_with_role("vic", "viewer"))
    assert roles.lacks(viewer, roles.OPERATOR) is True and viewer.refused_role == "operator"


def test_the_admin_site_is_for_active_admins_and_refuses_other_signed_in_users() -> None:
    admin = _request(user=user_with_role("ada", "admin"))
    assert roles.may_use_admin(admin) is True and roles.refuses_admin(admin) is False
    operator = _request(user=user_with_role("olga", "operator"))
    assert roles.may_use_admin(operator) is False and roles.refuses_admin(operator) is True
    assert operator.refused_role == "admin"
    anonymous = _request()  # gets the admin's login form, not a 403
    assert roles.may_use_admin(anonymous) is False and roles.refuses_admin(anonymous) is False
    gone = user_with_role("gone", "admin")
    gone.is_active = False
    assert roles.may_use_admin(_request(user=gone)) is False


def test_ensure_roles_makes_the_three_groups_and_gives_admins_the_admin_apps_only() -> None:
    Group.objects.all().delete()
    roles.ensure_roles()
    roles.ensure_roles()  # after every migrate: nothing twice
    groups = {g.name: g for g in Group.objects.all()}
    assert sorted(groups) == ["admin", "operator", "viewer"]
    wanted = Permission.objects.filter(content_type__app_label__in=["jobs", "auth", "axes"])
    assert {p.content_type.app_label for p in wanted} == {"jobs", "auth", "axes"}
    assert set(groups["admin"].permissions.all()) == set(wanted)
    assert not groups["viewer"].permissions.exists() and not groups["operator"].permissions.exists()


# --- dashboard/auth.py -----------------------------------------------------------------


def test_without_credentials_the_api_says_401_and_how_to_authenticate() -> None:
    for request in (_request(), _request(token="pw_x", scheme="Basic"), _request(token="   ")):
        response = api_auth_required(_ok)(request)
        assert _error(response) == (
            401,
            "unauthenticated",
            "authentication required: log in or send Authorization: Bearer <token>",
        )
        assert response["WWW-Authenticate"] == 'Bearer realm="api"'


def test_a_token_that_does_not_work_is_401_invalid_token_saying_why() -> None:
    response = api_auth_required(_ok)(_request(token="pw_nothing-like-it"))
    assert _error(response) == (401, "invalid_token", "unknown API token")
    assert response["WWW-Authenticate"] == 'Bearer realm="api", error="invalid_token"'


def test_the_scheme_is_case_insensitive_and_the_token_trimmed() -> None:
    token = issue_token(user_with_role("vic", "viewer"))
    for scheme in ("Bearer", "bearer", "BEARER"):
        request = _request(token=f"{token}  ", scheme=scheme)
        response = api_auth_required(_ok)(request)
        assert response.status_code == 200 and json.loads(response.content) == {"user": "vic"}, scheme
        assert request.api_token == ApiToken.objects.get()


def test_a_token_whose_owner_has_no_role_is_403_no_role() -> None:
    token = issue_token(user_with_role("nobody", None))
    assert _error(api_auth_required(_ok)(_request(token=token))) == (403, "no_role", roles.NO_ROLE)


def test_a_session_reads_without_csrf_and_writes_only_with_it() -> None:
    viewer = user_with_role("vic", "viewer")
    request = _request(user=viewer)
    assert api_auth_required(_ok)(request).status_code == 200 and request.api_token is None
    refused = api_auth_required(_ok)(_request("POST", user=viewer))
    assert _error(refused) == (403, "csrf_failed", "CSRF token missing or incorrect")
    with_token = _request("POST", user=viewer)
    with_token.COOKIES["csrftoken"] = with_token.META["HTTP_X_CSRFTOKEN"] = "k" * 32  # as a page sends it
    assert api_auth_required(_ok)(with_token).status_code == 200


def test_reads_for_every_role_writes_for_operators_with_an_operate_token() -> None:
    viewer, operator = user_with_role("vic", "viewer"), user_with_role("olga", "operator")
    tokens = {
        "viewer": issue_token(viewer, scope="operate"),
        "operator read": issue_token(operator, scope="read"),
        "operator operate": issue_token(operator, scope="operate"),
    }
    decorators = {"auth": api_auth_required, "operator": api_operator_required, "route": api_route}
    wrong = []
    for name, decorator in decorators.items():
        view = decorator(_ok)
        for method in ("GET", "HEAD", "OPTIONS", "POST", "PATCH", "DELETE"):
            writes = name == "operator" or (name == "route" and method not in ("GET", "HEAD", "OPTIONS"))
            for who, token in tokens.items():
                want = 403 if writes and who != "operator operate" else 200
                if (got := view(_request(method, token=token)).status_code) != want:
                    wrong.append(f"{name} {method} {who}: {got}, expected {want}")
    assert not wrong, "\n".join(wrong)


def test_the_refusals_say_what_is_missing() -> None:
    viewer = issue_token(user_with_role("vic", "viewer"), scope="operate")
    read = issue_token(user_with_role("olga", "operator"), scope="read")
    write = api_operator_required(_ok)
    assert _error(write(_request(token=viewer))) == (403, "role_required", "this needs the operator role")
    assert _error(write(_request(token=read))) == (
        403,
        "scope_required",
        "this token has the read scope; writing needs operate",
    )


def test_api_auth_layers_counts_the_wrappers_along_wraps() -> None:
    def plain(request) -> HttpResponse:
        return HttpResponse()

    wrapped = api_route(plain)
    assert api_auth_layers(plain) == 0 and api_auth_layers(wrapped) == 1

    def outer(request) -> HttpResponse:
        return wrapped(request)

    outer.__wrapped__ = wrapped  # as functools.wraps leaves it
    assert api_auth_layers(outer) == 1
    with pytest.raises(TypeError, match=r"plain is already wrapped by the API auth"):
        api_route(wrapped)
    assert getattr(wrapped, "csrf_exempt", False)  # bearer requests carry no cookie


def test_operate_refusal_asked_outside_the_api_auth_goes_by_the_role_alone() -> None:
    operator = _request("POST", user=user_with_role("olga", "operator"))  # no api_token on it
    assert operate_refusal(operator) is None
    viewer = _request("POST", user=user_with_role("vic", "viewer"))
    assert _error(operate_refusal(viewer)) == (403, "role_required", "this needs the operator role")


def test_a_view_called_from_another_api_view_is_not_authenticated_twice() -> None:
    """A second pass would take the token's owner for a session and ask a bearer write for CSRF."""
    inner = api_operator_required(_ok)
    outer = api_route(lambda request: inner(request))
    token = issue_token(user_with_role("olga", "operator"), scope="operate")
    response = outer(_request("POST", token=token))
    assert response.status_code == 200 and json.loads(response.content) == {"user": "olga"}


def test_admin_refusal_lets_admins_configure_and_refuses_the_rest_for_the_audit_log() -> None:
    admin = _request("POST", user=user_with_role("ada", "admin"))
    assert admin_refusal(admin) is None and not hasattr(admin, "refused_role")
    operator = _request("POST", user=user_with_role("olga", "operator"))
    assert _error(admin_refusal(operator)) == (403, "role_required", "this needs the admin role")
    assert operator.refused_role == "admin"


def test_admin_writes_marks_the_view_itself() -> None:
    def create_account(request) -> HttpResponse:
        return HttpResponse()

    assert admin_writes(create_account) is create_account
    assert getattr(create_account, ADMIN_WRITES) is True  # the URL patterns read it (dashboard/apiv1/app.py)


# --- dashboard/access.py ---------------------------------------------------------------


def test_no_role_gets_the_same_sentence_as_a_page_and_as_an_api_error(client) -> None:
    client.force_login(user_with_role("nobody", None))
    page = client.get("/")
    assert page.status_code == 403 and page.templates[0].name == "dashboard/no_role.html"
    assert f"<p>{roles.NO_ROLE}</p>" in page.content.decode()
    assert _error(client.get("/api/v1/pipelines/")) == (403, "no_role", roles.NO_ROLE)
    assert "Signed in as <strong>nobody</strong>" in page.content.decode()  # rendered for the request
    assert client.get("/login/").status_code == 200  # signing in and out stays open


def test_the_role_check_leaves_anonymous_visitors_to_the_login_and_lets_every_role_in(client) -> None:
    page = client.get("/")
    assert page.status_code == 302 and page["Location"].startswith("/login/")
    assert _error(client.get("/api/v1/pipelines/"))[:2] == (401, "unauthenticated")
    client.force_login(user_with_role("vic", "viewer"))
    assert client.get("/").status_code == 200 and client.get("/api/v1/pipelines/").status_code == 200
