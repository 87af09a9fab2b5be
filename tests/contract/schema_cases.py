"""Request variants derived from a published JSON schema, for table-driven rule checks.

Given an object schema and a valid instance, `field_cases` changes one field at a time the
way the schema's keywords invite: a required field left out, every enum member and one
outsider, strings at and one past maxLength, objects at and one past maxProperties, every
oneOf form, null where nullable, a value of the right and of the wrong type; nested
objects one level down. Whether a variant is valid is not decided here: the tests ask the
vendor's schema (jsonschema, openapi-core's validator) and compare with our code's answer,
so a newer spec changes the cases and the verdicts by itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

WRONG = {"string": 12345, "object": "text", "array": "text", "boolean": "yes", "integer": "many", "number": "many"}
SAMPLE = {"string": "sample", "object": {}, "array": [], "boolean": True, "integer": 7, "number": 1.5}


@dataclass(frozen=True)
class Case:
    label: str
    instance: Any

    def __str__(self) -> str:
        return self.label


def deref(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        node: Any = root
        for part in schema["$ref"].removeprefix("#/").split("/"):
            node = node[part]
        schema = {**node, **{k: v for k, v in schema.items() if k != "$ref"}}
    for part in schema.get("allOf", ()):
        part = deref(part, root)
        schema = {
            **part,
            **schema,
            "properties": {**part.get("properties", {}), **schema.get("properties", {})},
            "required": [*part.get("required", []), *schema.get("required", [])],
        }
    return {k: v for k, v in schema.items() if k != "allOf"}


def kind_of(schema: dict[str, Any]) -> str:
    return schema.get("type") or ("object" if "properties" in schema else "")


def sample(schema: dict[str, Any], root: dict[str, Any]) -> Any:
    schema = deref(schema, root)
    if "example" in schema and not isinstance(schema["example"], dict | list):
        return schema["example"]
    if "enum" in schema:
        return schema["enum"][0]
    if "oneOf" in schema:
        return sample(schema["oneOf"][0], root)
    return SAMPLE.get(kind_of(schema), "sample")


def value_cases(schema: dict[str, Any], root: dict[str, Any]) -> list[tuple[str, Any]]:
    schema = deref(schema, root)
    kind = kind_of(schema)
    cases: list[tuple[str, Any]] = []
    if "enum" in schema:
        cases += [(f"= {v!r}", v) for v in schema["enum"]]
        cases.append(("outside the enum", f"not-{schema['enum'][0]}"))
    else:
        for i, form in enumerate(schema.get("oneOf", ())):
            cases.append((f"in form {i + 1} ({kind_of(deref(form, root)) or 'any'})", _form_sample(form, root)))
        if kind:
            cases.append(("of the right type", sample(schema, root)))
    if "maxLength" in schema:
        n = schema["maxLength"]
        cases += [(f"of {n} characters", "x" * n), (f"of {n + 1} characters", "x" * (n + 1))]
    if "maxProperties" in schema:
        n = schema["maxProperties"]
        cases += [(f"with {n} properties", _props(n)), (f"with {n + 1} properties", _props(n + 1))]
    if schema.get("nullable"):
        cases.append(("null", None))
    if kind in WRONG:
        cases.append(("of the wrong type", WRONG[kind]))
    return cases


def _form_sample(form: dict[str, Any], root: dict[str, Any]) -> Any:
    form = deref(form, root)
    if kind_of(form) == "array":
        return [sample(form.get("items", {}), root)]
    return sample(form, root)


def _props(n: int) -> dict[str, int]:
    return {f"p{i}": i for i in range(n)}


def field_cases(
    schema: dict[str, Any], base: dict[str, Any], root: dict[str, Any], depth: int = 1, prefix: str = ""
) -> list[Case]:
    """One-field variants of `base` (a valid instance of `schema`)."""
    schema = deref(schema, root)
    cases = [
        Case(f"{prefix}{name} missing", {k: v for k, v in base.items() if k != name})
        for name in schema.get("required", ())
    ]
    for name, part in schema.get("properties", {}).items():
        cases += [Case(f"{prefix}{name} {label}", {**base, name: value}) for label, value in value_cases(part, root)]
        part = deref(part, root)
        if depth > 0 and kind_of(part) == "object" and part.get("properties"):
            inner = base.get(name) if isinstance(base.get(name), dict) else {}
            inner = {**{n: sample(part["properties"][n], root) for n in part.get("required", ())}, **inner}
            for case in field_cases(part, inner, root, depth - 1, f"{prefix}{name}."):
                cases.append(Case(case.label, {**base, name: case.instance}))
    return cases
