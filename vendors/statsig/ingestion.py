"""Statsig warehouse ingestion (VENDORS.md §5): kind `ingestion`, one target per (source,
dataset), id "<source>/<dataset>", one run per day keyed "YYYY-MM-DD".

One status call per poll serves every such target of the account (a sliding window of
`window_days` days ending today, UTC), and with `discover` the groups nobody configured
come back as new targets. `window_days` outside 1..60 is clamped, anything that is not a
whole number falls back to the default: a bad setting must not stop polling.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

from ..adapter import DISCOVER, Adapter
from ..base import BadResponse, Target, TargetResult, VendorError
from .normalize import INGESTION, IngestionGroup, normalize_ingestion, parse_status_page

STATUS_PATH = "/console/v1/ingestion/status"
MAX_PAGES = 20
DEFAULT_WINDOW_DAYS = 7
MAX_WINDOW_DAYS = 60


class IngestionStatus(Adapter):
    kind = INGESTION
    capabilities = frozenset({DISCOVER})
    is_import = True
    periodic = True
    cadence_seconds = 86400  # a day's data lands once a day

    @property
    def window_days(self) -> int:
        value = self.session.account.settings.get("window_days", DEFAULT_WINDOW_DAYS)
        if isinstance(value, bool):
            return DEFAULT_WINDOW_DAYS
        try:
            days = int(str(value).strip())
        except ValueError:
            return DEFAULT_WINDOW_DAYS
        return min(MAX_WINDOW_DAYS, max(1, days))

    def window(self) -> tuple[date, date]:
        today = self.today()
        return today - timedelta(days=self.window_days - 1), today

    def status_rows(self, start: date, end: date) -> list[Any]:
        """Every row of the window, following nextPage (at most MAX_PAGES pages)."""
        params = {"startDate": start.isoformat(), "endDate": end.isoformat()}
        url = f"{self.session.base_url}{STATUS_PATH}?{urlencode(params)}"
        rows: list[Any] = []
        seen = {url}
        for _ in range(MAX_PAGES):
            page_rows, next_page = parse_status_page(self.session.call("GET", url))
            rows.extend(page_rows)
            if not next_page:
                break
            url = self._next_url(next_page, params)
            if url in seen:  # a page that points at itself
                break
            seen.add(url)
        return rows

    def _next_url(self, next_page: str, params: dict[str, str]) -> str:
        """Follow `pagination.nextPage` on our own host only: the key goes with it."""
        base_url = self.session.base_url
        url = urljoin(base_url + "/", next_page)
        base, parts = urlsplit(base_url), urlsplit(url)
        if (parts.scheme, parts.netloc) != (base.scheme, base.netloc):
            raise BadResponse("pagination.nextPage points at another host")
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        for name, value in params.items():
            query.setdefault(name, value)
        return urlunsplit(parts._replace(query=urlencode(query)))

    def groups(self) -> list[IngestionGroup]:
        return normalize_ingestion(self.status_rows(*self.window()))

    def observe(self, targets: list[Target], discover: bool = False) -> list[TargetResult]:
        """Requested targets always get a result, empty when the window has no rows for
        them; with `discover`, every other (source, dataset) in the window comes back too,
        with its `name`, `info` and day observations. An account-wide error is the only result."""
        try:
            groups = {g.target.key: g for g in self.groups()}
        except VendorError as exc:
            if exc.account_wide:
                return [TargetResult(targets[0] if targets else Target("", ""), error=exc, http_status=exc.http_status)]
            return [TargetResult(t, error=exc, http_status=exc.http_status) for t in targets]
        results = []
        for target in targets:
            group = groups.pop(target.key, None)
            results.append(
                TargetResult(target, group.observations, info=group.info, name=group.name)
                if group
                else TargetResult(target)
            )
        if discover:
            results.extend(TargetResult(g.target, g.observations, info=g.info, name=g.name) for g in groups.values())
        return results
