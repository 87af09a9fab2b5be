"""API authentication: the browser session, or a bearer token from `create_api_token`."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from functools import wraps

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from jobs.models import ApiToken

from .roles import OPERATOR, lacks

TOKEN_PREFIX = "pw_"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(user: object, name: str = "") -> str:
    """Create a token and return it; only its digest is kept, so this is the only sight of it."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    ApiToken.objects.create(user=user, name=name, prefix=token[:10], digest=hash_token(token))
    return token


def _bearer_user(request: HttpRequest) -> object | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    api_token = ApiToken.objects.select_related("user").filter(digest=hash_token(token.strip())).first()
    if api_token is None or not api_token.user.is_active:
        return None
    now = timezone.now()
    if api_token.last_used_at is None or (now - api_token.last_used_at).total_seconds() > 60:
        ApiToken.objects.filter(pk=api_token.pk).update(last_used_at=now)
    return api_token.user


def api_auth_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Session or bearer token. Session-authenticated writes still need the CSRF token;
    bearer requests carry no cookie, so CSRF cannot apply to them."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        if request.user.is_authenticated:
            if request.method not in ("GET", "HEAD", "OPTIONS"):
                reason = CsrfViewMiddleware(lambda r: HttpResponse()).process_view(request, None, (), {})
                if reason is not None:
                    return JsonResponse({"error": "CSRF token missing or incorrect"}, status=403)
        else:
            user = _bearer_user(request)
            if user is None:
                response = JsonResponse(
                    {"error": "authentication required: log in or send Authorization: Bearer <token>"},
                    status=401,
                )
                response["WWW-Authenticate"] = 'Bearer realm="api"'
                return response
            request.user = user
        return view(request, *args, **kwargs)

    return csrf_exempt(wrapper)


def api_operator_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    @wraps(view)
    def wrapper(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        if lacks(request, OPERATOR):
            return JsonResponse({"error": "this needs the operator role"}, status=403)
        return view(request, *args, **kwargs)

    return api_auth_required(wrapper)
