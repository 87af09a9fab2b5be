"""Micro (micro.so) Prism imports (VENDORS.md §4): kind `import`; create, poll, per-row
results, expiry (Micro keeps a job 7 days: a 404 on one we know means gone).

Micro's contract is its official SDK, micro-so 0.8.0: the object types with a bulk
import, the `*_bulk_create_params` body (`objects[].default`, `options.dedupe_by`,
`caseInsensitive`, `list_id`) and the ImportJob model. The contract tests compare this
client with the SDK's types (docs/vendor-contract/micro.md).
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any
from urllib.parse import quote

from ..adapter import CREATE, JobStream
from ..base import CreateResult, FormField, InvalidSpec, Observation, Target
from ..client import VendorClient
from ..normalizing import expect, nonempty_str
from .normalize import normalize_job

IMPORT = "import"
# The object types micro-so can bulk-import: there is no `comment` import in any of
# Micro's artefacts (runs of an earlier one still poll and display: polling needs no type).
OBJECT_TYPES = ("contact", "organization", "identity", "deal", "action", "document", "engagement")
SYNC_LIMIT = 100  # fewer rows are imported synchronously (200), more become a job (202)
SLUG = re.compile(r"^[a-z][a-z0-9_]{0,63}$")  # Micro's property slugs, as its docs show them


def team(session: VendorClient) -> str:
    return quote(str(session.account.settings.get("team_id", "")), safe="")


class Imports(JobStream):
    kind = IMPORT
    capabilities = frozenset({CREATE})
    is_import = True

    def job_url(self, target: Target, job_id: str) -> str:
        return f"{self.session.base_url}/v2/prism/{team(self.session)}/imports/{job_id}"

    def read_job(self, target: Target, body: Any, job_id: str) -> Observation:
        return normalize_job(target, body, job_id)

    def create_fields(self, spec: dict[str, Any]) -> list[FormField]:
        return [
            FormField("object_type", "Object type", "choice", True, OBJECT_TYPES),
            FormField(
                "rows",
                "Upload",
                "file",
                True,
                help=f"CSV with a header row, a JSON array or NDJSON; under {SYNC_LIMIT} rows it imports at once",
            ),
            FormField("dedupe_by", "Dedupe by", help="optional: the property slug that matches existing records"),
            FormField("case_insensitive", "Match case-insensitively", "bool"),
            FormField("list_id", "List", help="optional: the list (app or CRM) the records belong to"),
            FormField("idempotency_key", "Idempotency key", help="optional: makes a retried upload safe"),
        ]

    def describe_create(self, spec: dict[str, Any]) -> str:
        rows = len(spec.get("rows") or [])
        how = "imported at once (synchronously)" if rows < SYNC_LIMIT else "one import job, polled until done"
        return f"{rows:,} rows read: {how}."

    def validate_create(self, spec: dict[str, Any]) -> dict[str, Any]:
        errors: dict[str, str] = {}
        object_type = str(spec.get("object_type", "")).strip().lower()
        if object_type not in OBJECT_TYPES:
            errors["object_type"] = f"choose one of {', '.join(OBJECT_TYPES)}"
        rows = spec.get("rows")
        if not isinstance(rows, list) or not rows:
            errors["rows"] = "upload at least one row (CSV with a header, a JSON array or NDJSON)"
        else:
            for i, row in enumerate(rows):
                if not isinstance(row, dict) or not row:
                    errors["rows"] = f"row {i + 1} is empty or not an object"
                    break
        dedupe_by = str(spec.get("dedupe_by") or "").strip()
        if dedupe_by and not SLUG.match(dedupe_by):
            errors["dedupe_by"] = "a property slug: lower-case letters, digits and _"
        elif dedupe_by and "rows" not in errors and not any(dedupe_by in r for r in rows):
            errors["dedupe_by"] = f"no row has the property {dedupe_by!r}"
        list_id = str(spec.get("list_id") or "").strip()
        key = str(spec.get("idempotency_key") or "")
        if len(key) > 255:
            errors["idempotency_key"] = "at most 255 characters"
        if errors:
            raise InvalidSpec(errors)
        cleaned: dict[str, Any] = {
            "object_type": object_type,
            "rows": rows,
            "case_insensitive": bool(spec.get("case_insensitive")),
        }
        if dedupe_by:
            cleaned["dedupe_by"] = dedupe_by
        if list_id:
            cleaned["list_id"] = list_id
        if key:
            cleaned["idempotency_key"] = key
        return cleaned

    def create(self, spec: dict[str, Any]) -> CreateResult:
        spec = self.validate_create(spec)
        options: dict[str, Any] = {}
        if "dedupe_by" in spec:
            options["dedupe_by"] = spec["dedupe_by"]
            options["caseInsensitive"] = spec["case_insensitive"]
        if "list_id" in spec:
            options["list_id"] = spec["list_id"]
        body: dict[str, Any] = {"objects": [{"default": row} for row in spec["rows"]]}
        if options:
            body["options"] = options
        digest = hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()
        headers = {**self.session._headers(), "Idempotency-Key": spec.get("idempotency_key") or digest[:64]}
        url = f"{self.session.base_url}/v2/prism/{team(self.session)}/{spec['object_type']}/import"
        answer, resp = self.session.http.call_json("POST", url, json=body, headers=headers)
        answer = expect(answer, dict, "import response")
        rows = len(spec["rows"])
        target = Target(IMPORT, IMPORT)
        if resp.status == 200:  # synchronous: finished in the answer, no job to poll
            obs = normalize_job(target, answer, f"sync-{digest[:16]}")
            return CreateResult(
                f"Imported {rows} row{'s' if rows != 1 else ''} synchronously ({obs.vendor_status})",
                observations=[obs],
                raw=answer,
            )
        job_id = nonempty_str(answer.get("job_id"))
        return CreateResult(
            f"Import job {job_id} queued for {rows:,} rows", run_keys=[job_id], details={"job_id": job_id}, raw=answer
        )
