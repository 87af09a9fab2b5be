"""Mixpanel's published OpenAPI files as the contract tests read them, and what they leave open.

Each open status or seed difference is listed here with its reason; docs/vendor-contract/
mixpanel.md says the same in prose. A newer spec that documents one of them makes the
entry unnecessary (the tests then validate the answer against the new schema instead).
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import jsonschema
from jsonschema_path import SchemaPath

import vendors.mixpanel

from .openapi_recorder import TALLY, ApiSpec, Exchange, OpenStatus

SPEC_DIR = Path(vendors.mixpanel.__file__).parent / "spec"

NO_429 = OpenStatus("Mixpanel documents no rate limit for this API and no 429 body; the simulator scripts one")
BAD_REQUEST = OpenStatus(
    "a request the spec's schemas refuse: the spec does not say how this operation refuses one", "invalid request"
)
BAD_PATH = OpenStatus("a path whose ids do not fit the spec's types: no route matches", "invalid path")

DATA_PIPELINES = ApiSpec(
    "data pipelines",
    SPEC_DIR / "data-pipelines.openapi.yaml",
    host_url="https://data.mixpanel.com",
    base_path="/api/2.0",
    open_statuses={
        400: BAD_REQUEST,
        404: OpenStatus("an unknown pipeline name: the spec lists 404 for pause and resume only"),
        429: NO_429,
    },
    error_envelope=("components", "schemas", "ErrorResponse"),
)
WAREHOUSE = ApiSpec(
    "warehouse connectors",
    SPEC_DIR / "warehouse-connectors.openapi.yaml",
    host_url="https://mixpanel.com",
    base_path="/api/app",
    open_statuses={400: BAD_REQUEST, 404: BAD_PATH, 429: NO_429},
    error_envelope=(
        "paths",
        "/projects/{projectId}/warehouse-sources/imports",
        "get",
        "responses",
        "401",
        "content",
        "application/json",
        "schema",
    ),
)
NO_ERRORS = "the last legacy spec documents only 200 for history"
# The app API's shared auth answers, {status, error}: the legacy sources' own common/responses.yaml
# (401Unauthorized, 403Forbidden) and the warehouse spec, on the same /api/app server, both give it.
APP_ERROR = SchemaPath.from_file_path(str(SPEC_DIR / "legacy-2024" / "common" / "responses.yaml")) / "ErrorResponse"
LEGACY = ApiSpec(
    "legacy connectors",
    SPEC_DIR / "legacy-2024" / "connectors.openapi.yaml",
    host_url="https://mixpanel.com",
    base_path="/api/app",
    validate_spec=False,  # unbundled sources: servers and securitySchemes are $refs into common/
    open_statuses={
        400: BAD_REQUEST,
        401: OpenStatus(f"{NO_ERRORS}: no auth failure is described", envelope=APP_ERROR),
        403: OpenStatus(f"{NO_ERRORS}: no permission failure is described", envelope=APP_ERROR),
        404: OpenStatus(f"{NO_ERRORS}: an unknown connector, or the API Mixpanel removed in November 2024"),
        429: OpenStatus(NO_429.reason, envelope=APP_ERROR),
    },
    error_envelope=("components", "schemas", "errorResponse"),
)
APIS = (DATA_PIPELINES, WAREHOUSE, LEGACY)

# Where the seed's verbatim samples differ from the last legacy spec: (api, problem, why).
SEED_DIFFERENCES = [
    (
        LEGACY.name,
        re.compile(r"^results: url: (None for not nullable|None is not of type 'string')$"),
        "every seed history sample has `url: null`; the spec types it as a uuid string",
    ),
]


# Answers the spec describes in words but gives no schema for: (operation, why, our reading).
SUMMARY = {"type": "object", "additionalProperties": {"type": "integer", "minimum": 0}}
OPEN_SHAPES = {
    "get-warehouse-pipeline-status (summary=true)": (
        "'Only lists task count by status and no details': no schema; the seed's example is "
        '{"canceled": 933, "retried": 80, "succeeded": 1}',
        SUMMARY,
    ),
}


def _summary(exchange: Exchange) -> bool:
    req = exchange.request
    asked = req.query.get("summary", []) + req.form().get("summary", [])
    return req.path.endswith("/nessie/pipeline/status") and asked[-1:] == ["true"]


def api_for(path: str) -> ApiSpec | None:
    for api in APIS:
        if api.owns(path):
            return api
    return None


def seed_envelope(body: Any) -> Any:
    """The seed wraps the legacy spec's objects as {status: "ok", results: <object>}."""
    if isinstance(body, dict) and "results" in body and body.get("status") == "ok":
        return body["results"]
    return None


# The seed POSTs a form where the current spec GETs; the answer is the same operation's.
SEED_METHODS = {
    ("POST", "/api/2.0/nessie/pipeline/status"): "GET",
    ("POST", "/api/2.0/nessie/pipeline/timeline"): "GET",
}


def response_problems(exchange: Exchange) -> list[str]:
    req = exchange.request
    if method := SEED_METHODS.get((req.method, req.path)):
        exchange = Exchange(replace(req, method=method), exchange.response)
    api = api_for(exchange.request.path)
    if api is None:
        return [f"{exchange.label}: not an operation of any Mixpanel spec"]
    if _summary(exchange) and exchange.response.status == 200:
        _, schema = OPEN_SHAPES["get-warehouse-pipeline-status (summary=true)"]
        errors = jsonschema.Draft7Validator(schema).iter_errors(json.loads(exchange.response.encoded()))
        TALLY[(api.name, "open responses")] += 1
        return [f"{exchange.label}: summary: {e.message}" for e in errors]
    unwrap = seed_envelope if api is LEGACY else None
    problems = api.response_problems(exchange, unwrap=unwrap)
    allowed = [pattern for name, pattern, _ in SEED_DIFFERENCES if name == api.name]
    return [f"{exchange.label}: {p}" for p in problems if not any(pattern.match(p) for pattern in allowed)]


def request_problems(exchange: Exchange) -> list[str]:
    api = api_for(exchange.request.path)
    if api is None:
        return [f"{exchange.label}: not an operation of any Mixpanel spec"]
    return [f"{exchange.label}: {p}" for p in api.request_problems(exchange)]


def operation_ids(exchanges: list[Exchange]) -> set[str]:
    found = set()
    for exchange in exchanges:
        api = api_for(exchange.request.path)
        op = api.operation_for(exchange.request.method, exchange.request.path) if api else None
        if op is not None:
            found.add(op.operation_id)
    return found


def create_schemas() -> dict[str, Any]:
    """type -> the spec's create request schema for it (the discriminator's mapping)."""
    body = DATA_PIPELINES.spec / "paths" / "/nessie/pipeline/create" / "post" / "requestBody"
    schema = body / "content" / "application/x-www-form-urlencoded" / "schema"
    mapping = (schema / "discriminator" / "mapping").read_value()
    return {kind: DATA_PIPELINES.resolve(ref) for kind, ref in mapping.items()}


CREATE_SCHEMAS = create_schemas()


def props(kind: str) -> dict[str, Any]:
    return (CREATE_SCHEMAS[kind] / "properties").read_value()


def required(kind: str) -> set[str]:
    return set((CREATE_SCHEMAS[kind] / "required").read_value())


def wire(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def example_spec(kind: str, today: date) -> dict[str, Any]:
    """The smallest create spec the schema accepts for `kind`: its required fields only, each
    with its first allowed value (a from_date of yesterday, within the six months allowed)."""
    spec: dict[str, Any] = {"type": kind}
    for name in sorted(required(kind) - {"type", "project_id"}):
        prop = props(kind)[name]
        if "enum" in prop:
            spec[name] = prop["enum"][0]
        elif prop.get("format") == "date":
            spec[name] = (today - timedelta(days=1)).isoformat()
        elif prop.get("type") == "boolean":
            spec[name] = True
        elif name in AWS_SHAPED:
            spec[name] = AWS_SHAPED[name]
        else:
            spec[name] = f"example-{name.replace('_', '-')}"
    return spec


# The spec types these as plain strings; AWS's naming rules (vendors/aws_names.py, checked by the
# client before Mixpanel is called) want real shapes, so the smallest valid request uses them.
AWS_SHAPED = {
    "s3_role": "arn:aws:iam::123456789012:role/mixpanel-export",
    "glue_role": "arn:aws:iam::123456789012:role/mixpanel-glue",
}


def invalid_variants(kind: str, today: date) -> list[tuple[str, dict[str, Any]]]:
    """(the field at fault, a spec the schema refuses because of it), derived from the schema."""
    base = example_spec(kind, today)
    out = []
    for name in sorted(required(kind) - {"type", "project_id"}):
        out.append((name, {k: v for k, v in base.items() if k != name}))
    for name, prop in sorted(props(kind).items()):
        if "enum" in prop:
            bad = False if prop.get("type") == "boolean" else "not-a-choice"
            out.append((name, {**base, name: bad}))
        elif prop.get("format") == "date":
            out.append((name, {**base, name: "2026-13-45"}))
        elif prop.get("type") == "boolean":
            out.append((name, {**base, name: "maybe"}))
    return out
