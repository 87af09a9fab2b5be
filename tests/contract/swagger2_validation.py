"""Requests and responses checked against a Swagger 2.0 description with jsonschema.

openapi-core reads OpenAPI 3 only; a Swagger 2 document's schemas are JSON Schema draft 4
(plus `x-` keys and formats jsonschema ignores), so each check validates against
`definitions` with Draft4Validator. Path, method, query, headers, the security scheme and
the body of a request; status and body of a response. Problems come back as text lines.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from jsonschema import Draft4Validator, FormatChecker

from vendors.simulator.core import SimRequest

from .exchanges import Exchange
from .openapi_recorder import TALLY

# Every format jsonschema knows (date-time through rfc3339-validator) plus protobuf's int32.
FORMATS = FormatChecker()


@FORMATS.checks("int32")
def _int32(value: object) -> bool:
    return not isinstance(value, int) or -(2**31) <= value < 2**31


@dataclass(frozen=True)
class Operation:
    method: str
    template: str
    pattern: re.Pattern[str]
    spec: dict[str, Any]
    doc: dict[str, Any]

    @property
    def id(self) -> str:
        return self.spec.get("operationId", f"{self.method} {self.template}")

    def parameters(self, where: str) -> dict[str, dict[str, Any]]:
        return {p["name"]: p for p in self.spec.get("parameters", []) if p["in"] == where}

    @property
    def literal_segments(self) -> int:
        return sum(1 for part in self.template.split("/") if part and not part.startswith("{"))


class Swagger2:
    """One or more Swagger 2 files of one vendor, looked up by method and path."""

    def __init__(self, *files: Path, name: str) -> None:
        self.files = files
        self.name = name  # the end-of-run summary's label
        self.docs = [json.loads(f.read_text()) for f in files]

    @cached_property
    def operations(self) -> list[Operation]:
        found = []
        for doc in self.docs:
            for template, item in doc["paths"].items():
                regex = re.sub(r"\{([^}]+)\}", r"(?P<\1>[^/]+)", template)
                for method, spec in item.items():
                    found.append(Operation(method.upper(), template, re.compile(f"^{regex}$"), spec, doc))
        # A literal segment beats a path parameter: POST /v2/users/batch is not UpdateUser.
        return sorted(found, key=lambda op: -op.literal_segments)

    def operation(self, method: str, path: str) -> Operation | None:
        for op in self.operations:
            if op.method == method and op.pattern.match(path):
                return op
        return None

    def validator(self, doc: dict[str, Any], schema: dict[str, Any]) -> Draft4Validator:
        return Draft4Validator({**schema, "definitions": doc["definitions"]}, format_checker=FORMATS)

    def definition(self, name: str) -> tuple[dict[str, Any], Draft4Validator]:
        """A named definition (`fullstory.v2.users.BatchUserImportRequest`) and its validator."""
        for doc in self.docs:
            if name in doc["definitions"]:
                schema = doc["definitions"][name]
                return schema, self.validator(doc, {"$ref": f"#/definitions/{name}"})
        raise KeyError(name)

    def body_schema(self, method: str, path: str) -> tuple[Operation, dict[str, Any]]:
        op = self.operation(method, path)
        if op is None:
            raise KeyError(f"{method} {path}")
        [body] = op.parameters("body").values()
        return op, body["schema"]

    # -- requests ------------------------------------------------------------------
    def request_problems(self, req: SimRequest, *, content_type: bool = True) -> list[str]:
        """What in this request the description does not allow ([] when it conforms).

        `content_type=False` skips the Content-Type check (FullStory's own SDK sends none).
        """
        TALLY[(self.name, "requests")] += 1
        op = self.operation(req.method, req.path)
        if op is None:
            return [f"{req.method} {req.path}: no such operation"]
        where = f"{op.id}:"
        problems = []
        for name, param in op.parameters("query").items():
            if param.get("required") and name not in req.query:
                problems.append(f"{where} query parameter {name} is required")
        declared = op.parameters("query")
        for name, values in req.query.items():
            if name not in declared:
                problems.append(f"{where} query parameter {name} is not in the description")
                continue
            problems += [f"{where} query {name}={v!r}: {p}" for v in values if (p := _simple_type(declared[name], v))]
        headers = {k.lower(): v for k, v in req.headers.items()}
        for name, param in op.parameters("header").items():
            value = headers.get(name.lower())
            if value is None:
                if param.get("required"):
                    problems.append(f"{where} header {name} is required")
            elif p := _simple_type(param, value):
                problems.append(f"{where} header {name}: {p}")
        problems += [f"{where} {p}" for p in self._auth_problems(op, headers)]
        problems += [f"{where} {p}" for p in self._body_problems(op, req, headers, content_type)]
        return problems

    def _auth_problems(self, op: Operation, headers: dict[str, str]) -> list[str]:
        problems = []
        for requirement in op.spec.get("security", op.doc.get("security", [])):
            for scheme_name in requirement:
                scheme = op.doc["securityDefinitions"][scheme_name]
                if scheme["type"] != "apiKey" or scheme["in"] != "header":
                    problems.append(f"security scheme {scheme_name} is not checked here")
                    continue
                value = headers.get(scheme["name"].lower(), "")
                # The description spells the value's form: 'takes the form "Basic {YOUR_API_KEY}"'.
                form = re.search(r'form "(\w+) \{', scheme.get("description", ""))
                if not value:
                    problems.append(f"{scheme['name']} header missing ({scheme_name})")
                elif form and not re.fullmatch(rf"{form[1]} \S+", value):
                    problems.append(f"{scheme['name']} header is not '{form[1]} <key>'")
        return problems

    def _body_problems(self, op: Operation, req: SimRequest, headers: dict[str, str], content_type: bool) -> list[str]:
        body_params = list(op.parameters("body").values())
        if not body_params:
            return ["a body was sent to an operation that takes none"] if req.body.strip() else []
        [param] = body_params
        if not req.body.strip():
            return ["the body is required"] if param.get("required") else []
        consumes = op.spec.get("consumes", op.doc.get("consumes", []))
        sent = headers.get("content-type", "").split(";")[0].strip()
        if content_type and sent not in consumes:
            return [f"Content-Type {sent!r} is not one of {consumes}"]
        try:
            body = json.loads(req.body)
        except ValueError:
            return ["the body is not JSON"]
        validator = self.validator(op.doc, param["schema"])
        return [f"body{_where(e)}: {e.message}" for e in validator.iter_errors(body)]

    # -- responses -----------------------------------------------------------------
    def response_problems(self, exchange: Exchange) -> list[str]:
        TALLY[(self.name, "responses")] += 1
        req = exchange.request
        op = self.operation(req.method, req.path)
        if op is None:
            return [f"{exchange}: no such operation"]
        responses = op.spec["responses"]
        status = str(exchange.status)
        if status not in responses:
            return [f"{exchange}: status {status} is not in {op.id}'s responses {sorted(responses)}"]
        schema = responses[status].get("schema")
        body = exchange.body
        if not body.strip():
            return [] if not schema or schema == {} else [f"{exchange}: empty body, {op.id} {status} has a schema"]
        produces = op.spec.get("produces", op.doc.get("produces", []))
        ctype = exchange.header("Content-Type").split(";")[0].strip()
        if ctype not in produces:
            return [f"{exchange}: Content-Type {ctype!r} is not one of {produces}"]
        try:
            data = json.loads(body)
        except ValueError:
            return [f"{exchange}: the body is not JSON"]
        validator = self.validator(op.doc, schema or {})
        return [f"{exchange}: body{_where(e)}: {e.message}" for e in validator.iter_errors(data)]


def _simple_type(param: dict[str, Any], value: str) -> str:
    kind = param.get("type", "string")
    if kind == "boolean" and value not in ("true", "false"):
        return "not a boolean"
    if kind == "integer" and not re.fullmatch(r"-?\d+", value):
        return "not an integer"
    if "enum" in param and value not in param["enum"]:
        return f"not one of {param['enum']}"
    return ""


def _where(error: Any) -> str:
    return "".join(f"[{p!r}]" for p in error.absolute_path)
