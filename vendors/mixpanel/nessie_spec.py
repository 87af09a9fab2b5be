"""Create-pipeline rules for Mixpanel data pipelines, as Mixpanel's current spec states them
(spec/data-pipelines.openapi.yaml: the request schema of each pipeline type, and the rules
its descriptions give in prose).

One declarative table: the fields each pipeline type takes and the rule for each field.
The client checks a spec with it before calling Mixpanel; tests/contract/ checks the table
against the spec file field by field (required, enums and their order, defaults, dates), so
a newer spec shows up as a failing test. The simulator does not use it: it reads the spec
itself. Messages name the field and never echo a value, so a secret (client_secret,
snowflake_password) cannot leak through an error.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from ..aws_names import iam_role_arn_problem, s3_bucket_problem
from ..base import FormField, InvalidSpec

TEXT, BOOL, LIST = "text", "bool", "list"
RAW_TYPES = ("gcs-raw", "s3-raw", "azure-raw")
SCHEMATIZED_TYPES = ("bigquery", "snowflake", "aws", "azure-blob", "gcs-schema")
PIPELINE_TYPES = RAW_TYPES + SCHEMATIZED_TYPES

# Enums in the spec's order. Raw S3 exports also reach me-south-1; the schematized `aws` type does not.
S3_REGIONS = (
    "us-east-1", "us-east-2", "us-west-1", "us-west-2", "ap-northeast-1", "ap-northeast-2", "ap-northeast-3",
    "ap-southeast-1", "ap-southeast-2", "ap-south-1", "ca-central-1", "cn-north-1", "cn-northwest-1",
    "eu-central-1", "eu-north-1", "eu-west-1", "eu-west-2", "eu-west-3", "sa-east-1",
)  # fmt: skip
S3_RAW_REGIONS = (*S3_REGIONS, "me-south-1")
GCS_REGIONS = (
    "northamerica-northeast1", "us-central1", "us-east1", "us-east4", "us-west1", "us-west2",
    "southamerica-east1", "europe-north1", "europe-west1", "europe-west2", "europe-west3", "europe-west4",
    "europe-west6", "asia-east1", "asia-east2", "asia-northeast1", "asia-northeast2", "asia-northeast3",
    "asia-south1", "asia-southeast1", "australia-southeast1",
)  # fmt: skip
BQ_REGIONS = (
    "US", "US_CENTRAL_1", "US_EAST_1", "US_WEST_1", "US_WEST_2", "US_EAST_4", "NORTH_AMERICA_NORTHEAST_1",
    "SOUTH_AMERICA_EAST_1", "EU", "EUROPE_NORTH_1", "EUROPE_WEST_2", "EUROPE_WEST_3", "EUROPE_WEST_4",
    "EUROPE_WEST_6", "ASIA_SOUTH_1", "ASIA_EAST_1", "ASIA_EAST_2", "ASIA_NORTHEAST_1", "ASIA_NORTHEAST_2",
    "ASIA_NORTHEAST_3", "ASIA_SOUTHEAST_1", "ASIA_SOUTHEAST_2", "AUSTRALIA_SOUTHEAST_1",
)  # fmt: skip
SNOWFLAKE_FIELDS = (
    "snowflake_account_name",
    "snowflake_warehouse",
    "snowflake_storage_integration",
    "snowflake_user",
    "snowflake_password",
    "snowflake_role",
    "snowflake_database",
    "snowflake_schema",
)

DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
MAX_MONTHS_BACK = 6


@dataclass(frozen=True)
class Rule:
    kind: str = TEXT
    required: bool = False
    choices: tuple[str, ...] = ()  # for BOOL: the allowed values as "true"/"false"
    default: str = ""  # the spec's default; the form preselects it where the field is required
    pattern: str = ""  # a full-match regex
    pattern_hint: str = ""
    secret: bool = False
    required_if: tuple[str, Any] | None = None  # (field, value): required when field == value
    only_with: tuple[str, Any] | None = None  # (field, value): allowed only when field == value
    only_without: str = ""  # allowed only when this field is empty
    not_with: tuple[str, Any, Any] | None = None  # (field, its value, our value): refused together
    choices_message: str = ""  # said instead of listing the choices
    check: Callable[[str], str] | None = None  # a published naming rule: the problem, or ""


OPT = Rule()
REQ = Rule(required=True)
SECRET = Rule(required=True, secret=True)

COMMON: dict[str, Rule] = {
    "type": Rule(required=True, choices=PIPELINE_TYPES),
    "trial": Rule(BOOL),
    "data_source": Rule(choices=("events", "people"), default="events"),
    "from_date": Rule(),  # required unless trial; dates are checked together below
    "to_date": Rule(),
    "frequency": Rule(choices=("daily", "hourly"), default="daily", only_without="to_date"),
    "events": Rule(LIST),
    "where": Rule(only_with=("data_source", "events")),
}
SCHEMATIZED: dict[str, Rule] = {
    # Required, though "not supported for people data_source": user data is always monoschema.
    "schema_type": Rule(
        required=True,
        choices=("monoschema", "multischema"),
        default="monoschema",
        not_with=("data_source", "people", "multischema"),
    ),
    "sync": Rule(BOOL, required=True, choices=("true",), default="true"),  # the spec's enum: [true]
}
RAW: dict[str, Rule] = {
    "data_source": Rule(
        choices=("events",), default="events", choices_message="must be events: raw pipelines export events only"
    ),
    "data_format": Rule(choices=("json",), default="json", choices_message="must be json for raw pipelines"),
}
FILE_FORMAT = {"data_format": Rule(choices=("json", "parquet"), default="json")}
GCS = {"gcs_bucket": REQ, "gcs_prefix": OPT, "gcs_region": Rule(required=True, choices=GCS_REGIONS)}


def s3(regions: tuple[str, ...]) -> dict[str, Rule]:
    return {
        "s3_bucket": Rule(required=True, check=s3_bucket_problem),
        "s3_region": Rule(required=True, choices=regions),
        "s3_role": Rule(required=True, check=iam_role_arn_problem),
        "s3_prefix": OPT,
        "s3_encryption": Rule(choices=("none", "aes", "kms"), default="none"),
        "s3_kms_key_id": Rule(only_with=("s3_encryption", "kms")),
    }


GLUE = {
    "use_glue": Rule(BOOL),
    "glue_database": Rule(required_if=("use_glue", True)),
    "glue_role": Rule(required_if=("use_glue", True), check=iam_role_arn_problem),
    "glue_table_prefix": Rule(only_with=("use_glue", True)),
}
AZURE = {
    "storage_account": REQ,
    "container_name": REQ,
    "prefix": OPT,
    "client_id": REQ,
    "client_secret": SECRET,
    "tenant_id": REQ,
}
BIGQUERY = {
    "bq_region": Rule(required=True, choices=BQ_REGIONS),
    "bq_prefix": Rule(pattern=r"[A-Za-z0-9_]+", pattern_hint="only letters, digits and _"),
    "gcp_project": REQ,
    "bq_dataset_name": REQ,
}
SNOWFLAKE = {
    "snowflake_prefix": OPT,
    **{name: Rule(required=True, secret=name == "snowflake_password") for name in SNOWFLAKE_FIELDS},
}

# type -> every field it takes, as the spec's schema for that type lists them.
TYPE_FIELDS: dict[str, dict[str, Rule]] = {
    "gcs-raw": {**COMMON, **RAW, **GCS},
    "s3-raw": {**COMMON, **RAW, **s3(S3_RAW_REGIONS)},
    "azure-raw": {**COMMON, **RAW, **AZURE},
    "bigquery": {**COMMON, **SCHEMATIZED, **BIGQUERY},
    "snowflake": {**COMMON, **SCHEMATIZED, **SNOWFLAKE},
    "aws": {**COMMON, **SCHEMATIZED, **FILE_FORMAT, **s3(S3_REGIONS), **GLUE},
    "azure-blob": {**COMMON, **SCHEMATIZED, **FILE_FORMAT, **AZURE},
    "gcs-schema": {**COMMON, **SCHEMATIZED, **FILE_FORMAT, **GCS},
}
# Fields the client adds itself; a spec may carry them, they are not checked here.
IGNORED = frozenset({"project_id"})


def validate_pipeline_spec(spec: Mapping[str, Any], today: date) -> dict[str, Any]:
    """Check a create spec; return it cleaned (typed, empties dropped) or raise InvalidSpec.

    Values may come typed (a form in our pages) or as form strings (the simulator).
    """
    errors: dict[str, str] = {}
    kind = _text(spec.get("type"))
    fields = TYPE_FIELDS.get(kind)
    if fields is None:
        raise InvalidSpec({"type": "must be one of " + ", ".join(PIPELINE_TYPES)})
    cleaned: dict[str, Any] = {}
    for name, value in spec.items():
        if name in IGNORED or _empty(value):
            continue
        rule = fields.get(name)
        if rule is None:
            errors[name] = f"is not a field of {kind} pipelines"
            continue
        converted, problem = _convert(rule, value)
        if problem:
            errors[name] = problem
        else:
            cleaned[name] = converted
    for name, rule in fields.items():
        if name in errors:
            continue
        present = name in cleaned
        needed = rule.required or (rule.required_if and _effective(cleaned, rule.required_if[0]) == rule.required_if[1])
        if not present and needed:
            when = f" when {rule.required_if[0]} is {_show(rule.required_if[1])}" if rule.required_if else ""
            errors[name] = f"is required{when}"
        elif present and rule.only_with and _effective(cleaned, rule.only_with[0]) != rule.only_with[1]:
            errors[name] = f"is only allowed when {rule.only_with[0]} is {_show(rule.only_with[1])}"
        elif present and rule.only_without and rule.only_without in cleaned:
            errors[name] = f"is only allowed without {rule.only_without} (an indefinite export)"
        elif present and rule.not_with and _clashes(cleaned, name, rule.not_with):
            errors[name] = f"cannot be {rule.not_with[2]} when {rule.not_with[0]} is {rule.not_with[1]}"
    _check_dates(cleaned, today, errors)
    if errors:
        raise InvalidSpec(errors)
    if cleaned.get("trial") and "from_date" not in cleaned:
        # The spec's schemas require from_date; its text says a trial defaults it to the previous day.
        cleaned["from_date"] = (today - timedelta(days=1)).isoformat()
    return cleaned


DEFAULTS = {"data_source": "events", "trial": False, "use_glue": False, "s3_encryption": "none"}


def _effective(cleaned: dict[str, Any], name: str) -> Any:
    return cleaned.get(name, DEFAULTS.get(name))


def _clashes(cleaned: dict[str, Any], name: str, not_with: tuple[str, Any, Any]) -> bool:
    other, other_value, own_value = not_with
    return _effective(cleaned, other) == other_value and cleaned[name] == own_value


def _check_dates(cleaned: dict[str, Any], today: date, errors: dict[str, str]) -> None:
    parsed: dict[str, date] = {}
    for name in ("from_date", "to_date"):
        if name not in cleaned or name in errors:
            continue
        value = cleaned[name]
        try:
            if not DATE_RE.match(value):
                raise ValueError
            parsed[name] = date.fromisoformat(value)
        except ValueError:
            errors[name] = "must be a date formatted YYYY-MM-DD"
    if "from_date" not in cleaned and "from_date" not in errors and not cleaned.get("trial"):
        errors["from_date"] = "is required unless trial is true"
    start = parsed.get("from_date")
    if start is not None:
        if start > today:
            errors["from_date"] = "cannot be in the future"
        elif start < months_before(today, MAX_MONTHS_BACK):
            errors["from_date"] = f"cannot be more than {MAX_MONTHS_BACK} months in the past"
    end = parsed.get("to_date")
    if start is not None and end is not None and end < start:
        errors["to_date"] = "must not be before from_date"


def months_before(day: date, months: int) -> date:
    month_index = day.year * 12 + day.month - 1 - months
    year, month = divmod(month_index, 12)
    month += 1
    for last in (31, 30, 29, 28):
        try:
            return date(year, month, min(day.day, last))
        except ValueError:
            continue
    raise AssertionError("unreachable")


def _convert(rule: Rule, value: Any) -> tuple[Any, str]:
    if rule.kind == BOOL:
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            value = value.strip().lower() == "true"
        if not isinstance(value, bool):
            return None, "must be true or false"
        if rule.choices and _show(value) not in rule.choices:
            return None, "must be " + " or ".join(rule.choices)
        return value, ""
    if rule.kind == LIST:
        items = value if isinstance(value, list | tuple) else [value]
        if not all(isinstance(i, str) for i in items):
            return None, "must be a list of strings"
        cleaned = [i.strip() for i in items if i.strip()]
        return cleaned, ""
    if not isinstance(value, str):
        return None, "must be a string"
    value = value.strip()
    if rule.choices and value not in rule.choices:
        return None, rule.choices_message or "must be one of " + ", ".join(rule.choices)
    if rule.pattern and not re.fullmatch(rule.pattern, value):
        return None, f"may contain {rule.pattern_hint}"
    if rule.check and (problem := rule.check(value)):
        return None, problem
    return value, ""


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _empty(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, list | tuple):
        return not any(isinstance(v, str) and v.strip() for v in value) and all(isinstance(v, str) for v in value)
    return False


def _show(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def to_form(cleaned: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The cleaned spec as form fields: booleans as "true"/"false", lists repeated."""
    form: list[tuple[str, str]] = []
    for name, value in cleaned.items():
        if isinstance(value, bool):
            form.append((name, "true" if value else "false"))
        elif isinstance(value, list):
            form.extend((name, item) for item in value)
        else:
            form.append((name, str(value)))
    return form


HINTS = {
    "type": "raw types export events as files; the others load a warehouse",
    "trial": "a 30-day trial export; Mixpanel allows one per project",
    "from_date": "YYYY-MM-DD, not in the future, at most 6 months back; not needed for a trial (Mixpanel starts it "
    "the previous day)",
    "to_date": "YYYY-MM-DD; leave empty to export indefinitely",
    "frequency": "only for indefinite exports",
    "events": "one event name per line; empty exports every event",
    "where": "a Mixpanel selector expression (events only)",
    "sync": "Mixpanel's spec allows only true: the export follows late data, deletions and imports",
    "schema_type": "multischema: one table per event; people data is always monoschema",
    "s3_bucket": "the bucket's name (3-63 lowercase letters, digits, dots, hyphens), not its URL",
    "s3_role": "the role Mixpanel assumes: arn:aws:iam::<12-digit account id>:role/<role name>",
    "glue_role": "arn:aws:iam::<12-digit account id>:role/<role name>",
}


def form_fields(pipeline_type: str) -> list[FormField]:
    """The create form for one pipeline type, straight from the rules above."""
    fields = [FormField("type", "Pipeline type", "choice", True, PIPELINE_TYPES, HINTS["type"], pipeline_type or None)]
    for name, rule in TYPE_FIELDS.get(pipeline_type, {}).items():
        if name == "type":
            continue
        if rule.kind == BOOL and not rule.choices:
            kind = "bool"
        elif rule.kind == LIST:
            kind = "list"
        elif rule.secret:
            kind = "secret"
        elif rule.choices:
            kind = "choice"
        elif name in ("from_date", "to_date"):
            kind = "date"
        else:
            kind = "text"
        help_text = HINTS.get(name) or rule.pattern_hint
        if rule.required_if:
            help_text = f"required when {rule.required_if[0]} is on"
        if rule.default and not rule.required:
            help_text = "; ".join(filter(None, [help_text, f"Mixpanel's default: {rule.default}"]))
        initial = rule.default or None if rule.required else None
        label = name.replace("_", " ")
        fields.append(FormField(name, label, kind, rule.required, rule.choices, help_text, initial))
    return fields
