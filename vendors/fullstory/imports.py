"""FullStory batch imports (VENDORS.md §3): kinds `events_import` and `users_import`.

A pipeline is a stream of batch jobs (JobStream reads the open ones). Creating splits an
upload into batches of at most BATCH_LIMIT requests, each sent with an Idempotency-Key so a
retry cannot import twice.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, ClassVar
from urllib.parse import quote

from ..adapter import CREATE, JobStream
from ..base import (
    FAILED,
    FINISHED_STATES,
    BadResponse,
    CreateResult,
    FormField,
    InvalidSpec,
    Observation,
    RunItem,
    Target,
    Transient,
)
from . import request_rules
from .normalize import created_job_id, normalize_errors_page, normalize_job

EVENTS, USERS = "events_import", "users_import"
BATCH_LIMIT = 50_000  # request objects per batch: FullStory's documented maximum [F2]
MAX_ERROR_ITEMS = 10_000  # row errors kept per job; the rest is summarised in one note
MAX_IDEMPOTENCY_KEY = 200  # undocumented [I]; ours are ~45 characters


class ErrorsNotReady(Transient):
    """A finished job whose `…/errors` still answers 202: retry this target later.

    Transient by kind, but only this target's: the rest of the account polls normally.
    """

    account_wide = False


class BatchImports(JobStream):
    capabilities = frozenset({CREATE})
    is_import = True
    path: ClassVar[str]  # "events" | "users" in /v2/{path}/batch
    row_rules: ClassVar[request_rules.Rule]
    body_rules: ClassVar[request_rules.Rule]
    what: ClassVar[str]

    def url(self, path: str = "") -> str:
        return f"{self.session.base_url}/v2/{self.path}/batch{path}"

    # -- reading -------------------------------------------------------------------
    def job_url(self, target: Target, job_id: str) -> str:
        return self.url(f"/{job_id}")

    def read_job(self, target: Target, body: Any, job_id: str) -> Observation:
        obs = normalize_job(target, body)
        if obs.state == FAILED or obs.counts.get("failed"):
            url = self.job_url(target, quote(job_id, safe=""))
            obs.items = self._errors(url, terminal=obs.state in FINISHED_STATES)
        return obs

    def _errors(self, job_url: str, terminal: bool) -> list[RunItem] | None:
        """Every row error of a job, up to MAX_ERROR_ITEMS; None while FullStory prepares them.

        A terminal job is not polled again once recorded, so for one of those a 202 must
        not become "no errors": it raises ErrorsNotReady and the engine asks again later.
        """
        items: list[RunItem] = []
        token, seen = "", set()
        total: int | None = None
        while len(items) < MAX_ERROR_ITEMS:
            params = {"page_token": token} if token else {}
            resp = self.session.http.request("GET", f"{job_url}/errors", params=params, headers=self.session._headers())
            if resp.status == 202:
                if terminal:
                    raise ErrorsNotReady("FullStory is still preparing this job's row errors (202)", http_status=202)
                return None
            self.session.http.raise_for_status(resp)
            page, token, total = normalize_errors_page(resp.json())
            items.extend(page)
            if not token:
                return items
            if token in seen:  # a server that hands back a token twice would loop forever
                raise BadResponse(f"errors pagination repeated next_page_token {token[:40]!r}")
            seen.add(token)
        kept = items[:MAX_ERROR_ITEMS]
        of = f" of {total:,}" if total is not None else ""
        kept.append(RunItem(kind="error", message=f"Only the first {MAX_ERROR_ITEMS:,}{of} row errors are kept"))
        return kept

    # -- creating ------------------------------------------------------------------
    def create_fields(self, spec: dict[str, Any]) -> list[FormField]:
        return [
            FormField(
                "requests",
                "Upload",
                "file",
                True,
                help=f"A JSON array or NDJSON of {self.what}; over {BATCH_LIMIT:,} rows it is split into several jobs",
            ),
            FormField(
                "idempotency_key",
                "Idempotency key",
                help="optional: the same key and file again replays instead of importing twice",
            ),
        ]

    def describe_create(self, spec: dict[str, Any]) -> str:
        rows = len(spec.get("requests") or [])
        jobs = -(-rows // BATCH_LIMIT) if rows else 0
        return f"{rows:,} rows read: {jobs} batch import job{'s' if jobs != 1 else ''} will be created."

    def validate_create(self, spec: dict[str, Any]) -> dict[str, Any]:
        """`{"requests": [...], "shared"?: {...}, "idempotency_key"?: str}`, checked against
        FullStory's request schema (request_rules); `shared` exists for events only."""
        requests = spec.get("requests")
        if not isinstance(requests, list) or not requests:
            raise InvalidSpec({"requests": "upload at least one request object (a JSON array or NDJSON)"})
        for i, row in enumerate(requests):
            if problem := request_rules.problem(self.row_rules, row):
                raise InvalidSpec({"requests": f"row {i + 1}: {problem}"})
        cleaned: dict[str, Any] = {"requests": requests}
        shared = spec.get("shared")
        if shared is not None:
            rule = self.body_rules.fields.get("shared")
            if rule is None:
                raise InvalidSpec({"shared": f"FullStory's {self.path} batch import has no shared context"})
            if problem := request_rules.problem(rule, shared, "shared"):
                raise InvalidSpec({"shared": problem})
            cleaned["shared"] = shared
        key = spec.get("idempotency_key")
        if key not in (None, ""):
            if not isinstance(key, str) or len(key) > MAX_IDEMPOTENCY_KEY:
                raise InvalidSpec({"idempotency_key": f"must be text of at most {MAX_IDEMPOTENCY_KEY} characters"})
            cleaned["idempotency_key"] = key
        return cleaned

    def create(self, spec: dict[str, Any]) -> CreateResult:
        """One POST per batch. If a later batch fails, retrying the whole upload replays the
        earlier ones (same keys) instead of importing them twice."""
        spec = self.validate_create(spec)
        requests = spec["requests"]
        base = spec.get("idempotency_key") or _content_key(self.kind, requests, spec.get("shared"))
        job_ids, raw = [], []
        for n, start in enumerate(range(0, len(requests), BATCH_LIMIT)):
            body: dict[str, Any] = {"requests": requests[start : start + BATCH_LIMIT]}
            if "shared" in spec:
                body["shared"] = spec["shared"]
            answer = self.session.call("POST", self.url(), json=body, headers={"Idempotency-Key": f"{base}-{n}"})
            job_ids.append(created_job_id(answer))
            raw.append(answer)
        batches = len(job_ids)
        return CreateResult(
            message=f"Created {batches} batch import job{'s' if batches != 1 else ''} for {len(requests):,} rows",
            run_keys=job_ids,
            details={"jobs": job_ids},
            raw=raw,
        )


class EventsImports(BatchImports):
    kind = EVENTS
    path = "events"
    row_rules = request_rules.EVENT
    body_rules = request_rules.EVENTS_BODY
    what = "events (each with a name)"


class UsersImports(BatchImports):
    kind = USERS
    path = "users"
    row_rules = request_rules.USER
    body_rules = request_rules.USERS_BODY
    what = "users (id, uid, display_name, email, properties)"


def _content_key(kind: str, requests: list[Any], shared: Any) -> str:
    """The same upload always gets the same key; any change to what is sent, a new one."""
    canonical = json.dumps([kind, requests, shared], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:40]
