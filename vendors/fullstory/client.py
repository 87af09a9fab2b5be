"""FullStory server API v2 batch imports (VENDORS.md §3): events and users.

A pipeline is a stream of batch jobs; the engine passes the ids of the open ones in
`Target.open_runs` and we ask about each. Creating splits an upload into batches of at
most BATCH_LIMIT requests, each sent with an Idempotency-Key so a retry cannot import twice.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any
from urllib.parse import quote

from ..base import (
    FAILED,
    FINISHED_STATES,
    AccountSchema,
    BadResponse,
    CreateResult,
    FormField,
    InvalidSpec,
    NotFound,
    RunItem,
    Target,
    TargetResult,
    Transient,
)
from ..client import CREATE, POLL, VendorClient
from ..connection_check import AUTH, NOT_FOUND, PERMISSION, run_check
from . import request_rules
from .normalize import created_job_id, normalize_errors_page, normalize_job

EVENTS, USERS = "events_import", "users_import"
PATHS = {EVENTS: "events", USERS: "users"}
BATCH_LIMIT = 50_000  # request objects per batch: FullStory's documented maximum [F2]
MAX_ERROR_ITEMS = 10_000  # row errors kept per job; the rest is summarised in one note
ROW_RULES = {EVENTS: request_rules.EVENT, USERS: request_rules.USER}
BODY_RULES = {EVENTS: request_rules.EVENTS_BODY, USERS: request_rules.USERS_BODY}
CHECK_JOB_ID = "pipewatch-connection-check"  # a job id no batch import ever gets
CHECK_HINTS = {
    AUTH: "FullStory refused the API key: check it, and its region (na1/eu1).",
    PERMISSION: "The key may not read batch imports: use a key with the needed role.",
    NOT_FOUND: "The base URL does not answer as FullStory's API: check it.",
}
MAX_IDEMPOTENCY_KEY = 200  # undocumented [I]; ours are ~45 characters


class ErrorsNotReady(Transient):
    """A finished job whose `…/errors` still answers 202: retry this target later.

    Transient by kind, but only this target's: the rest of the account polls normally.
    """

    account_wide = False


def error_parser(body: Any) -> tuple[str, str]:
    """`{"message", "code"}`, the one envelope of every FullStory error (the seed)."""
    if isinstance(body, dict):
        return str(body.get("code") or ""), str(body.get("message") or "")
    return "", ""


class FullStoryClient(VendorClient):
    vendor = "fullstory"
    label = "FullStory"
    schema = AccountSchema(
        regions=("na1", "eu1"),
        credential_sets=(("api_key",),),
        kinds=(EVENTS, USERS),
        one_shot_kinds=(EVENTS, USERS),
        import_kinds=(EVENTS, USERS),
    )
    capabilities = frozenset({POLL, CREATE})
    hosts = {"na1": "https://api.fullstory.com", "eu1": "https://api.eu1.fullstory.com"}
    error_parser = staticmethod(error_parser)
    # Per-second and burst limits exist but are unpublished [F3]: no static budget here;
    # the engine backs off on each 429's Retry-After instead.
    rate_limits = ()

    @property
    def _headers(self) -> dict[str, str]:
        # The key goes in as it is: FullStory's "Basic" is not base64 user:password [F4].
        return {"Authorization": f"Basic {self.account.credentials.get('api_key', '')}"}

    def _url(self, kind: str, path: str = "") -> str:
        if kind not in PATHS:
            raise BadResponse(f"FullStory client cannot handle kind {kind!r}")
        return f"{self.base_url}/v2/{PATHS[kind]}/batch{path}"

    # -- reading -------------------------------------------------------------------
    def poll_one(self, target: Target) -> TargetResult:
        """Each open job of the stream; a 404 on one we know means FullStory expired it."""
        result = TargetResult(target)
        for job_id in target.open_runs:
            job_path = f"/{quote(job_id, safe='')}"
            try:
                body, _ = self.http.call_json("GET", self._url(target.kind, job_path), headers=self._headers)
            except NotFound:
                result.gone.append(job_id)
                continue
            obs = normalize_job(target, body)
            if obs.state == FAILED or obs.counts.get("failed"):
                obs.items = self._errors(target.kind, job_path, terminal=obs.state in FINISHED_STATES)
            result.observations.append(obs)
        return result

    def _errors(self, kind: str, job_path: str, terminal: bool) -> list[RunItem] | None:
        """Every row error of a job, up to MAX_ERROR_ITEMS; None while FullStory prepares them.

        A terminal job is not polled again once recorded, so for one of those a 202 must
        not become "no errors": it raises ErrorsNotReady and the engine asks again later.
        """
        items: list[RunItem] = []
        token, seen = "", set()
        total: int | None = None
        while len(items) < MAX_ERROR_ITEMS:
            params = {"page_token": token} if token else {}
            resp = self.http.request("GET", self._url(kind, f"{job_path}/errors"), params=params, headers=self._headers)
            if resp.status == 202:
                if terminal:
                    raise ErrorsNotReady("FullStory is still preparing this job's row errors (202)", http_status=202)
                return None
            self.http.raise_for_status(resp)
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

    def check_credentials(self) -> str:
        """Ask for the status of a job that cannot exist (read-only, the permission polling
        needs): FullStory's own 404 (`resource_not_found`) means the key was accepted."""
        return run_check(self._check, CHECK_HINTS)

    def _check(self) -> str:
        try:
            self.http.call_json("GET", self._url(EVENTS, f"/{CHECK_JOB_ID}"), headers=self._headers)
        except NotFound as exc:
            if exc.code != "resource_not_found":  # a 404 from something that is not FullStory
                raise
            return "authenticated: FullStory accepts the key and it may read batch import jobs"
        return "authenticated"

    # -- creating ------------------------------------------------------------------
    def create_fields(self, kind: str, spec: dict[str, Any]) -> list[FormField]:
        if kind not in PATHS:
            return []
        what = "events (each with a name)" if kind == EVENTS else "users (id, uid, display_name, email, properties)"
        return [
            FormField(
                "requests",
                "Upload",
                "file",
                True,
                help=f"A JSON array or NDJSON of {what}; over {BATCH_LIMIT:,} rows it is split into several jobs",
            ),
            FormField(
                "idempotency_key",
                "Idempotency key",
                help="optional: the same key and file again replays instead of importing twice",
            ),
        ]

    def describe_create(self, kind: str, spec: dict[str, Any]) -> str:
        rows = len(spec.get("requests") or [])
        jobs = -(-rows // BATCH_LIMIT) if rows else 0
        return f"{rows:,} rows read: {jobs} batch import job{'s' if jobs != 1 else ''} will be created."

    def validate_create(self, kind: str, spec: dict[str, Any]) -> dict[str, Any]:
        """`{"requests": [...], "shared"?: {...}, "idempotency_key"?: str}`, checked against
        FullStory's request schema (request_rules); `shared` exists for events only."""
        if kind not in PATHS:
            raise InvalidSpec({"kind": f"FullStory imports are {', '.join(PATHS)}"})
        requests = spec.get("requests")
        if not isinstance(requests, list) or not requests:
            raise InvalidSpec({"requests": "upload at least one request object (a JSON array or NDJSON)"})
        for i, row in enumerate(requests):
            if problem := request_rules.problem(ROW_RULES[kind], row):
                raise InvalidSpec({"requests": f"row {i + 1}: {problem}"})
        cleaned: dict[str, Any] = {"requests": requests}
        shared = spec.get("shared")
        if shared is not None:
            rule = BODY_RULES[kind].fields.get("shared")
            if rule is None:
                raise InvalidSpec({"shared": f"FullStory's {PATHS[kind]} batch import has no shared context"})
            if problem := request_rules.problem(rule, shared, "shared"):
                raise InvalidSpec({"shared": problem})
            cleaned["shared"] = shared
        key = spec.get("idempotency_key")
        if key not in (None, ""):
            if not isinstance(key, str) or len(key) > MAX_IDEMPOTENCY_KEY:
                raise InvalidSpec({"idempotency_key": f"must be text of at most {MAX_IDEMPOTENCY_KEY} characters"})
            cleaned["idempotency_key"] = key
        return cleaned

    def create(self, kind: str, spec: dict[str, Any]) -> CreateResult:
        """One POST per batch. If a later batch fails, retrying the whole upload replays the
        earlier ones (same keys) instead of importing them twice."""
        spec = self.validate_create(kind, spec)
        requests = spec["requests"]
        base = spec.get("idempotency_key") or _content_key(kind, requests, spec.get("shared"))
        job_ids, raw = [], []
        for n, start in enumerate(range(0, len(requests), BATCH_LIMIT)):
            body: dict[str, Any] = {"requests": requests[start : start + BATCH_LIMIT]}
            if "shared" in spec:
                body["shared"] = spec["shared"]
            headers = {**self._headers, "Idempotency-Key": f"{base}-{n}"}
            answer, _ = self.http.call_json("POST", self._url(kind), json=body, headers=headers)
            job_ids.append(created_job_id(answer))
            raw.append(answer)
        batches = len(job_ids)
        return CreateResult(
            message=f"Created {batches} batch import job{'s' if batches != 1 else ''} for {len(requests):,} rows",
            run_keys=job_ids,
            details={"jobs": job_ids},
            raw=raw,
        )


def _content_key(kind: str, requests: list[Any], shared: Any) -> str:
    """The same upload always gets the same key; any change to what is sent, a new one."""
    canonical = json.dumps([kind, requests, shared], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:40]
