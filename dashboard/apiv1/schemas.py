"""What the API takes and gives, as pydantic models: the OpenAPI schema is made from these.
Bodies are built by the existing `*_json` functions, so the fields are today's."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from ninja import Field, Schema
from pydantic import ConfigDict, StrictBool, StrictInt, StrictStr, field_validator

from jobs.vocabulary import HEALTHS, Condition
from vendors import base as vb
from vendors.registry import VENDORS

from ..views.failures import MAX_NOTE, MAX_SNOOZE_MINUTES

Stamp = Annotated[str, Field(json_schema_extra={"format": "date-time"})]  # ISO 8601, UTC, "Z"
Health = Literal[HEALTHS]  # type: ignore[valid-type]
What = Literal[tuple(Condition.values)]  # type: ignore[valid-type]
State = Literal[vb.STATES]  # type: ignore[valid-type]
PIPELINE_KINDS = sorted({kind for cls in VENDORS.values() for kind in cls.schema.kinds})


# --- errors ------------------------------------------------------------------------------


class ErrorBody(Schema):
    code: str = Field(description="Stable and machine-readable: invalid, unauthenticated, not_found, ...")
    message: str = Field(description="For people: what is wrong and what to do.")
    fields: dict[str, str] | None = Field(None, description="Field-level messages, by parameter or body field name.")
    details: dict[str, Any] | None = None


class Error(Schema):
    error: ErrorBody


# --- reads -------------------------------------------------------------------------------


class RunError(Schema):
    code: str
    message: str
    kind: str


class RunOut(Schema):
    id: str = Field(json_schema_extra={"format": "uuid"})
    external_id: str
    state: str
    vendor_status: str
    progress: float | None
    counts: Any
    started_at: Stamp | None
    finished_at: Stamp | None
    error: RunError | None
    flags: Any


class SuppressedOut(Schema):
    kind: str = Field(description="muted or maintenance")
    until: Stamp | None = Field(description="null: muted until unmuted")
    why: str


class TeamOut(Schema):
    slug: str
    name: str


class PipelineOut(Schema):
    id: str = Field(json_schema_extra={"format": "uuid"})
    name: str
    vendor: str
    kind: str
    account: str
    external_id: str
    health: Health
    health_reason: str
    since: Stamp | None = Field(description="When the current trouble began; null while healthy or running.")
    missing_days: list[str]
    current_run: RunOut | None
    last_success_at: Stamp | None
    last_failure_at: Stamp | None
    suppressed: SuppressedOut | None
    team: TeamOut | None = Field(description="The owning team: the pipeline's own, else its account's; null if none.")
    empty_day_is_failure: bool = Field(description="Whether a day that loaded nothing counts as a failed day.")
    facts: list[FactOut] = Field(description="What the vendor reports about the pipeline, as the page shows it.")
    operations: list[OperationOut] = Field(description="What the pipeline's kind can do besides the fixed actions.")


class FactOut(Schema):
    label: str
    value: str
    note: str
    done: int | None = Field(description="Progress: done of total (a running backfill's intervals).")
    total: int | None


class OperationFieldOut(Schema):
    name: str
    label: str
    type: str = Field(description="text, date (YYYY-MM-DD), bool, choice, number")
    required: bool


class OperationOut(Schema):
    name: str = Field(description="POST /api/v1/pipelines/<id>/operations/<name>/")
    label: str
    scope: str = Field(description="pipeline, or run (send the run's id)")
    offered: bool = Field(description="pipeline scope: offered now; false: offered from a fact only")
    run_states: list[str] = Field(description="run scope: the run states it applies to")
    fields: list[OperationFieldOut]
    confirm: str = Field(description="What cannot be undone: the pages ask before sending.")
    help: str


class AckOut(Schema):
    by: str | None
    at: Stamp | None
    note: str
    snoozed_until: Stamp | None


class IncidentOut(Schema):
    id: str
    what: What = Field(description="What is wrong: the word alerts use (`unpollable` is never alerted)")
    since: Stamp | None
    vendor: str
    account: str
    pipeline: str | None
    pipeline_name: str | None
    message: str
    code: str
    error_kind: str
    whose: str
    hint: str
    missing_days: list[str]
    suppressed: SuppressedOut | None
    acknowledged: AckOut | None


NEXT = "The next page's full URL (the same filters and a cursor), or null on the last page."


class PipelinePage(Schema):
    results: list[PipelineOut]
    next: str | None = Field(description=NEXT)


class RunPage(Schema):
    results: list[RunOut]
    next: str | None = Field(description=NEXT)


class IncidentPage(Schema):
    results: list[IncidentOut]
    next: str | None = Field(description=NEXT)


# --- filters -----------------------------------------------------------------------------


TEAM_FILTER = "A team's slug, or \"mine\" for the caller's teams; an unknown one matches nothing."


class Paging(Schema):
    limit: int = Field(50, description="Page size, 1 to 200; values outside are brought to the nearest bound.")
    cursor: str | None = Field(None, max_length=500, description="From a previous page's `next`; opaque.")
    offset: int | None = Field(None, ge=0, le=10**9, description="Deprecated: use `cursor`. Rows to skip.")


class PipelineFilters(Paging):
    health: Health | None = Field(None, description="Health as last stored (after each poll), as the overview.")
    vendor: str | None = Field(None, max_length=100, description="A vendor name; an unknown one matches nothing.")
    kind: str | None = Field(None, max_length=50, description=f"import, export, or a kind: {', '.join(PIPELINE_KINDS)}")
    account: str | None = Field(None, max_length=100, description="An account's name (exact).")
    q: str | None = Field(None, max_length=200, description="Text in the pipeline's name or external id.")
    team: str | None = Field(None, max_length=100, description=TEAM_FILTER)

    @field_validator("kind")
    @classmethod
    def _known_kind(cls, value: str | None) -> str | None:
        if value and value not in ("import", "export", *PIPELINE_KINDS):
            raise ValueError(f"must be import, export or one of {', '.join(PIPELINE_KINDS)}")
        return value or None


class RunFilters(Paging):
    state: State | None = None
    since: datetime | None = Field(None, description="Runs started (or first seen) at or after this instant.")
    until: datetime | None = Field(None, description="Runs started (or first seen) before this instant.")

    @field_validator("since", "until")
    @classmethod
    def _in_range(cls, value: datetime | None) -> datetime | None:
        # A zone is needed to compare; out-of-range years would overflow PostgreSQL's timestamp.
        if value is not None and value.tzinfo is None:
            raise ValueError("must carry a time zone (Z or +hh:mm)")
        if value is not None and not 1900 <= value.year <= 9000:
            raise ValueError("must be between the years 1900 and 9000")
        return value


class FailureFilters(Paging):
    vendor: str | None = Field(None, max_length=100, description="A vendor name; an unknown one matches nothing.")
    account: str | None = Field(None, max_length=100)
    kind: Literal["import", "export"] | None = None
    acknowledged: Literal["yes", "no", "true", "false", "1", "0"] | None = None
    team: str | None = Field(None, max_length=100, description=TEAM_FILTER)


# --- writes ------------------------------------------------------------------------------


class ActionOut(Schema):
    ok: bool
    message: str
    details: dict[str, Any] | None = None
    pipelines: list[PipelineOut] | None = None


class CreatePipelineIn(Schema):
    account: str = Field(max_length=100, description="The account's name.")
    kind: str = Field(max_length=50, description=f"One of the account vendor's kinds: {', '.join(PIPELINE_KINDS)}")
    spec: dict[str, Any] = Field(default_factory=dict, description="The vendor's settings for this kind.")
    stream: str = Field("", max_length=255)


class CreateAccountIn(Schema):
    name: str = Field(description="Unique; up to 100 characters.")
    vendor: str = Field(description=f"One of {', '.join(VENDORS)}.")
    region: str = Field("", description="One of the vendor's regions; blank for its default.")
    base_url: str = Field("", description="Replaces the vendor's hosts: a vendor host or one in VENDOR_HOST_ALLOWLIST.")
    settings: dict[str, Any] = Field(default_factory=dict, description="The vendor's account settings.")
    credentials: dict[str, Any] = Field(
        default_factory=dict, description="One of the vendor's credential sets. Write-only: never returned."
    )
    team: str | None = Field(None, max_length=100, description="A team's slug: the default owner of its pipelines.")


class AccountOut(Schema):
    id: str = Field(json_schema_extra={"format": "uuid"})
    name: str
    vendor: str
    region: str
    base_url: str
    settings: dict[str, Any]
    credentials: list[str] = Field(description="The names of the stored credentials, never their values.")
    team: TeamOut | None


class RegisterRunIn(Schema):
    external_id: str = Field(min_length=1, max_length=255, description="The vendor's job id.")


class PipelineSettingsIn(Schema):
    model_config = ConfigDict(extra="forbid")  # a field that cannot be changed here is a 400 naming it

    team: str | None = Field(
        None, max_length=100, description="A team's slug, or null for the account's team (leave it out to keep it)."
    )
    empty_day_is_failure: StrictBool | None = Field(None, description="Count an empty day as a failed day.")


class OperationIn(Schema):
    model_config = ConfigDict(extra="forbid")

    run: UUID | None = Field(None, description="The run's id, for operations of scope run.")
    values: dict[str, StrictStr | StrictBool] = Field(
        default_factory=dict, description="The operation's fields by name (dates as YYYY-MM-DD)."
    )


class AckIn(Schema):
    note: str = Field("", max_length=MAX_NOTE)
    snooze_minutes: StrictInt = Field(0, ge=0, le=MAX_SNOOZE_MINUTES)
