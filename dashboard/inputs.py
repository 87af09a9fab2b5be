"""Bad input is a 400 that names what is wrong, never a 500. One path for every request:

- `InputMiddleware` refuses characters PostgreSQL cannot store (NUL; lone surrogates) in the
  path, the query string and form fields before any view runs, drops cookies holding them
  (Django unquotes `"\\000"` in a cookie into a NUL, and the session lookup would fail), and
  turns `BadInput` raised by any view into the 400 itself: JSON for the API, text for htmx,
  a small page otherwise.
- `read_json` is the one JSON body reader of the API: size, nesting depth, NUL, surrogates,
  NaN and infinities are refused before a view sees the body.
- `Fields` reads typed values (text, integer with bounds, boolean, object) out of a JSON
  object or a query string, and raises `BadInput` naming the field.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, QueryDict
from django.template.loader import render_to_string

from .envelope import api_error

# PostgreSQL text and jsonb cannot hold U+0000; UTF-8 cannot encode a lone surrogate.
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
MAX_JSON_DEPTH = 32  # deeper than any body we take; json.loads itself fails near 1,000
INTEGER = re.compile(r"[+-]?[0-9]{1,100}")  # ASCII digits only: int() also takes "١٢" and "1_000"


class BadInput(ValueError):
    """What the client sent cannot be used. Raised anywhere in a view, it becomes the answer."""

    def __init__(self, message: str, field: str | None = None, status: int = 400) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.message, self.field, self.status = message, field, status


def unstorable(text: str) -> bool:
    return UNSTORABLE.search(text) is not None


def check_form(data: QueryDict, where: str) -> None:
    """Every key and value of a query string or a form, as Django decoded it."""
    for key, values in data.lists():
        if unstorable(key) or any(isinstance(v, str) and unstorable(v) for v in values):
            raise BadInput(f"{where} holds a NUL or another character that cannot be stored", field=_printable(key))
        # Django's admin reads an empty `_to_field` as a field named "" (FieldDoesNotExist, a 500).
        if key == "_to_field" and not values[-1]:
            raise BadInput("must name a field", field="_to_field")


def _printable(key: str) -> str:
    return UNSTORABLE.sub("\ufffd", key)[:100]


class InputMiddleware:
    """Placed before sessions: the cookie, path and query checks run before anything reads
    the database; the form check runs once the view is known (`process_view`)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.COOKIES = {k: v for k, v in request.COOKIES.items() if not (unstorable(k) or unstorable(v))}
        try:
            if unstorable(request.path_info):
                raise BadInput("the address holds a NUL or another character that cannot be stored")
            check_form(request.GET, "the query string")
        except BadInput as exc:
            return bad_input_response(request, exc)
        return self.get_response(request)

    def process_view(
        self, request: HttpRequest, view: Callable[..., Any], args: Any, kwargs: Any
    ) -> HttpResponse | None:
        # A CSRF-exempt view reads its own body (the JSON API, or a view that sets its own
        # upload handlers, which Django requires to be exempt): parsing it here would take that away.
        if request.method != "POST" or getattr(view, "csrf_exempt", False):
            return None
        try:
            check_form(request.POST, "the form")
            for key, files in request.FILES.lists():
                if unstorable(key) or any(unstorable(f.name or "") for f in files):
                    raise BadInput(
                        "an uploaded file's name holds a character that cannot be stored", field=_printable(key)
                    )
        except BadInput as exc:
            return bad_input_response(request, exc)
        return None

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, BadInput):
            return bad_input_response(request, exception)
        return None


def wants_json(request: HttpRequest) -> bool:
    return request.path_info.startswith("/api/") or request.content_type == "application/json"


def bad_input_response(request: HttpRequest, exc: BadInput) -> HttpResponse:
    if wants_json(request):
        return api_error(exc.status, str(exc), fields={exc.field: exc.message} if exc.field else None)
    if getattr(request, "htmx", False) or request.headers.get("HX-Request"):
        return HttpResponse(str(exc), status=exc.status, content_type="text/plain; charset=utf-8")
    # A page of its own, not base.html: this can answer before sessions and users exist.
    return HttpResponse(render_to_string("400.html", {"message": str(exc)}), status=exc.status)


def read_json(request: HttpRequest) -> Fields:
    """The request's body as a JSON object ({} when empty), checked from end to end."""
    if request.content_type == "multipart/form-data":  # its stream is read by the form parser already
        raise BadInput("the body must be JSON (Content-Type: application/json), not a multipart form")
    try:
        raw = request.body
    except RequestDataTooBig:
        raise BadInput("the body is larger than this server accepts", status=413) from None
    if not raw.strip():
        return Fields({})
    try:
        value = json.loads(raw, parse_constant=_no_constant, parse_float=_finite)
    except RecursionError:
        raise BadInput(f"the JSON is nested too deeply (at most {MAX_JSON_DEPTH} levels)") from None
    except ValueError as exc:  # not UTF-8, not JSON, a NaN, or a number with thousands of digits
        raise BadInput(f"the body must be JSON: {_printable(str(exc))[:200]}") from None
    _check_json(value)
    if not isinstance(value, dict):
        raise BadInput("the body must be a JSON object")
    return Fields(value)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def _finite(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError(f"{text[:30]} is out of range")
    return value


def _check_json(value: Any) -> None:
    """Depth, and no unstorable character in any key or string (iteratively: no recursion limit)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            if unstorable(item):
                raise BadInput("the JSON holds a NUL or a lone surrogate (\\u0000, \\ud800...), which cannot be stored")
        elif isinstance(item, dict | list):
            if depth > MAX_JSON_DEPTH:
                raise BadInput(f"the JSON is nested too deeply (at most {MAX_JSON_DEPTH} levels)")
            children = [*item.keys(), *item.values()] if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)


class Fields:
    """Typed reads of a JSON object or a QueryDict. A missing field is its default; a field
    of the wrong type or out of bounds is a BadInput that names it."""

    def __init__(self, data: Mapping[str, Any] | QueryDict) -> None:
        self.data = data
        self.from_text = isinstance(data, QueryDict)  # query strings and forms carry only text

    def _get(self, name: str) -> Any:
        return self.data.get(name)

    def text(self, name: str, default: str = "", *, max_length: int = 2000, required: bool = False) -> str:
        value = self._get(name)
        if value is None or (value == "" and not required):
            if required:
                raise BadInput("is required", field=name)
            return default
        if not isinstance(value, str):
            raise BadInput(f"must be a string, not {_json_type(value)}", field=name)
        if unstorable(value):
            raise BadInput("holds a NUL or another character that cannot be stored", field=name)
        if len(value) > max_length:
            raise BadInput(f"must be at most {max_length:,} characters", field=name)
        if required and not value.strip():
            raise BadInput("is required", field=name)
        return value

    def integer(self, name: str, default: int, *, minimum: int, maximum: int, clamp: bool = False) -> int:
        """Whole numbers only (a JSON number or its digits as a string). Out of bounds is an
        error, or with `clamp` the nearest bound (a limit above the maximum is the maximum)."""
        value = self._get(name)
        if value is None or value == "":
            return default
        if isinstance(value, str) and INTEGER.fullmatch(value.strip()):
            number = int(value.strip())
        elif isinstance(value, int) and not isinstance(value, bool) and not self.from_text:
            number = value
        elif isinstance(value, float) and value.is_integer() and not self.from_text:
            number = int(value)
        else:
            raise BadInput(f"must be a whole number from {minimum:,} to {maximum:,}", field=name)
        if clamp:
            return max(minimum, min(maximum, number))
        if not minimum <= number <= maximum:
            raise BadInput(f"must be a whole number from {minimum:,} to {maximum:,}", field=name)
        return number

    def boolean(self, name: str, default: bool = False) -> bool:
        value = self._get(name)
        if value is None or value == "":
            return default
        if isinstance(value, bool) and not self.from_text:
            return value
        if isinstance(value, str) and value.lower() in ("1", "true", "yes", "on", "0", "false", "no", "off"):
            return value.lower() in ("1", "true", "yes", "on")
        raise BadInput("must be true or false", field=name)

    def mapping(self, name: str) -> dict[str, Any]:
        value = self._get(name)
        if value is None:
            return {}
        if self.from_text or not isinstance(value, dict):
            raise BadInput(f"must be an object, not {_json_type(value)}", field=name)
        return value


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "an array" if isinstance(value, list) else "an object"
