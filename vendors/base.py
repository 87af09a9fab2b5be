"""The vendor contract: plain dataclasses in, plain dataclasses out.

Nothing here knows about Django. A client takes an `AccountConfig` and returns
`Observation`s, or raises a `VendorError` subclass whose `kind` tells the engine how to
react (back off, mark credentials broken, mark a job expired...).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar

# Normalized run states (DESIGN.md "Normalized states").
QUEUED = "queued"
RUNNING = "running"
SUCCEEDED = "succeeded"
FAILED = "failed"
CANCELED = "canceled"
UNKNOWN = "unknown"
STATES = (QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELED, UNKNOWN)
ACTIVE_STATES = frozenset({QUEUED, RUNNING})
FINISHED_STATES = frozenset({SUCCEEDED, FAILED, CANCELED})


class ErrorKind(StrEnum):
    """Why something failed, in our words (not the vendor's): a run's `error_kind`, a poll
    error's `kind`. jobs/vocabulary.py says what each means for people (whose, what to do)."""

    AUTH = "auth"
    CONFIG = "config"
    QUERY = "query"
    VENDOR = "vendor"
    TIMEOUT = "timeout"
    RATE_LIMITED = "rate_limited"  # one word for runs and polls (runs said "rate_limit": migrated)
    NOT_FOUND = "not_found"
    TRANSIENT = "transient"
    BAD_RESPONSE = "bad_response"
    REJECTED = "rejected"
    DEADLINE = "deadline"  # our poll ran out of time, not the vendor's fault
    EMPTY = "empty"  # a run or day that loaded no rows, where that counts as failed
    INTERNAL = "internal"  # Pipewatch itself
    UNKNOWN = "unknown"


# Why a run failed, as a normalizer says it.
ERROR_KINDS = (
    ErrorKind.AUTH,
    ErrorKind.CONFIG,
    ErrorKind.QUERY,
    ErrorKind.VENDOR,
    ErrorKind.TIMEOUT,
    ErrorKind.RATE_LIMITED,
    ErrorKind.UNKNOWN,
)

# Keys allowed in Observation.counts (API contract, issue 2).
COUNT_KEYS = ("total", "processed", "succeeded", "failed", "dropped", "files", "bytes", "rows")


@dataclass(frozen=True)
class AccountConfig:
    """Everything a client needs to talk to one vendor account."""

    vendor: str
    name: str
    settings: dict[str, Any] = field(default_factory=dict)
    credentials: dict[str, str] = field(default_factory=dict)
    region: str = ""
    base_url: str = ""

    def __repr__(self) -> str:  # never let a secret reach a log line or a traceback
        keys = ",".join(sorted(self.credentials))
        return f"AccountConfig(vendor={self.vendor!r}, name={self.name!r}, credentials=<{keys}>)"


@dataclass(frozen=True)
class Target:
    """One thing we track at the vendor: a pipeline of some kind, by the vendor's id.

    For one-shot job kinds (FullStory batch imports, Micro imports) a pipeline is a
    stream of jobs, and `open_runs` lists the job ids that are not finished yet: the
    client asks about those only.
    """

    kind: str
    external_id: str
    open_runs: tuple[str, ...] = ()

    @property
    def key(self) -> tuple[str, str]:
        return (self.kind, self.external_id)


@dataclass(frozen=True)
class RunError:
    message: str = ""
    code: str = ""
    kind: str = ""


@dataclass
class Observation:
    """What the vendor says now about one run, normalized."""

    target: Target
    run_key: str
    state: str
    vendor_status: str
    progress: float | None = None
    counts: dict[str, int] = field(default_factory=dict)
    started_at: datetime | None = None
    finished_at: datetime | None = None
    error: RunError | None = None
    flags: tuple[str, ...] = ()  # qualify the state: partial, empty, retrying, paused, expired
    raw: Any = None
    # True when the vendor gave no id and no start time: the run will get a real key
    # once it starts, and the engine re-keys the row instead of creating a second one.
    provisional_key: bool = False
    # Row-level errors or per-row results, the complete set known now (None: not given).
    items: list[RunItem] | None = None
    # When the vendor will forget this job (Micro: 7 days).
    expires_at: datetime | None = None
    # What we concluded that `raw` alone does not show (Statsig: a failed step's quiet
    # period is over). Part of the fingerprint, so `raw` stays the vendor's words verbatim.
    verdict: str = ""

    def fingerprint(self) -> str:
        """A stable hash of what the vendor said: equal fingerprints mean nothing changed."""
        payload = json.dumps(self.raw, sort_keys=True, separators=(",", ":"), default=str)
        if self.verdict:
            payload += "\n" + self.verdict
        return hashlib.sha256(payload.encode()).hexdigest()


@dataclass(frozen=True)
class RunItem:
    """One row-level outcome of a job: an error (FullStory) or a per-row result (Micro)."""

    kind: str  # "error" | "result"
    message: str = ""
    code: str = ""
    data: Any = None


@dataclass
class TargetResult:
    """The outcome of polling one target: observations, or the error that stopped it.

    A client may also return results for targets nobody asked about (discovery): the
    engine creates those pipelines, named `name`.
    """

    target: Target
    observations: list[Observation] = field(default_factory=list)
    error: VendorError | None = None
    http_status: int | None = None
    # Run keys the vendor no longer knows (404 on a job we tracked): expired.
    gone: list[str] = field(default_factory=list)
    # Pipeline-level facts (nessie status summary and day timeline, frequency, ...),
    # kept on the pipeline and replaced when they change. None: nothing new.
    info: dict[str, Any] | None = None
    name: str = ""


class VendorError(Exception):
    """Any failure talking to a vendor. `kind` drives the engine's reaction."""

    kind: ClassVar[str] = ErrorKind.VENDOR
    # Errors that concern the whole account: stop polling its other targets now.
    account_wide: ClassVar[bool] = False

    def __init__(
        self,
        message: str,
        *,
        http_status: int | None = None,
        code: str = "",
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.http_status = http_status
        self.code = code
        self.retry_after = retry_after

    def __str__(self) -> str:
        status = f"HTTP {self.http_status}: " if self.http_status else ""
        return f"{status}{self.message}"


class AuthError(VendorError):
    kind = ErrorKind.AUTH
    account_wide = True


class NotFound(VendorError):
    kind = ErrorKind.NOT_FOUND


class RemovedApi(NotFound):
    """A 404 from an API the vendor has removed: the id is most likely fine, the endpoint is
    gone. The message says so; the engine does not add "the vendor does not know this id"."""


class RateLimited(VendorError):
    kind = ErrorKind.RATE_LIMITED
    account_wide = True


class Transient(VendorError):
    """Timeouts, refused connections, 5xx: the vendor may answer next time."""

    kind = ErrorKind.TRANSIENT
    account_wide = True


class BadResponse(VendorError):
    """The vendor answered, but not in a shape we understand."""

    kind = ErrorKind.BAD_RESPONSE


class OutOfTime(VendorError):
    """The engine stopped the poll before this request (its time is up, or another poll
    took the account over). Not the vendor's fault: what came before is recorded."""

    kind = ErrorKind.DEADLINE
    account_wide = True  # stops the client's loop over targets, like any account-wide error


class Rejected(VendorError):
    """A 4xx other than auth/404/429: the vendor refused what we asked (validation)."""

    kind = ErrorKind.REJECTED


@dataclass(frozen=True)
class FormField:
    """One input of a create form, described by the vendor package (no Django here)."""

    name: str
    label: str
    type: str = "text"  # text | secret | bool | choice | date | list | file | number
    required: bool = False
    choices: tuple[str, ...] = ()
    help: str = ""
    initial: Any = None


class InvalidSpec(ValueError):
    """A create/backfill request that fails the vendor's rules, caught before any call.

    `errors` maps a field name ("" for the whole request) to a message for that field.
    """

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k or 'request'}: {v}" for k, v in errors.items()))
        self.errors = errors


@dataclass
class CreateResult:
    """What the vendor answered to a create (or backfill, or run-now) request."""

    message: str
    # Pipelines that now exist at the vendor (nessie may create two: events and people).
    targets: list[Target] = field(default_factory=list)
    # Jobs started, for one-shot kinds (their ids become runs of the pipeline).
    run_keys: list[str] = field(default_factory=list)
    # Runs that already finished in the answer itself (Micro's synchronous imports).
    observations: list[Observation] = field(default_factory=list)
    # Facts worth showing as they are (nessie's BigQuery dataset link, ...).
    details: dict[str, Any] = field(default_factory=dict)
    raw: Any = None


# Said instead of quoting the value: requests would quote its first characters.
CREDENTIAL_WHITESPACE = "the credential contains a line break or leading/trailing whitespace"


def credential_whitespace(credentials: dict[str, str]) -> str:
    """The key of the first credential that no vendor would accept as typed, or ""."""
    for key, value in sorted(credentials.items()):
        if isinstance(value, str) and (value != value.strip() or any(not ch.isprintable() for ch in value)):
            return key
    return ""


# Why a poll failed: the kinds of VendorError the engine records on an account or pipeline.
POLL_ERROR_KINDS = (
    ErrorKind.AUTH,
    ErrorKind.NOT_FOUND,
    ErrorKind.RATE_LIMITED,
    ErrorKind.TRANSIENT,
    ErrorKind.BAD_RESPONSE,
    ErrorKind.REJECTED,
)


@dataclass(frozen=True)
class AccountSchema:
    """What the config file and forms must supply for a vendor's account."""

    regions: tuple[str, ...] = ()
    required_settings: tuple[str, ...] = ()
    optional_settings: tuple[str, ...] = ()
    # Each inner tuple is one acceptable set of credential keys.
    credential_sets: tuple[tuple[str, ...], ...] = ()
    kinds: tuple[str, ...] = ()
    # Kinds whose pipelines are streams of one-shot jobs, tracked by job id.
    one_shot_kinds: tuple[str, ...] = ()
    # Kinds that are imports (the rest are exports), for filters.
    import_kinds: tuple[str, ...] = ()
    # Settings with a required shape: name -> (full-match regex, what it must be).
    setting_formats: tuple[tuple[str, str, str], ...] = ()

    def settings_problems(self, settings: dict[str, Any]) -> dict[str, str]:
        """Setting name -> what is wrong with its value (required ones missing, bad shapes)."""
        problems = {}
        for key in self.required_settings:
            if not str(settings.get(key, "")).strip():
                problems[key] = "required"
        for key, pattern, meaning in self.setting_formats:
            value = str(settings.get(key, "")).strip()
            if key not in problems and value and not re.fullmatch(pattern, value):
                problems[key] = f"must be {meaning}"
        return problems

    # Kinds whose runs each stand for a period of data (a day, a window) and are retried
    # under the same run key: a failed one is missing data until that same run lands.
    period_kinds: tuple[str, ...] = ()

    @property
    def setting_keys(self) -> tuple[str, ...]:
        return self.required_settings + self.optional_settings

    @property
    def credential_keys(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(k for option in self.credential_sets for k in option))

    def credentials_problem(self, credentials: dict[str, str]) -> str:
        """ "" when one acceptable set of credential keys is present with values (surrounding
        whitespace aside) and none holds a line break or another control character."""
        present = {k for k, v in credentials.items() if isinstance(v, str) and v.strip()}
        if bad := credential_whitespace({k: v.strip() for k, v in credentials.items() if isinstance(v, str)}):
            return f"credential {bad!r}: contains a line break or another control character"
        if not self.credential_sets or any(set(o) <= present for o in self.credential_sets):
            return ""
        return "needs " + " or ".join(" + ".join(o) for o in self.credential_sets)

    def problems(
        self, label: str, region: str, settings: dict[str, Any], credentials: dict[str, str]
    ) -> dict[str, str]:
        """Field -> what is wrong, by this vendor's rules: its regions, its settings (known
        names, required ones, shapes) and its credential sets. Fields are `region`,
        `settings.<name>`, `credentials.<name>` and `credentials` (the set as a whole);
        jobs.account_rules adds ours and is what config, admin, forms and API call."""
        found: dict[str, str] = {}
        if region and region not in self.regions:
            allowed = ", ".join(self.regions) or "none (this vendor has no regions)"
            found["region"] = f"{_quoted(region)} is not a {label} region (expected: {allowed})"
        for key in sorted(set(settings) - set(self.setting_keys)):
            found[f"settings.{key}"] = f"unknown {label} setting (expected: {', '.join(self.setting_keys) or 'none'})"
        known = {k: v for k, v in settings.items() if k in self.setting_keys}
        for key, problem in self.settings_problems(known).items():
            found[f"settings.{key}"] = f"required for {label}" if problem == "required" else problem
        for key in sorted(set(credentials) - set(self.credential_keys)):
            expected = ", ".join(self.credential_keys) or "none"
            found[f"credentials.{key}"] = f"unknown {label} credential (expected: {expected})"
        if problem := self.credentials_problem({k: v for k, v in credentials.items() if k in self.credential_keys}):
            found["credentials"] = f"{label} {problem}"
        return found


def _quoted(value: str, limit: int = 60) -> str:
    """A value as a message may quote it: control characters escaped, a long one cut."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 2] + "…'"
