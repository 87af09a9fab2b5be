"""Record what crosses the simulator's HTTP boundary and judge it by a vendor's OpenAPI file.

`Recorder` wraps a running Simulator's `handle`: every request it received over real HTTP
(from our clients or from a test) and every answer it gave are kept as `Exchange`s.
`ApiSpec` loads one OpenAPI 3 file with openapi-core and says what is wrong with an
exchange: the request (path, method, query, auth scheme, body; strictly, nothing the spec
does not declare) and the response (status listed, body valid for that status). Nothing
here knows a vendor; the vendor's test module supplies its files, hosts and open statuses.
"""

from __future__ import annotations

import json
import re
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from jsonschema_path import SchemaPath
from openapi_core import Config, OpenAPI
from openapi_core.datatypes import RequestParameters
from openapi_schema_validator import OAS30Validator, oas30_format_checker
from werkzeug.datastructures import Headers, ImmutableMultiDict

from vendors.simulator.core import SimRequest, SimResponse, Simulator

# Counts for the end-of-run summary: (api, "requests" | "responses" | "open responses") -> n
TALLY: Counter[tuple[str, str]] = Counter()


@dataclass
class Exchange:
    request: SimRequest
    response: SimResponse

    @property
    def label(self) -> str:
        query = "&".join(f"{k}=…" for k in self.request.query)
        return f"{self.request.method} {self.request.path}{'?' + query if query else ''} -> {self.response.status}"


class Recorder:
    """Every (request, answer) pair a Simulator handles, in order."""

    def __init__(self, simulator: Simulator) -> None:
        self.exchanges: list[Exchange] = []
        self._lock = threading.Lock()
        handle = simulator.handle

        def recorded(req: SimRequest) -> SimResponse:
            resp = handle(req)
            if not req.path.startswith("/_sim/"):
                with self._lock:
                    self.exchanges.append(Exchange(req, resp))
            return resp

        simulator.handle = recorded  # the HTTP handler calls simulator.handle(req)

    def take(self) -> list[Exchange]:
        """The exchanges since the last take."""
        with self._lock:
            taken, self.exchanges = self.exchanges, []
        return taken


class _Request:
    """openapi-core's Request protocol over what the simulator received."""

    def __init__(self, req: SimRequest, host_url: str) -> None:
        self.host_url = host_url
        self.path = req.path
        self.method = req.method.lower()
        self.body = req.body if req.body else None
        self.content_type = req.headers.get("content-type", "")
        self.parameters = RequestParameters(
            query=ImmutableMultiDict([(k, v) for k, values in req.query.items() for v in values]),
            header=Headers(req.headers),
            cookie=ImmutableMultiDict(),
        )


class _Response:
    def __init__(self, resp: SimResponse) -> None:
        self.status_code = resp.status
        self.data = resp.encoded()
        self.headers = Headers(resp.headers)
        self.content_type = self.headers.get("Content-Type", "")


def explain(exc: BaseException) -> str:
    """An openapi-core error with the schema errors behind it, on one line."""
    parts = [f"{type(exc).__name__}: {exc}"]
    cause = exc.__cause__
    while cause is not None:
        errors = getattr(cause, "schema_errors", None)
        if errors:
            parts.append("; ".join(f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}" for e in errors))
        else:
            parts.append(str(cause))
        cause = cause.__cause__
    return " <- ".join(dict.fromkeys(parts))


@dataclass
class Operation:
    template: str
    method: str
    node: SchemaPath

    @property
    def operation_id(self) -> str:
        return (self.node / "operationId").read_str(f"{self.method} {self.template}")


@dataclass(frozen=True)
class OpenStatus:
    """An answer the spec does not list, accepted for a reason; `only_if` narrows it to
    requests the spec itself refuses ("invalid request") or whose path ids do not fit
    their types ("invalid path"), so a valid request can never be refused that way."""

    reason: str
    only_if: str = ""  # "" | "invalid request" | "invalid path"
    envelope: SchemaPath | None = None  # the body's schema, when not the API's error envelope


@dataclass
class ApiSpec:
    """One published OpenAPI file and where its requests arrive at the simulator."""

    name: str
    path: Path
    host_url: str  # a server of the spec (openapi-core matches requests against it)
    base_path: str  # the servers' path: request paths are the spec's paths under it
    validate_spec: bool = True  # False for unbundled sources whose $refs make them invalid as they are
    # Undocumented statuses the vendor's pages leave open: status -> why, and when, we accept it.
    open_statuses: dict[int, OpenStatus] = field(default_factory=dict)
    # The body schema undocumented answers must still follow (the API's error envelope).
    error_envelope: tuple[str, ...] = ()  # keys from the spec's root to that schema

    @cached_property
    def openapi(self) -> OpenAPI:
        config = Config() if self.validate_spec else Config(spec_validator_cls=None)
        return OpenAPI.from_file_path(str(self.path), config=config)

    @property
    def spec(self) -> SchemaPath:
        return self.openapi.spec

    def owns(self, path: str) -> bool:
        return self.operation_for("GET", path, any_method=True) is not None

    def operation_for(self, method: str, path: str, any_method: bool = False) -> Operation | None:
        if not path.startswith(self.base_path):
            return None
        rest = path[len(self.base_path) :]
        paths = self.spec / "paths"
        for template in paths.str_keys():
            pattern = "^" + re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template)) + "$"
            if re.match(pattern, rest):
                item = paths / template
                verbs = [method.lower()] if not any_method else [m for m in item.str_keys() if m != "parameters"]
                for verb in verbs:
                    if verb in item:
                        return Operation(template, verb, item / verb)
                return None if not any_method else Operation(template, "", item)
        return None

    # -- requests --------------------------------------------------------------------
    def request_problems(self, exchange: Exchange, strict: bool = True, tally: bool = True) -> list[str]:
        req = exchange.request
        op = self.operation_for(req.method, req.path)
        if op is None:
            return [f"{req.method} {req.path}: no such operation in {self.path.name}"]
        errors = list(self.openapi.iter_request_errors(_Request(req, self.host_url)))
        form_schema = self._discriminated_form(op, req)
        if form_schema is not None:
            # openapi-core 0.23.1 decodes a urlencoded oneOf body with the first branch its
            # fields fit (its fix for python-openapi/openapi-core#932), not the one the
            # discriminator names, and drops the other fields: judge the body ourselves.
            errors = [e for e in errors if "RequestBody" not in type(e).__name__]
        problems = [explain(e) for e in errors]
        if form_schema is not None:
            problems += [f"body: {p}" for p in schema_problems(form_schema, self._decode_form(form_schema, req))]
        if strict:
            problems += self._undeclared(op, req)
        if tally:
            TALLY[(self.name, "requests")] += 1
        return problems

    def _undeclared(self, op: Operation, req: SimRequest) -> list[str]:
        """What the request carries that the spec does not declare (the spec allows extra
        properties by default; we hold our own requests to what Mixpanel documents)."""
        item = self.spec / "paths" / op.template
        declared = {p["name"] for node in (item, op.node) if "parameters" in node for p in node / "parameters"}
        problems = [f"query parameter {name!r} is not in the spec" for name in req.query if name not in declared]
        body_fields = self._body_fields(req)
        if body_fields is None or "requestBody" not in op.node:
            return problems
        content = op.node / "requestBody" / "content"
        ctype = req.headers.get("content-type", "").split(";")[0].strip()
        if ctype not in content or "schema" not in content / ctype:
            return problems
        allowed = self.properties(content / ctype / "schema", body_fields)
        if allowed is not None:
            problems += [f"body field {name!r} is not in the spec" for name in body_fields if name not in allowed]
        return problems

    def _discriminated_form(self, op: Operation, req: SimRequest) -> SchemaPath | None:
        if "application/x-www-form-urlencoded" not in req.headers.get("content-type", ""):
            return None
        content = op.node / "requestBody" / "content" if "requestBody" in op.node else None
        if content is None or "application/x-www-form-urlencoded" not in content:
            return None
        schema = content / "application/x-www-form-urlencoded" / "schema"
        return schema if "oneOf" in schema and "discriminator" in schema else None

    def _decode_form(self, schema: SchemaPath, req: SimRequest) -> dict[str, Any]:
        """Form fields typed by the discriminator's branch (booleans, numbers, arrays)."""
        fields = parse_qs(req.body.decode(), keep_blank_values=True)
        name = (schema / "discriminator" / "propertyName").read_str()
        ref = (schema / "discriminator" / "mapping").read_value().get((fields.get(name) or [""])[-1])
        props = self.resolve(ref) / "properties" if ref else None
        data: dict[str, Any] = {}
        for key, values in fields.items():
            kind = ""
            if props is not None and key in props and "type" in props / key:
                kind = (props / key / "type").read_str()
            data[key] = [_typed(v, "") for v in values] if kind == "array" else _typed(values[-1], kind)
        return data

    @staticmethod
    def _body_fields(req: SimRequest) -> dict[str, Any] | None:
        ctype = req.headers.get("content-type", "")
        if "application/x-www-form-urlencoded" in ctype:
            return {k: v[0] for k, v in parse_qs(req.body.decode(), keep_blank_values=True).items()}
        if "json" in ctype and req.body:
            try:
                body = json.loads(req.body)
            except ValueError:
                return None
            return body if isinstance(body, dict) else None
        return None

    def properties(self, schema: SchemaPath, data: dict[str, Any]) -> set[str] | None:
        """The property names a body may carry under `schema` (None: any); a oneOf with a
        discriminator picks the branch the data names, as the spec says it does."""
        if "oneOf" in schema and "discriminator" in schema:
            name = (schema / "discriminator")["propertyName"]
            mapping = (schema / "discriminator" / "mapping").read_value()
            ref = mapping.get(data.get(name))
            if ref is None:
                return None  # openapi-core reports the unknown discriminator value
            return self.properties(self.resolve(ref), data)
        names: set[str] = set()
        if "properties" in schema:
            names |= set((schema / "properties").str_keys())
        for part in ("allOf",):
            if part in schema:
                for sub in schema / part:
                    names |= self.properties(sub, data) or set()
        if "additionalProperties" in schema and (schema / "additionalProperties").read_value() is not False:
            return None
        return names or None

    def resolve(self, ref: str) -> SchemaPath:
        node = self.spec
        for part in ref.removeprefix("#/").split("/"):
            node = node / part
        return node

    # -- responses -------------------------------------------------------------------
    def documented_statuses(self, exchange: Exchange) -> set[str]:
        op = self.operation_for(exchange.request.method, exchange.request.path)
        return set((op.node / "responses").str_keys()) if op else set()

    def response_problems(self, exchange: Exchange, unwrap: Callable[[Any], Any] | None = None) -> list[str]:
        """Problems with the answer: a listed status must match its schema; an unlisted one
        must be open (and follow the API's error envelope). `unwrap` yields an inner body
        that must match the schema too (an envelope the vendor's samples add)."""
        req, resp = exchange.request, exchange.response
        op = self.operation_for(req.method, req.path)
        if op is None:
            return [f"{req.method} {req.path}: no such operation in {self.path.name}"]
        status = str(resp.status)
        if status not in self.documented_statuses(exchange) and "default" not in self.documented_statuses(exchange):
            TALLY[(self.name, "open responses")] += 1
            open_status = self.open_statuses.get(resp.status)
            if open_status is None:
                return [f"{op.operation_id}: status {status} is not in the spec nor among the open statuses"]
            if open_status.only_if:
                request = self.request_problems(exchange, strict=False, tally=False)
                if open_status.only_if == "invalid path":
                    request = [p for p in request if "path parameter" in p.lower()]
                if not request:
                    return [f"{op.operation_id}: {status} for a request the spec accepts ({open_status.only_if})"]
            return self.envelope_problems(resp, open_status.envelope)
        problems = [
            explain(e) for e in self.openapi.iter_response_errors(_Request(req, self.host_url), _Response(resp))
        ]
        inner = unwrap(_json(resp)) if unwrap else None
        if inner is not None:
            schema = self._response_schema(op, status)
            if schema is not None:
                problems += [f"results: {p}" for p in schema_problems(schema, inner)]
        TALLY[(self.name, "responses")] += 1
        return problems

    def _response_schema(self, op: Operation, status: str) -> SchemaPath | None:
        node = op.node / "responses" / status
        if "content" not in node or "application/json" not in node / "content":
            return None
        media = node / "content" / "application/json"
        return media / "schema" if "schema" in media else None

    def envelope_problems(self, resp: SimResponse, schema: SchemaPath | None = None) -> list[str]:
        if schema is None and not self.error_envelope:
            return []
        body = _json(resp)
        if body is _NOT_JSON:
            return [f"status {resp.status}: the body is not JSON"]
        if schema is None:
            schema = self.spec
            for key in self.error_envelope:
                schema = schema / key
        problems = schema_problems(schema, body)
        # The envelopes require nothing: hold an error to carrying only the envelope's fields.
        declared = set((schema / "properties").str_keys())
        if not isinstance(body, dict) or not body or set(body) - declared:
            problems.append(f"fields {sorted(body) if isinstance(body, dict) else body!r} are not {sorted(declared)}")
        return [f"status {resp.status}: {p}" for p in problems]

    def examples(self) -> Iterable[tuple[str, Any]]:
        """Every example value the file publishes: (where, value)."""
        yield from _examples(self.spec, "")


_NOT_JSON = object()


def _typed(text: str, kind: str) -> Any:
    if kind == "boolean" and text in ("true", "false"):
        return text == "true"
    if kind in ("number", "integer"):
        try:
            return int(text)
        except ValueError:
            try:
                return float(text)
            except ValueError:
                return text
    return text


def _json(resp: SimResponse) -> Any:
    try:
        return json.loads(resp.encoded() or b"null")
    except ValueError:
        return _NOT_JSON


def schema_problems(schema: SchemaPath, value: Any) -> list[str]:
    """One schema of the spec (refs resolved through the spec) against a value, OAS 3.0 rules."""
    with schema.resolve() as resolved:
        validator = OAS30Validator(resolved.contents, _resolver=resolved.resolver, format_checker=oas30_format_checker)
        return [f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}" for e in validator.iter_errors(value)]


def _examples(node: SchemaPath, where: str) -> Iterable[tuple[str, Any]]:
    try:
        keys = list(node.str_keys())
    except Exception:  # a scalar or a list
        return
    for key in keys:
        child = node / key
        here = f"{where}/{key}"
        if key == "examples" and not isinstance(child.read_value(), list):
            for name in child.str_keys():
                if "value" in child / name:
                    yield f"{here}/{name}", (child / name / "value").read_value()
        elif key == "example":
            yield here, child.read_value()
        elif isinstance(child.read_value(), dict):
            yield from _examples(child, here)
