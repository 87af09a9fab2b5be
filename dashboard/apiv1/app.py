"""The NinjaAPI of `/api/v1/`: one error envelope, JSON bodies read by dashboard.inputs, the
schema at openapi.json and Swagger UI at docs (its assets are django-ninja's own static
files: nothing from a CDN). Every route is wrapped once by dashboard.auth (`api_route`), after
a method check, so bearer tokens, sessions, CSRF, roles and scopes work exactly as before."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import URLPattern, reverse
from django.views.decorators.csrf import csrf_exempt
from ninja import NinjaAPI
from ninja.errors import HttpError, ValidationError
from ninja.openapi.docs import Swagger
from ninja.params.models import BodyModel
from ninja.parser import Parser

from ..auth import ADMIN_WRITES, SAFE_METHODS, admin_refusal, api_route
from ..envelope import api_error
from ..inputs import BadInput, read_json
from . import exports, reads, writes  # noqa: F401  (exports and writes register their routes on import)

PREFIX = "/api/v1/"
DESCRIPTION = """Pipewatch's API: pipelines, their runs and open failures; acting on pipelines;
adding vendor accounts (admins).

Authenticate with `Authorization: Bearer <token>` (create one under /preferences/; a `read`
token reads, an `operate` token of an operator also writes) or a signed-in session (writes
need the `X-CSRFToken` header). Every error is `{"error": {"code", "message", "fields"?}}`."""


class CheckedParser(Parser):
    """Bodies go through dashboard.inputs.read_json: size, depth, NUL, surrogates, NaN."""

    def parse_body(self, request: HttpRequest) -> dict[str, Any]:
        checked = getattr(request, "_pw_json", None)  # read before ninja by _guarded
        return dict(checked if checked is not None else read_json(request).data)


class OfflineSwagger(Swagger):
    """Swagger UI from django-ninja's static files (ninja is in INSTALLED_APPS), with the CSRF
    token so a signed-in person can try writes from the page."""

    def get_openapi_url(self, api: NinjaAPI, path_params: dict[str, Any]) -> str:
        return reverse("api-openapi")

    def render_page(self, request: HttpRequest, api: NinjaAPI, **kwargs: Any) -> HttpResponse:
        self.settings["url"] = self.get_openapi_url(api, kwargs)
        context = {"swagger_settings": json.dumps(self.settings, indent=1), "api": api, "add_csrf": True}
        return render(request, self.template, context)


class PipewatchAPI(NinjaAPI):
    _schemas: dict[str, Any]

    def get_openapi_schema(self, *, path_prefix: str | None = None, path_params: Any = None) -> Any:
        # Made once per process: it is fixed by the code, and building it takes ~0.5 s.
        prefix = PREFIX if path_prefix is None else path_prefix
        cache = self.__dict__.setdefault("_schemas", {})
        if prefix not in cache:
            cache[prefix] = self._build_schema(prefix)
        return cache[prefix]

    def _build_schema(self, prefix: str) -> Any:
        schema = super().get_openapi_schema(path_prefix=prefix)
        schema["components"]["securitySchemes"] = {
            "bearer": {"type": "http", "scheme": "bearer", "description": "An API token from /preferences/."},
            "session": {"type": "apiKey", "in": "cookie", "name": "sessionid", "description": "Signed in."},
        }
        schema["security"] = [{"bearer": []}, {"session": []}]
        return schema


api = PipewatchAPI(
    title="Pipewatch API",
    version="1",
    description=DESCRIPTION,
    urls_namespace="api-v1",
    openapi_url="openapi.json",
    docs=OfflineSwagger(),
    docs_url="docs",
    parser=CheckedParser(),
)
api.add_router("", reads.router)  # writes.py adds its routes to the same router


def _field(loc: tuple[Any, ...]) -> str:
    # ("query", "limit") -> limit; ("body", "payload", "note") -> note; ("path", "action") -> action
    parts = [str(p) for p in loc[1:]]
    if loc and loc[0] == "body" and len(parts) > 1:
        parts = parts[1:]
    return ".".join(parts) or "body"


@api.exception_handler(ValidationError)
def _invalid(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    fields: dict[str, str] = {}
    for error in exc.errors:
        fields.setdefault(_field(tuple(error.get("loc", ()))), str(error.get("msg", "is invalid")))
    message = "; ".join(f"{name}: {text}" for name, text in fields.items())
    return api_error(400, message or "invalid input", fields=fields)


@api.exception_handler(BadInput)
def _bad_input(request: HttpRequest, exc: BadInput) -> HttpResponse:
    return api_error(exc.status, str(exc), fields={exc.field: exc.message} if exc.field else None)


@api.exception_handler(Http404)
def _not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    message = str(exc) if exc.args and "matches the given query" not in str(exc) else "no such object"
    return api_error(404, message)


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    return api_error(exc.status_code, str(exc))


def _body_checked(callback: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """A write's JSON body is read and checked before ninja sees it: a multipart form (whose
    stream the CSRF check may have read already) or a hostile body is a 400 in the envelope."""

    @wraps(callback)
    def view(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.method not in SAFE_METHODS:
            try:
                request._pw_json = read_json(request).data
            except BadInput as exc:
                return _bad_input(request, exc)
        return callback(request, *args, **kwargs)

    return view


def _admin_writes(callback: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """A write that configures (accounts) needs the admin role: refused before its body is read."""

    @wraps(callback)
    def view(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.method not in SAFE_METHODS and (refusal := admin_refusal(request)):
            return refusal
        return callback(request, *args, **kwargs)

    return view


def _guarded(
    callback: Callable[..., HttpResponse], methods: list[str], body: bool, admin: bool = False
) -> Callable[..., HttpResponse]:
    """The method check first (405 in the envelope, as Django's require_POST answered before
    the auth), then the API auth, exactly once, then the admin role where a write needs it,
    then a write's body."""
    checked = _body_checked(callback) if body else callback
    inner = api_route(_admin_writes(checked) if admin else checked)

    @wraps(inner)
    def view(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.method not in methods:
            response = api_error(405, f"{request.method} is not allowed here; use {', '.join(methods)}")
            response["Allow"] = ", ".join(methods)
            return response
        return inner(request, *args, **kwargs)

    return csrf_exempt(view)


NAMES = {"openapi-json": "api-openapi", "openapi-view": "api-docs"}


def urlpatterns() -> list[URLPattern]:
    """The API's routes for `path("api/v1/", include(...))`, with today's URL names."""
    found, seen = [], set()
    for pattern in api.urls[0]:
        # /api/v1/ itself serves nothing; ninja lists a path once per operation (one view serves them all).
        if pattern.name == "api-root" or str(pattern.pattern) in seen:
            continue
        seen.add(str(pattern.pattern))
        path_view = _path_view(pattern)
        operations = path_view.operations if path_view else []
        methods = sorted({m for op in operations for m in op.methods}) or ["GET"]
        body = any(issubclass(model, BodyModel) for op in operations for model in op.models)
        admin = any(getattr(op.view_func, ADMIN_WRITES, False) for op in operations)
        name = NAMES.get(pattern.name, pattern.name)
        found.append(URLPattern(pattern.pattern, _guarded(pattern.callback, methods, body, admin), name=name))
    return found


def _path_view(pattern: URLPattern) -> Any:
    """The ninja PathView behind a route (None for the schema and docs views)."""
    closure = getattr(pattern.callback, "__closure__", None) or ()
    for cell in closure:
        if hasattr(cell.cell_contents, "operations"):
            return cell.cell_contents
    return None
