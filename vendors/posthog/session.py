"""One PostHog project over HTTP: the calls Pipewatch makes, and nothing about Pipewatch.

Hosts (US, EU or the customer's own), `Authorization: Bearer <personal API key>`, paths under
`/api/projects/{project_id}/`, PostHog's `{type, code, detail, attr}` envelope (and the bare
`{"message"}` / `{"detail"}` some warehouse actions answer), list pages followed by `next`
and run pages by cursor. A `next` link is followed only on the project's own host.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, urlsplit

from ..base import BadResponse
from ..http import HttpClient
from ..normalizing import expect

HOSTS = {"us": "https://us.posthog.com", "eu": "https://eu.posthog.com"}
RATE_LIMITS = ((480, 60.0), (4800, 3600.0))  # per key, for these endpoints
MAX_PAGES = 200  # 20,000 runs: a guard against a `next` that never ends


def error_parser(body: Any) -> tuple[str, str]:
    """PostHog's envelope, with the field it concerns; or a bare message/detail."""
    if not isinstance(body, dict):
        return "", ""
    detail = str(body.get("detail") or body.get("message") or "")
    attr = body.get("attr")
    if attr and isinstance(attr, str):
        detail = f"{attr}: {detail}"
    return str(body.get("code") or body.get("type") or ""), detail


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()


def _id(value: str) -> str:
    return quote(str(value), safe="")


class PostHogSession:
    def __init__(self, http: HttpClient, base_url: str, api_key: str, project_id: str) -> None:
        self.http, self.base_url = http, base_url.rstrip("/")
        self.headers = {"Authorization": f"Bearer {api_key}"}
        self.root = f"{self.base_url}/api/projects/{_id(project_id)}"

    def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        body, _ = self.http.call_json("GET", self.root + path, params=params, headers=self.headers)
        return body

    def post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        answer, _ = self.http.call_json("POST", self.root + path, json=body or {}, headers=self.headers)
        return answer

    def pages(self, path: str, params: dict[str, Any] | None = None) -> Iterator[dict[str, Any]]:
        """Every result of a list, page by page, following `next` as PostHog gives it."""
        url, pages = self.root + path, 0
        while True:
            body, _ = self.http.call_json("GET", url, params=params, headers=self.headers)
            page = expect(body, dict, "list page")
            for i, item in enumerate(expect(page.get("results"), list, "results")):
                yield expect(item, dict, f"results[{i}]")
            following, params, pages = page.get("next"), None, pages + 1
            if not following:
                return
            if not isinstance(following, str) or _origin(following) != _origin(self.base_url):
                # Another host, or the same over http: either would be sent the key.
                raise BadResponse("PostHog's next page points at another host or scheme: not followed")
            if pages >= MAX_PAGES:
                raise BadResponse(f"more than {MAX_PAGES} pages: stopped")
            url = following

    # --- batch exports -------------------------------------------------------------
    def exports(self) -> list[dict[str, Any]]:
        return list(self.pages("/batch_exports/"))

    def export(self, export_id: str) -> dict[str, Any]:
        return expect(self.get(f"/batch_exports/{_id(export_id)}/"), dict, "batch export")

    def runs(self, export_id: str, after: str) -> list[dict[str, Any]]:
        """Runs created since `after` (ISO or PostHog's `-30d`): without it PostHog lists 7 days only."""
        return list(self.pages(f"/batch_exports/{_id(export_id)}/runs/", {"after": after}))

    def runs_page(self, export_id: str, after: str, ordering: str) -> list[Any]:
        """One page (100) of an export's runs created since `after`, in `ordering`."""
        body = self.get(f"/batch_exports/{_id(export_id)}/runs/", {"after": after, "ordering": ordering})
        return expect(expect(body, dict, "runs page").get("results"), list, "results")

    def cancel_run(self, export_id: str, run_id: str) -> Any:
        return self.post(f"/batch_exports/{_id(export_id)}/runs/{_id(run_id)}/cancel/")

    def retry_run(self, export_id: str, run_id: str) -> str:
        answer = expect(self.post(f"/batch_exports/{_id(export_id)}/runs/{_id(run_id)}/retry/"), dict, "retry")
        return str(answer.get("backfill_id") or "")

    def pause(self, export_id: str) -> Any:
        return self.post(f"/batch_exports/{_id(export_id)}/pause/")

    def unpause(self, export_id: str, backfill: bool) -> Any:
        return self.post(f"/batch_exports/{_id(export_id)}/unpause/", {"backfill": backfill})

    def create_backfill(self, export_id: str, start_at: str, end_at: str) -> str:
        body = {"start_at": start_at, "end_at": end_at}
        answer = expect(self.post(f"/batch_exports/{_id(export_id)}/backfills/", body), dict, "backfill")
        return str(answer.get("backfill_id") or "")

    def backfills(self, export_id: str) -> list[dict[str, Any]]:
        return list(self.pages(f"/batch_exports/{_id(export_id)}/backfills/"))

    def recent_backfills(self, export_id: str) -> list[Any]:
        """The newest page of an export's backfills (50, newest first): the ones to follow."""
        page = expect(self.get(f"/batch_exports/{_id(export_id)}/backfills/"), dict, "backfills page")
        return expect(page.get("results"), list, "results")

    def cancel_backfill(self, export_id: str, backfill_id: str) -> Any:
        return self.post(f"/batch_exports/{_id(export_id)}/backfills/{_id(backfill_id)}/cancel/")

    # --- warehouse ---------------------------------------------------------------------
    def sources(self) -> list[dict[str, Any]]:
        return list(self.pages("/external_data_sources/"))

    def schema(self, schema_id: str) -> dict[str, Any]:
        return expect(self.get(f"/external_data_schemas/{_id(schema_id)}/"), dict, "warehouse table")

    def jobs(self, source_id: str, schema_id: str, after: str = "") -> list[dict[str, Any]]:
        """A table's sync jobs, newest first: PostHog answers a plain array of the 50 newest."""
        params = {"schemas": schema_id, **({"after": after} if after else {})}
        body = self.get(f"/external_data_sources/{_id(source_id)}/jobs/", params)
        return [expect(j, dict, "job") for j in expect(body, list, "jobs")]

    def sync_schema(self, schema_id: str) -> Any:
        return self.post(f"/external_data_schemas/{_id(schema_id)}/reload/")

    def resync_schema(self, schema_id: str) -> Any:
        return self.post(f"/external_data_schemas/{_id(schema_id)}/resync/")

    def cancel_schema(self, schema_id: str) -> Any:
        return self.post(f"/external_data_schemas/{_id(schema_id)}/cancel/")
