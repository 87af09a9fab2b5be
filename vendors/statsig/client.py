"""Statsig Console API, warehouse ingestion (VENDORS.md §5).

Two kinds:

- `ingestion`: one target per (source, dataset), id "<source>/<dataset>", one run per day
  keyed "YYYY-MM-DD". One status call per poll serves every such target of the account
  (a sliding window of `window_days` days ending today, UTC), and with `discover` the
  groups nobody configured come back as new targets.
- `backfill`: one-shot runs started with `create("backfill", spec)`, all in the stream
  target `backfill/backfills`; each open run id is read with `GET …/runs/{id}`.

Account settings: `window_days` (optional, default 7). Values outside 1..60 are clamped,
anything that is not a whole number falls back to the default: a bad setting must not
stop polling. Credentials: `api_key` (a Console key, "console-…").

Statsig echoes part of the key in its 401 message; every error this client raises has
what follows "Key: " (and the key itself, wherever it appears) redacted.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urljoin, urlsplit, urlunsplit

from .. import clock
from ..base import (
    AccountConfig,
    AccountSchema,
    BadResponse,
    CreateResult,
    FormField,
    InvalidSpec,
    NotFound,
    Observation,
    Rejected,
    Target,
    TargetResult,
    VendorError,
)
from ..client import CREATE, DISCOVER, POLL, VendorClient
from ..connection_check import AUTH, NOT_FOUND, PERMISSION, run_check
from ..http import HttpSettings
from ..normalizing import nonempty_str
from .normalize import (
    BACKFILL,
    INGESTION,
    IngestionGroup,
    backfill_run_id,
    normalize_ingestion,
    normalize_run,
    parse_status_page,
)

API_VERSION = "20240601"
STATUS_PATH = "/console/v1/ingestion/status"
RUNS_PATH = "/console/v1/ingestion/runs"
BACKFILL_PATH = "/console/v1/ingestion/backfill"
MAX_PAGES = 20
DEFAULT_WINDOW_DAYS = 7
MAX_WINDOW_DAYS = 60
BACKFILLS = Target(BACKFILL, "backfills")  # the stream every backfill run joins

# IngestionBackfillContractDto's enums in spec/console-api.openapi.json (the contract tests
# compare them): `export_events` is a dataset of the status filter in newer docs only.
BACKFILL_TYPES = ("redshift", "bigquery-v2", "snowflake-v2", "databricks", "azure-synapse", "s3", "athena", "adls")
BACKFILL_DATASETS = ("Events", "Metrics", "export_exposures", "entity_properties")
BACKFILL_FIELDS = ("datestamp_start", "datestamp_end", "type", "dataset", "source")
CHECK_HINTS = {
    AUTH: "Statsig refused the key: it must be an active Console API key (console-…).",
    PERMISSION: "The key may not read ingestion status in this project.",
    NOT_FOUND: "The base URL does not serve Statsig's Console API.",
}
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_KEY_ECHO = re.compile(r"(Key:\s*)(\S+)")
_KEY_PREFIX = re.compile(r"^(console|secret|client)-", re.I)


def redact_key(text: str, key: str = "") -> str:
    """Hide the key Statsig echoes ("… Key: console-xxx") and the account's own key."""
    if key and len(key) >= 4:
        text = text.replace(key, "…(redacted)")

    def hide(m: re.Match[str]) -> str:
        prefix = _KEY_PREFIX.match(m[2])
        return f"{m[1]}{prefix[0].lower() if prefix else ''}…(redacted)"

    return _KEY_ECHO.sub(hide, text)


def error_parser(body: Any) -> tuple[str, str]:
    """`{status: 401, message: "…"}`: the numeric status is the only code Statsig gives."""
    if not isinstance(body, dict):
        return "", ""
    message = body.get("message") or body.get("error") or ""
    if isinstance(message, list):  # validation pipes sometimes answer a list of messages
        message = "; ".join(str(m) for m in message)
    status = body.get("status")
    code = str(status) if isinstance(status, int | str) and not isinstance(status, bool) else ""
    return code, redact_key(str(message))


def validate_backfill_spec(spec: Any, today: date) -> dict[str, Any]:
    """The backfill body Statsig accepts, cleaned; InvalidSpec names each bad field.

    The spec's IngestionBackfillContractDto, plus what its descriptions say (dates are
    YYYY-MM-DD) and what a backfill means (not in the future, end on or after start).
    Messages never echo the value.
    """
    if not isinstance(spec, dict):
        raise InvalidSpec({"": "a backfill request is an object of fields"})
    errors: dict[str, str] = {}
    cleaned: dict[str, Any] = {}
    for name, value in spec.items():
        if name not in BACKFILL_FIELDS and value not in (None, "", []):
            errors[str(name)] = "is not a Statsig backfill field"
    days: dict[str, date] = {}
    for name in ("datestamp_start", "datestamp_end"):
        value = spec.get(name)
        if isinstance(value, datetime):
            value = value.date()
        if isinstance(value, date):
            value = value.isoformat()
        if value in (None, ""):
            errors[name] = "is required (YYYY-MM-DD)"
            continue
        if not isinstance(value, str) or not _DATE_RE.match(value.strip()):
            errors[name] = "must be a date, YYYY-MM-DD"
            continue
        try:
            day = date.fromisoformat(value.strip())
        except ValueError:
            errors[name] = "is not a real date"
            continue
        if day > today:
            errors[name] = f"cannot be in the future (today is {today.isoformat()}, UTC)"
            continue
        days[name] = day
        cleaned[name] = day.isoformat()
    if len(days) == 2 and days["datestamp_start"] > days["datestamp_end"]:
        errors["datestamp_end"] = "must be on or after datestamp_start"
    for name, choices in (("type", BACKFILL_TYPES), ("dataset", BACKFILL_DATASETS)):
        value = spec.get(name)
        if value in (None, ""):
            errors[name] = f"is required: one of {', '.join(choices)}"
            continue
        match = next((c for c in choices if isinstance(value, str) and c.lower() == value.strip().lower()), None)
        if match is None:
            errors[name] = f"must be one of {', '.join(choices)}"
        else:
            cleaned[name] = match
    source = spec.get("source")
    if isinstance(source, str):
        if source.strip():
            cleaned["source"] = source.strip()
    elif isinstance(source, list | tuple):
        names = [s.strip() for s in source if isinstance(s, str) and s.strip()]
        if len(names) != len(source):
            errors["source"] = "must be a source name or a list of source names"
        elif names:
            cleaned["source"] = names
    elif source is not None:
        errors["source"] = "must be a source name or a list of source names"
    if errors:
        raise InvalidSpec(errors)
    return cleaned


class StatsigClient(VendorClient):
    vendor = "statsig"
    label = "Statsig"
    schema = AccountSchema(
        optional_settings=("window_days",),
        credential_sets=(("api_key",),),
        kinds=(INGESTION, BACKFILL),
        one_shot_kinds=(BACKFILL,),
        import_kinds=(INGESTION, BACKFILL),
        period_kinds=(INGESTION,),
    )
    capabilities = frozenset({POLL, CREATE, DISCOVER})
    hosts = {"default": "https://statsigapi.net"}
    error_parser = staticmethod(error_parser)
    # Published for the Console API: ~100 requests / 10 s and ~900 / 15 min.
    rate_limits = ((100, 10.0), (900, 900.0))

    def __init__(
        self,
        account: AccountConfig,
        http_settings: HttpSettings | None = None,
        throttle: Callable[[], None] | None = None,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        super().__init__(account, http_settings, throttle)
        # "Today" (UTC) for the status window and the backfill rules; tests pin it.
        self.now: Callable[[], datetime] = now or clock.now

    # -- plumbing ------------------------------------------------------------------
    @property
    def api_key(self) -> str:
        return self.account.credentials.get("api_key", "")

    @property
    def window_days(self) -> int:
        value = self.account.settings.get("window_days", DEFAULT_WINDOW_DAYS)
        if isinstance(value, bool):
            return DEFAULT_WINDOW_DAYS
        try:
            days = int(str(value).strip())
        except ValueError:
            return DEFAULT_WINDOW_DAYS
        return min(MAX_WINDOW_DAYS, max(1, days))

    def _today(self) -> date:
        return self.now().astimezone(UTC).date()

    def _call(self, method: str, url: str, **kwargs: Any) -> Any:
        headers = {"STATSIG-API-KEY": self.api_key, "STATSIG-API-VERSION": API_VERSION}
        try:
            body, _ = self.http.call_json(method, url, headers=headers, **kwargs)
        except VendorError as exc:
            exc.message = redact_key(exc.message, self.api_key)
            exc.args = (exc.message,)
            raise
        return body

    def _next_url(self, next_page: str, params: dict[str, str]) -> str:
        """Follow `pagination.nextPage` on our own host only: the key goes with it."""
        url = urljoin(self.base_url + "/", next_page)
        base, parts = urlsplit(self.base_url), urlsplit(url)
        if (parts.scheme, parts.netloc) != (base.scheme, base.netloc):
            raise BadResponse("pagination.nextPage points at another host")
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        for name, value in params.items():
            query.setdefault(name, value)
        return urlunsplit(parts._replace(query=urlencode(query)))

    # -- reading -------------------------------------------------------------------
    def window(self) -> tuple[date, date]:
        today = self._today()
        return today - timedelta(days=self.window_days - 1), today

    def status_rows(self, start: date, end: date) -> list[Any]:
        """Every row of the window, following nextPage (at most MAX_PAGES pages)."""
        params = {"startDate": start.isoformat(), "endDate": end.isoformat()}
        url = f"{self.base_url}{STATUS_PATH}?{urlencode(params)}"
        rows: list[Any] = []
        seen = {url}
        for _ in range(MAX_PAGES):
            page_rows, next_page = parse_status_page(self._call("GET", url))
            rows.extend(page_rows)
            if not next_page:
                break
            url = self._next_url(next_page, params)
            if url in seen:  # a page that points at itself
                break
            seen.add(url)
        return rows

    def ingestion_groups(self) -> list[IngestionGroup]:
        return normalize_ingestion(self.status_rows(*self.window()))

    def poll(self, targets: list[Target], discover: bool = False) -> list[TargetResult]:
        """One status call for every ingestion target (and discovery), then the backfills.

        Requested ingestion targets always get a result, empty when the window has no
        rows for them. With `discover`, every other (source, dataset) in the window comes
        back too, with its `name`, `info` and day observations: the engine creates it.
        An account-wide error (auth, 429, vendor down) is the only result.
        """
        results: list[TargetResult] = []
        ingestion = [t for t in targets if t.kind == INGESTION]
        backfills = [t for t in targets if t.kind == BACKFILL]
        for target in targets:
            if target.kind not in (INGESTION, BACKFILL):
                results.append(TargetResult(target, error=Rejected(f"Statsig has no {target.kind!r} pipelines")))
        if ingestion or discover:
            try:
                groups = {g.target.key: g for g in self.ingestion_groups()}
            except VendorError as exc:
                if exc.account_wide:
                    first = ingestion[0] if ingestion else targets[0] if targets else Target("", "")
                    return [TargetResult(first, error=exc, http_status=exc.http_status)]
                results.extend(TargetResult(t, error=exc, http_status=exc.http_status) for t in ingestion)
            else:
                for target in ingestion:
                    group = groups.pop(target.key, None)
                    if group is None:
                        results.append(TargetResult(target))
                    else:
                        results.append(TargetResult(target, group.observations, info=group.info, name=group.name))
                if discover:
                    results.extend(
                        TargetResult(g.target, g.observations, info=g.info, name=g.name) for g in groups.values()
                    )
        for target in backfills:
            try:
                results.append(self.poll_backfills(target))
            except VendorError as exc:
                results.append(TargetResult(target, error=exc, http_status=exc.http_status))
                if exc.account_wide:
                    return results
        return results

    def poll_one(self, target: Target) -> TargetResult:
        [result] = [r for r in self.poll([target]) if r.target.key == target.key] or [TargetResult(target)]
        if result.error is not None:
            raise result.error
        return result

    def poll_target(self, target: Target) -> list[Observation]:
        return self.poll_one(target).observations

    def discover(self) -> list[TargetResult]:
        return [TargetResult(g.target, g.observations, info=g.info, name=g.name) for g in self.ingestion_groups()]

    def poll_backfills(self, target: Target) -> TargetResult:
        """Each open run of the stream; a run Statsig no longer knows (404) is gone."""
        observations, gone = [], []
        now = self.now()
        for run_id in target.open_runs:
            try:
                body = self._call("GET", f"{self.base_url}{RUNS_PATH}/{quote(run_id, safe='')}")
            except NotFound:
                gone.append(run_id)
                continue
            observations.append(normalize_run(target, body, now, run_id))
        return TargetResult(target, observations, gone=gone)

    def check_credentials(self) -> str:
        """Today's ingestion status: documented, read-only, and the call polling makes."""
        return run_check(self._check, CHECK_HINTS)

    def _check(self) -> str:
        today = self._today()
        rows = self.status_rows(today, today)
        return f"authenticated; {len(rows)} ingestion status row(s) for {today.isoformat()}"

    # -- acting --------------------------------------------------------------------
    def create_fields(self, kind: str, spec: dict[str, Any]) -> list[FormField]:
        if kind != BACKFILL:
            return []
        return [
            FormField("datestamp_start", "First day", "date", True, help="YYYY-MM-DD, not in the future"),
            FormField("datestamp_end", "Last day", "date", True, help="YYYY-MM-DD, on or after the first day"),
            FormField("type", "Warehouse", "choice", True, BACKFILL_TYPES),
            FormField("dataset", "Dataset", "choice", True, BACKFILL_DATASETS),
            FormField("source", "Source", help="optional: one source name; empty backfills every source"),
        ]

    def validate_create(self, kind: str, spec: dict[str, Any]) -> dict[str, Any]:
        if kind != BACKFILL:
            raise InvalidSpec({"kind": f"Statsig pipelines of kind {kind!r} cannot be created from here"})
        return validate_backfill_spec(spec, self._today())

    def create(self, kind: str, spec: dict[str, Any]) -> CreateResult:
        cleaned = self.validate_create(kind, spec)
        body = self._call("POST", self.base_url + BACKFILL_PATH, json=cleaned)
        run_id = backfill_run_id(body)
        message = nonempty_str(body.get("message")) or f"Statsig started backfill run {run_id}."
        return CreateResult(message, targets=[BACKFILLS], run_keys=[run_id], details={"runID": run_id}, raw=body)
