"""FullStory server API v2 batch imports (VENDORS.md §3): events and users."""

from __future__ import annotations

import hashlib
import json
from typing import Any
from urllib.parse import quote

from ..base import (
    AccountSchema,
    CreateResult,
    InvalidSpec,
    NotFound,
    RunItem,
    Target,
    TargetResult,
    Transient,
)
from ..client import CREATE, POLL, VendorClient
from ..normalizing import expect, nonempty_str
from .normalize import normalize_errors_page, normalize_job

EVENTS, USERS = "events_import", "users_import"
PATHS = {EVENTS: "events", USERS: "users"}
BATCH_LIMIT = 50_000  # request objects per batch (FullStory's documented limit)
MAX_ERROR_ITEMS = 10_000
USER_LIMITS = {"uid": 256, "display_name": 256, "email": 128}


def error_parser(body: Any) -> tuple[str, str]:
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

    @property
    def _headers(self) -> dict[str, str]:
        # The key goes in as it is: FullStory's "Basic" is not base64 user:password.
        return {"Authorization": f"Basic {self.account.credentials.get('api_key', '')}"}

    def _url(self, kind: str, path: str = "") -> str:
        return f"{self.base_url}/v2/{PATHS.get(kind, 'events')}/batch{path}"

    # -- reading -------------------------------------------------------------------
    def poll_one(self, target: Target) -> TargetResult:
        result = TargetResult(target)
        for job_id in target.open_runs:
            try:
                body, _ = self.http.call_json(
                    "GET", self._url(target.kind, f"/{quote(job_id, safe='')}"), headers=self._headers
                )
            except NotFound:
                result.gone.append(job_id)  # a job we knew, forgotten by FullStory: expired
                continue
            status = (expect(body, dict, "job response").get("job") or {}).get("status")
            errors = body.get("errors") if isinstance(body, dict) else None
            items = (
                self._errors(target.kind, job_id) if status == "FAILED" or (status == "COMPLETED" and errors) else None
            )
            result.observations.append(normalize_job(target, body, items))
        return result

    def _errors(self, kind: str, job_id: str) -> list[RunItem]:
        """Every row error of a finished job; 202 means not ready, so try again next poll."""
        items: list[RunItem] = []
        token = ""
        while len(items) < MAX_ERROR_ITEMS:
            params = {"page_token": token} if token else {}
            resp = self.http.request(
                "GET", self._url(kind, f"/{quote(job_id, safe='')}/errors"), params=params, headers=self._headers
            )
            if resp.status == 202:
                raise Transient("FullStory is still preparing this job's errors (202); trying again next poll")
            self.http.raise_for_status(resp)
            page, token, _ = normalize_errors_page(resp.json())
            items.extend(page)
            if not token:
                return items
        items.append(RunItem(kind="error", message=f"(only the first {MAX_ERROR_ITEMS:,} errors are kept)"))
        return items

    def check_credentials(self) -> str:
        # No cheap "who am I" endpoint: asking for a job that cannot exist proves the key
        # (401/403 raise) without side effects; a 404 is the good answer.
        try:
            self.http.call_json("GET", self._url(EVENTS, "/pipewatch-credential-check"), headers=self._headers)
        except NotFound:
            return "authenticated (the key is accepted)"
        return "authenticated"

    # -- creating ------------------------------------------------------------------
    def validate_create(self, kind: str, spec: dict[str, Any]) -> dict[str, Any]:
        if kind not in PATHS:
            raise InvalidSpec({"kind": f"FullStory imports are {', '.join(PATHS)}"})
        requests = spec.get("requests")
        if not isinstance(requests, list) or not requests:
            raise InvalidSpec({"requests": "upload at least one request object (a JSON array or NDJSON)"})
        errors: dict[str, str] = {}
        for i, row in enumerate(requests):
            if not isinstance(row, dict):
                errors["requests"] = f"row {i + 1} is not a JSON object"
                break
            if kind == USERS:
                if not (nonempty_str(row.get("uid")) or nonempty_str(row.get("id"))):
                    errors["requests"] = f"row {i + 1}: uid is required"
                    break
                for key, limit in USER_LIMITS.items():
                    if len(str(row.get(key) or "")) > limit:
                        errors["requests"] = f"row {i + 1}: {key} is longer than {limit} characters"
                        break
                if errors:
                    break
        if errors:
            raise InvalidSpec(errors)
        cleaned = {"requests": requests}
        if isinstance(spec.get("shared"), dict):
            cleaned["shared"] = spec["shared"]
        if spec.get("idempotency_key"):
            cleaned["idempotency_key"] = str(spec["idempotency_key"])[:200]
        return cleaned

    def create(self, kind: str, spec: dict[str, Any]) -> CreateResult:
        spec = self.validate_create(kind, spec)
        requests = spec["requests"]
        # The same upload retried gets the same keys: FullStory replays instead of importing twice.
        base = (
            spec.get("idempotency_key")
            or hashlib.sha256(json.dumps(requests, sort_keys=True, default=str).encode()).hexdigest()[:40]
        )
        job_ids, raw = [], []
        for index in range(0, len(requests), BATCH_LIMIT):
            body: dict[str, Any] = {"requests": requests[index : index + BATCH_LIMIT]}
            if "shared" in spec:
                body["shared"] = spec["shared"]
            headers = {**self._headers, "Idempotency-Key": f"{base}-{index // BATCH_LIMIT}"}
            answer, _ = self.http.call_json("POST", self._url(kind), json=body, headers=headers)
            job = expect(expect(answer, dict, "response").get("job"), dict, "job")
            job_ids.append(nonempty_str(job.get("id")))
            raw.append(answer)
        batches = len(job_ids)
        return CreateResult(
            message=f"Created {batches} batch import job{'s' if batches != 1 else ''} for {len(requests):,} rows",
            run_keys=job_ids,
            details={"jobs": job_ids},
            raw=raw,
        )
