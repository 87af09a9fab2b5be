"""What FullStory's batch-import request schemas allow, as the client checks it before a call.

Mirrors `spec/{events,users}.swagger.json` (CreateBatchEventsImportJobRequest,
CreateBatchUserImportJobRequest and the objects they hold) field by field; the contract
tests compare this table with the spec files, so a newer spec shows up as a failing test.
Rules that live only in the spec's prose (property names, 8 KB values, one context per
event) are checked by FullStory per row and come back as row errors, not here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Rule:
    type: type
    required: bool = False
    max_length: int | None = None
    max_properties: int | None = None
    fields: Mapping[str, Rule] = field(default_factory=dict)  # an object's own fields


_TYPE_NAMES = {str: "text", dict: "an object", bool: "true or false", list: "a list"}
SCHEMA = Rule(dict, fields={"properties": Rule(dict)})  # varsapi.Schema
CONTEXT = Rule(dict, fields={name: Rule(dict) for name in ("browser", "mobile", "device", "location")})

EVENT = Rule(
    dict,
    fields={
        "user": Rule(dict, fields={"uid": Rule(str, max_length=256), "id": Rule(str)}),
        "session": Rule(dict, fields={"id": Rule(str), "use_most_recent": Rule(bool)}),
        "context": CONTEXT,
        "name": Rule(str, required=True),
        "timestamp": Rule(str),
        "properties": Rule(dict),
        "schema": SCHEMA,
    },
)
USER = Rule(
    dict,
    fields={
        "id": Rule(str),
        "uid": Rule(str, max_length=256),
        "display_name": Rule(str, max_length=256),
        "email": Rule(str, max_length=128),
        "properties": Rule(dict, max_properties=500),
        "schema": SCHEMA,
    },
)
# The body of each batch create: `requests` rows, and for events a `shared` context.
EVENTS_BODY = Rule(
    dict, fields={"requests": Rule(list, required=True), "shared": Rule(dict, fields={"context": CONTEXT})}
)
USERS_BODY = Rule(dict, fields={"requests": Rule(list, required=True)})


def problem(rule: Rule, value: Any, where: str = "") -> str:
    """The first thing FullStory's schema refuses in `value`, or ""."""
    if not isinstance(value, rule.type) or (isinstance(value, bool) and rule.type is not bool):
        return f"{where or 'the row'} must be {_TYPE_NAMES.get(rule.type, rule.type.__name__)}"
    if rule.max_length is not None and len(value) > rule.max_length:
        return f"{where} is longer than {rule.max_length} characters"
    if rule.max_properties is not None and len(value) > rule.max_properties:
        return f"{where} has more than {rule.max_properties} properties"
    for name, inner in rule.fields.items():
        path = f"{where}.{name}" if where else name
        if name not in value:
            if inner.required:
                return f"{path} is required"
            continue
        if found := problem(inner, value[name], path):
            return found
    return ""
