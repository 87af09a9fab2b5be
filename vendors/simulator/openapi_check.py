"""Check a simulator request against a vendor's OpenAPI 3.0 file, as the vendor's server would.

This is the simulator's own reading of the spec. It shares no code with the clients (which
follow the same file) nor with the contract tests (which judge with openapi-core), so a
mistake in one shows up against the others. It covers the operation (path template and
method), path and query parameters (required, type, enum, format) and the request body
(required, media type, schema; a `oneOf` with a discriminator takes the branch the body
names; form fields are cast by their schema). Credentials are the vendor world's business.
Messages name the field and never repeat its value: a bad value may be a secret.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jsonschema
import yaml

from .core import SimRequest

FORM = "application/x-www-form-urlencoded"
FORMAT_EXAMPLES = {
    "date": "2026-01-31",
    "date-time": "2026-01-31T12:00:00Z",
    "uuid": "123e4567-e89b-12d3-a456-426614174000",
}


def load_document(path: Path) -> dict[str, Any]:
    """The YAML/JSON file with every `$ref` (local or into a sibling file) replaced by what it
    points to, including the map-level refs of unbundled sources. Specs must not recurse."""
    _read.cache_clear()
    return _inline(_read(path.resolve()), path.resolve(), _read(path.resolve()), depth=0)


@lru_cache(maxsize=32)
def _read(path: Path) -> Any:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: ten times faster
    return yaml.load(path.read_text(), Loader=loader)


def _inline(node: Any, path: Path, root: Any, depth: int) -> Any:
    if depth > 50:
        raise ValueError(f"{path}: $ref chain too deep (a recursive schema?)")
    if isinstance(node, list):
        return [_inline(item, path, root, depth) for item in node]
    if not isinstance(node, dict):
        return node
    if isinstance(node.get("$ref"), str):
        target_file, _, pointer = node["$ref"].partition("#")
        target_path = (path.parent / target_file).resolve() if target_file else path
        target_root = _read(target_path) if target_file else root
        target = target_root
        for part in filter(None, pointer.split("/")):
            part = part.replace("~1", "/").replace("~0", "~")
            target = target[int(part)] if isinstance(target, list) else target[part]
        siblings = {k: v for k, v in node.items() if k != "$ref"}
        resolved = _inline(target, target_path, target_root, depth + 1)
        return {**resolved, **_inline(siblings, path, root, depth)} if siblings else resolved
    out = {key: _inline(value, path, root, depth) for key, value in node.items()}
    mapping = out.get("discriminator", {}).get("mapping") if isinstance(out.get("discriminator"), dict) else None
    if mapping:  # mapping values are refs written as plain strings: resolve them too
        out["discriminator"] = {
            **out["discriminator"],
            "mapping": {k: _inline({"$ref": v}, path, root, depth + 1) for k, v in mapping.items()},
        }
    return out


def to_json_schema(schema: Any) -> Any:
    """OpenAPI 3.0's schema dialect as JSON Schema draft 7: `nullable` widens the type, and a
    `oneOf` with a discriminator becomes "the branch the discriminator names" (if/then)."""
    if isinstance(schema, list):
        return [to_json_schema(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: to_json_schema(v) for k, v in schema.items() if k not in ("discriminator", "example", "nullable")}
    if schema.get("nullable") and "type" in out:
        out["type"] = [out["type"], "null"]
        if "enum" in out:
            out["enum"] = [*out["enum"], None]
    mapping = (schema.get("discriminator") or {}).get("mapping")
    if mapping and "oneOf" in schema:
        name = schema["discriminator"]["propertyName"]
        out.pop("oneOf")
        out["required"] = sorted({*out.get("required", []), name})
        out.setdefault("properties", {})[name] = {"enum": list(mapping)}
        out["allOf"] = [
            *out.get("allOf", []),
            *({"if": {"properties": {name: {"const": k}}}, "then": to_json_schema(v)} for k, v in mapping.items()),
        ]
    return out


def branch_for(schema: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
    """The schema whose properties apply to `data`: the discriminator's branch, if any."""
    mapping = (schema.get("discriminator") or {}).get("mapping")
    if mapping and "oneOf" in schema:
        branch = mapping.get(data.get(schema["discriminator"]["propertyName"]))
        if branch is not None:
            return branch_for(branch, data)
    return schema


def properties_of(schema: dict[str, Any]) -> dict[str, Any]:
    props = dict(schema.get("properties", {}))
    for part in schema.get("allOf", []):
        props.update(properties_of(part))
    return props


@dataclass
class Operation:
    method: str
    template: str
    pattern: re.Pattern[str]
    node: dict[str, Any]
    parameters: list[dict[str, Any]]


@dataclass
class Check:
    """What is wrong with a request: its path (the route does not match: a 404 at most
    servers) or the rest (query, body: a 400)."""

    path: list[str]
    request: list[str]

    @property
    def problems(self) -> list[str]:
        return self.path + self.request


class OpenApiSpec:
    """One OpenAPI 3.0 file: which requests it describes and what is wrong with one.

    `closed_bodies`: refuse body fields the schema does not declare. OpenAPI allows them by
    default; a simulator that accepts anything cannot catch a client sending fields the
    vendor never documented."""

    def __init__(self, path: Path, closed_bodies: bool = False) -> None:
        self.path = path
        self.closed_bodies = closed_bodies
        self.doc = load_document(path)
        self._validators: dict[int, jsonschema.Draft7Validator] = {}
        servers = self.doc.get("servers") or [{"url": "/"}]
        url = re.sub(r"\{[^}]+\}", "host", servers[0]["url"])
        self.base_path = urlsplit(url).path.rstrip("/")

    @cached_property
    def operations(self) -> list[Operation]:
        ops = []
        for template, item in self.doc.get("paths", {}).items():
            regex = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(self.base_path + template))
            shared = item.get("parameters", [])
            for method, node in item.items():
                if method in ("parameters", "summary", "description", "servers"):
                    continue
                own = node.get("parameters", [])
                merged = {(p["name"], p["in"]): p for p in [*shared, *own]}
                ops.append(Operation(method.upper(), template, re.compile(f"^{regex}$"), node, list(merged.values())))
        return ops

    def operation(self, method: str, path: str) -> tuple[Operation, dict[str, str]] | None:
        for op in self.operations:
            if op.method == method and (m := op.pattern.match(path)):
                return op, m.groupdict()
        return None

    def check(self, req: SimRequest) -> Check | None:
        """None: no operation of this file matches; otherwise what is wrong (maybe nothing)."""
        found = self.operation(req.method, req.path)
        if found is None:
            return None
        op, path_values = found
        path = list(self._parameter_problems(op, req, path_values, ("path",)))
        rest = list(self._parameter_problems(op, req, path_values, ("query",)))
        return Check(path, rest + self._body_problems(op, req))

    # -- parameters ------------------------------------------------------------------
    def _parameter_problems(
        self, op: Operation, req: SimRequest, path_values: dict[str, str], places: tuple[str, ...]
    ) -> Iterable[str]:
        for param in op.parameters:
            name, where = param["name"], param["in"]
            if where not in places:
                continue
            if where == "path":
                values = [path_values.get(name, "")]
            elif where == "query":
                values = req.query.get(name, [])
            else:
                continue  # headers and cookies: none of our vendors' operations use them
            if not values:
                if param.get("required"):
                    yield f"{name}: required {where} parameter is missing"
                continue
            schema = param.get("schema", {})
            if schema.get("type") == "array":
                yield from self._schema_problems(schema, [_cast(schema.get("items", {}), v) for v in values], name)
            else:
                for value in values:
                    yield from self._schema_problems(schema, _cast(schema, value), name)

    # -- body ------------------------------------------------------------------------
    def _body_problems(self, op: Operation, req: SimRequest) -> list[str]:
        body_spec = op.node.get("requestBody")
        if not body_spec:
            return []
        content = body_spec.get("content", {})
        ctype = req.headers.get("content-type", "").split(";")[0].strip().lower()
        if not req.body:
            return [f"request body: required ({', '.join(content)})"] if body_spec.get("required") else []
        if ctype not in content:
            return [f"request body: content type {ctype or '(none)'} is not {' or '.join(content)}"]
        schema = content[ctype].get("schema")
        if ctype == FORM:
            # A field sent blank (or only spaces) is a field not given, as form handlers treat it.
            parsed = parse_qs(req.body.decode("utf-8", "replace"))
            fields = {k: v for k, v in parsed.items() if any(x.strip() for x in v)}
            if schema is None:
                return []
            return self._form_problems(schema, fields)
        try:
            data = json.loads(req.body)
        except ValueError:
            return [f"request body: not valid JSON ({ctype})"]
        if schema is None:
            return []
        return self._undeclared(schema, data) + self._schema_problems(schema, data, "")

    def _undeclared(self, schema: dict[str, Any], data: Any) -> list[str]:
        if not self.closed_bodies or not isinstance(data, dict):
            return []
        branch = branch_for(schema, data)
        if branch.get("additionalProperties", False) is not False or not properties_of(branch):
            return []
        declared = properties_of(branch)
        return [f"{name}: is not a field of this request" for name in data if name not in declared]

    def _schema_problems(self, schema: dict[str, Any], value: Any, where: str) -> list[str]:
        errors = _validator(schema, self._validators).iter_errors(value)
        return sorted({_describe(error, where) for error in _leaves(errors)})

    def _form_problems(self, schema: dict[str, Any], fields: dict[str, list[str]]) -> list[str]:
        first = {k: v[-1] for k, v in fields.items()}
        props = properties_of(branch_for(schema, first))
        data: dict[str, Any] = {}
        problems: list[str] = []
        for name, values in fields.items():
            prop = props.get(name, {})
            if prop.get("type") == "array":
                data[name] = [_cast(prop.get("items", {}), v) for v in values]
                continue
            cast = [_cast(prop, v) for v in values]
            data[name] = cast[-1]
            for extra in cast[:-1]:  # a repeated field (`events`): each value must be valid
                problems += self._schema_problems(prop, extra, name)
        return self._undeclared(schema, data) + problems + self._schema_problems(schema, data, "")


def _cast(schema: dict[str, Any], text: str) -> Any:
    """A form or query string as the type its schema declares (left as is when it is not one)."""
    kind = schema.get("type")
    try:
        if kind == "integer":
            return int(text)
        if kind == "number":
            return float(text) if any(c in text for c in ".eE") else int(text)
    except ValueError:
        return text
    if kind == "boolean" and text.lower() in ("true", "false"):
        return text.lower() == "true"
    return text


def _validator(schema: dict[str, Any], cache: dict[int, Any]) -> jsonschema.Draft7Validator:
    # Keyed by id(): the schemas live as long as the OpenApiSpec that owns the cache.
    if id(schema) not in cache:
        checker = jsonschema.FormatChecker()
        cache[id(schema)] = jsonschema.Draft7Validator(to_json_schema(schema), format_checker=checker)
    return cache[id(schema)]


def _leaves(errors: Iterable[jsonschema.ValidationError]) -> Iterable[jsonschema.ValidationError]:
    for error in errors:
        if error.validator in ("if", "allOf", "then") and error.context:
            yield from _leaves(error.context)
        else:
            yield error


def _describe(error: jsonschema.ValidationError, where: str) -> str:
    path = ".".join(str(p) for p in error.absolute_path)
    field = ".".join(p for p in (where, path) if p)
    rule, expected = error.validator, error.validator_value
    if rule == "required":
        missing = re.match(r"^'(.+)' is a required property$", error.message)
        return f"{'.'.join(p for p in (field, missing[1] if missing else '') if p)}: is required"
    if rule == "enum":
        return f"{field}: must be one of {', '.join(_show(v) for v in expected if v is not None)}"
    if rule == "const":
        return f"{field}: must be {_show(expected)}"
    if rule == "type":
        kinds = expected if isinstance(expected, list) else [expected]
        return f"{field}: must be {' or '.join(k for k in kinds if k != 'null')}"
    if rule == "format":
        example = f" (e.g. {FORMAT_EXAMPLES[expected]})" if expected in FORMAT_EXAMPLES else ""
        return f"{field}: must be a {expected}{example}"
    return f"{field or 'request'}: does not satisfy {rule} {_show(expected)[:60]}"


def _show(value: Any) -> str:
    return json.dumps(value) if isinstance(value, bool) or value is None else str(value)
