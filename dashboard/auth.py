"""API authentication: the browser session, or a bearer token (jobs/tokens.py).

Every API view is wrapped exactly once, by `api_auth_required` (reads) or
`api_operator_required` (writes): wrapping twice is refused when the module loads, and a
wrapped view called from another one is not authenticated again. Session writes need the
CSRF token; bearer requests carry no cookie, so CSRF cannot apply to them."""

from __future__ import annotations

import weakref
from collections.abc import Callable
from functools import wraps

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.views.decorators.csrf import csrf_exempt

from jobs import tokens
from jobs.models import ApiToken
from jobs.tokens import issue_token

from .envelope import api_error
from .roles import ADMIN, NO_ROLE, OPERATOR, has_role, lacks

__all__ = [
    "admin_refusal",
    "admin_writes",
    "api_auth_layers",
    "api_auth_required",
    "api_operator_required",
    "api_route",
    "issue_token",
    "operate_refusal",
]

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
View = Callable[..., HttpResponse]


def _unauthorized(message: str, token_sent: bool) -> JsonResponse:
    response = api_error(401, message, "invalid_token" if token_sent else "unauthenticated")
    # RFC 6750: say why a token that was sent did not work, so clients stop retrying it.
    response["WWW-Authenticate"] = 'Bearer realm="api", error="invalid_token"' if token_sent else 'Bearer realm="api"'
    return response


def _authenticate(request: HttpRequest) -> HttpResponse | None:
    """Sets request.user and request.api_token (None for a session), or answers the refusal."""
    if request.user.is_authenticated:
        if request.method not in SAFE_METHODS:
            reason = CsrfViewMiddleware(lambda r: HttpResponse()).process_view(request, None, (), {})
            if reason is not None:
                return api_error(403, "CSRF token missing or incorrect", "csrf_failed")
        request.api_token = None
        return None
    scheme, _, raw = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not raw.strip():
        return _unauthorized("authentication required: log in or send Authorization: Bearer <token>", False)
    checked = tokens.check(raw.strip())
    if checked.token is None:
        return _unauthorized(checked.error, True)
    if not has_role(checked.token.user):
        return api_error(403, NO_ROLE, "no_role")
    request.user, request.api_token = checked.token.user, checked.token
    return None


def operate_refusal(request: HttpRequest) -> JsonResponse | None:
    """None if this authenticated request may act on pipelines: the operator role, and for
    a token the operate scope (a read token never writes, whoever owns it)."""
    if lacks(request, OPERATOR):
        return api_error(403, "this needs the operator role", "role_required")
    token: ApiToken | None = getattr(request, "api_token", None)
    if token is not None and token.scope != ApiToken.OPERATE:
        return api_error(403, f"this token has the {token.scope} scope; writing needs operate", "scope_required")
    return None


def admin_refusal(request: HttpRequest) -> JsonResponse | None:
    """None if this authenticated request may configure (accounts): the admin role."""
    if lacks(request, ADMIN):
        return api_error(403, "this needs the admin role", "role_required")
    return None


ADMIN_WRITES = "pipewatch_admin_writes"


def admin_writes(view: View) -> View:
    """Marks an API operation whose writes need the admin role besides the operate scope:
    the API's URL patterns check it after the auth and before the body is read."""
    setattr(view, ADMIN_WRITES, True)
    return view


_LAYERS: weakref.WeakSet[Callable[..., HttpResponse]] = weakref.WeakSet()


def api_auth_layers(view: Callable[..., object]) -> int:
    """How many times the API auth wraps this view (following functools.wraps)."""
    count, layer = 0, view
    while layer is not None:
        count += layer in _LAYERS
        layer = getattr(layer, "__wrapped__", None)
    return count


def _refusal(request: HttpRequest, operate: bool | None) -> HttpResponse | None:
    """The API auth's answer before a view runs, None when it may. `operate`: the operator
    role (and a token's operate scope) is needed always (True), never (False), or only for
    writes, a method other than GET/HEAD/OPTIONS (None). Outside the wrapper so that
    `make mutation` reaches it: mutmut leaves decorated functions alone."""
    # An outer API view may have authenticated this request already: not twice.
    if not hasattr(request, "api_token") and (refused := _authenticate(request)):
        return refused
    if operate or (operate is None and request.method not in SAFE_METHODS):
        return operate_refusal(request)
    return None


def _wrap(view: View, operate: bool | None) -> View:
    if api_auth_layers(view):
        raise TypeError(f"{view.__qualname__} is already wrapped by the API auth")

    @wraps(view)
    def wrapper(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        if (refused := _refusal(request, operate)) is not None:
            return refused
        return view(request, *args, **kwargs)

    _LAYERS.add(wrapper)
    return csrf_exempt(wrapper)


def api_auth_required(view: View) -> View:
    """Any role may call it; signed-in users without a role may not (dashboard/access.py)."""
    return _wrap(view, operate=False)


def api_operator_required(view: View) -> View:
    """Writes: the operator role, and the operate scope for a token."""
    return _wrap(view, operate=True)


def api_route(view: View) -> View:
    """A route serving reads and writes (the OpenAPI-described API): any role reads; a write
    needs the operator role, and the operate scope for a token."""
    return _wrap(view, operate=None)
