"""A request checked against the vendor's published schema, by the simulator itself.

The simulator must refuse what the vendor refuses without importing the clients (written
from the same notes) or a validation library the product does not ship. It reads the
schema from the spec file copied into the project (`vendors/<vendor>/spec/`) and checks the
keywords those files use: $ref, allOf, oneOf, nullable, type, enum, required, properties,
items, maxLength, maxProperties. Other keywords are ignored, as JSON Schema says; the
contract tests hold this to jsonschema's verdict on every case they derive from the specs.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

_TYPES: dict[str, type | tuple[type, ...]] = {
    "object": dict,
    "array": list,
    "string": str,
    "boolean": bool,
    "integer": int,
    "number": (int, float),
}


@cache
def load_spec(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def resolve(root: dict[str, Any], ref: str) -> dict[str, Any]:
    """A local JSON pointer ("#/definitions/X", "#/components/schemas/Y")."""
    node: Any = root
    for part in ref.removeprefix("#/").split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def _is(kind: str, value: Any) -> bool:
    if isinstance(value, bool) and kind != "boolean":
        return False
    return isinstance(value, _TYPES.get(kind, object))


def problems(schema: dict[str, Any], value: Any, root: dict[str, Any], where: str = "body") -> list[str]:
    """What in `value` the schema does not allow, one line each ([] when it conforms)."""
    if "$ref" in schema:
        return problems(resolve(root, schema["$ref"]), value, root, where)
    if value is None and schema.get("nullable"):
        return []
    found: list[str] = []
    for part in schema.get("allOf", ()):
        found += problems(part, value, root, where)
    if "oneOf" in schema:
        matching = sum(1 for part in schema["oneOf"] if not problems(part, value, root, where))
        if matching != 1:
            found.append(f"{where} must have exactly one of {len(schema['oneOf'])} forms")
    kind = schema.get("type")
    if kind and not _is(kind, value):
        return [*found, f"{where} must be {'an' if kind[0] in 'aeio' else 'a'} {kind}"]
    if "enum" in schema and value not in schema["enum"]:
        found.append(f"{where} must be one of {', '.join(map(str, schema['enum']))}")
    if isinstance(value, str) and len(value) > schema.get("maxLength", len(value)):
        found.append(f"{where} must be at most {schema['maxLength']} characters")
    if isinstance(value, dict):
        if len(value) > schema.get("maxProperties", len(value)):
            found.append(f"{where} must have at most {schema['maxProperties']} properties")
        found += [f"{where}.{name} is required" for name in schema.get("required", ()) if name not in value]
        for name, part in schema.get("properties", {}).items():
            if name in value:
                found += problems(part, value[name], root, f"{where}.{name}")
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            found += problems(schema["items"], item, root, f"{where}[{i}]")
    return found
