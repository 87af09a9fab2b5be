"""The one error shape of `/api/v1/`: `{"error": {"code", "message", "fields"?}}`.

Every refusal of the API (bad input, no credentials, no role, wrong scope, CSRF, no such
object, wrong method, the vendor said no) is built here, so clients parse one thing."""

from __future__ import annotations

from django.http import JsonResponse

# The default code for each status; a refusal may name a more precise one.
CODES = {
    400: "invalid",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    502: "vendor_error",
}


def api_error(
    status: int,
    message: str,
    code: str | None = None,
    fields: dict[str, str] | None = None,
    details: dict[str, object] | None = None,
) -> JsonResponse:
    error: dict[str, object] = {"code": code or CODES.get(status, "error"), "message": message}
    if fields:
        error["fields"] = fields
    if details:
        error["details"] = details
    return JsonResponse({"error": error}, status=status)
