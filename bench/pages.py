"""3. Pages: server time and query count, small vs large, in-process with the test client.

`django.test.Client` with `force_login` (a superuser sees every control) and
`CaptureQueriesContext`; each page is fetched once to warm up, then several times, medians.
Time is the whole request in-process: middleware, views, queries and templates."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

from . import db
from .config import Sizes
from .report import Report, Row, median

PAGES = ("overview", "pipeline page", "run page", "failures page", "API list")


def _urls(data: dict) -> dict[str, str]:
    return {
        "overview": "/",
        "pipeline page": f"/pipelines/{data['pipeline_uuid']}/",
        "run page": f"/runs/{data['run_uuid']}/",
        "failures page": "/failures/",
        "API list": "/api/v1/pipelines/",
    }


def _client():
    from django.contrib.auth import get_user_model
    from django.test import Client

    user, _ = get_user_model().objects.get_or_create(
        username="bench", defaults={"is_superuser": True, "is_staff": True, "email": "bench@example.com"}
    )
    client = Client()
    client.force_login(user)
    return client


def run_pages(data: dict, reps: int, only: tuple[str, ...] = PAGES) -> dict[str, dict[str, float]]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext as capture

    client = _client()
    out = {}
    for page, url in _urls(data).items():
        if page not in only:
            continue
        resp = client.get(url)  # warm: templates, connection, caches
        if resp.status_code != 200:
            raise RuntimeError(f"{page} {url}: HTTP {resp.status_code}")
        times, queries = [], []
        for _ in range(reps):
            with capture(connection) as ctx:
                started = time.perf_counter()
                resp = client.get(url)
                if hasattr(resp, "streaming_content"):
                    b"".join(resp.streaming_content)
                times.append((time.perf_counter() - started) * 1000)
            queries.append(len(ctx.captured_queries))
        out[page] = {"ms": median(times), "queries": median(queries), "bytes": len(resp.content)}
        if page == "failures page":
            from jobs.failures import IncidentList

            out[page]["incidents"] = IncidentList().total
    return out


def pages(sizes: Sizes, report: Report, log: Callable[[str], None]) -> None:
    from .data import page_data

    per_run = max(1, round(sizes.snapshots / (sizes.pages_large * sizes.runs_per_pipeline)))
    results = {}
    for label, count in (("small", sizes.pages_small), ("large", sizes.pages_large)):
        db.empty_jobs()
        started = time.perf_counter()
        data = page_data(
            count,
            sizes.per_account,
            sizes.runs_per_pipeline,
            count * sizes.runs_per_pipeline * per_run,
            datetime.now(UTC),
        )
        log(
            f"  built {data['pipelines']:,} pipelines, {data['runs']:,} runs, {data['snapshots']:,} snapshots"
            f" in {time.perf_counter() - started:.0f} s"
        )
        results[label] = {"data": data, "pages": run_pages(data, sizes.page_reps)}
    # Every tenth pipeline fails: the small set's failures page lists 5 incidents, the large
    # set's a full page of 50 (of 500), ten times the HTML. Timed again with the large set's
    # history and the small set's 5 incidents, the ratio says what the data's size costs.
    small, large = results["small"], results["large"]
    incidents = small["pages"]["failures page"]["incidents"]
    from .data import recover_failing

    left = recover_failing(incidents, datetime.now(UTC))
    few = run_pages(large["data"], sizes.page_reps, only=("failures page",))["failures page"]
    large["failures_same_incidents"] = few
    size_note = (
        f"{small['data']['pipelines']:,} vs {large['data']['pipelines']:,} pipelines,"
        f" {small['data']['snapshots']:,} vs {large['data']['snapshots']:,} snapshots"
    )
    for page in PAGES:
        s, g = small["pages"][page], large["pages"][page]
        ratio = g["ms"] / s["ms"] if s["ms"] else float("nan")
        same = s["queries"] == g["queries"]
        report.add(
            Row(
                f"{page}: time",
                g["ms"],
                "ms",
                baseline=s["ms"],
                ratio=ratio,
                target="<= 1.5x",
                met=ratio <= 1.5,
                note=f"{size_note}; HTML/JSON {s['bytes']:,} vs {g['bytes']:,} bytes"
                + (f"; {s['incidents']} vs {g['incidents']} incidents, 50 a page" if "incidents" in s else ""),
            )
        )
        report.add(
            Row(
                f"{page}: queries",
                g["queries"],
                "",
                baseline=s["queries"],
                ratio=g["queries"] / s["queries"] if s["queries"] else None,
                target="identical",
                met=same,
            )
        )
    s = small["pages"]["failures page"]
    report.add(
        Row(
            f"failures page, {left} incidents in both: time",
            few["ms"],
            "ms",
            baseline=s["ms"],
            ratio=few["ms"] / s["ms"],
            target="<= 1.5x",
            met=few["ms"] <= 1.5 * s["ms"],
            note=(
                f"{size_note}; queries {s['queries']:g} vs {few['queries']:g};"
                f" HTML {s['bytes']:,} vs {few['bytes']:,} bytes"
            ),
        )
    )
    report.details["pages"] = results
