"""Every page's queries are the same at 50 pipelines and at 20,000 (bench-scale's generator,
bench/scale_data.py: every tenth failing, so 2,000 incidents), and none of them handles more
rows than a page needs: EXPLAIN ANALYZE of the exact SQL each page sends, with no node over
MAX_ROWS rows. Counting, sorting or scanning the pipelines or runs would be 20,000 or more; a
hash of the 2,000 accounts is the planner's cheaper choice at this size (at 100,000 accounts
it looks them up by index), so the bound lets it pass. ADR 17."""

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from bench import db
from bench.scale_data import build

BIG = 20_000
MAX_ROWS = 2_500
HTMX = {"HTTP_HX_REQUEST": "true"}


def _urls(data: dict[str, Any]) -> dict[str, str]:
    return {
        "overview": "/",
        "overview, page 3 by name": "/?sort=name&page=3",
        "overview, failing": "/?health=failing",
        "pipeline page": f"/pipelines/{data['pipeline_uuid']}/",
        "run page": f"/runs/{data['run_uuid']}/",
        "failures page": "/failures/",
        "API list": "/api/v1/pipelines/",
        "API failures": "/api/v1/failures/",
    }


def _sent(client: Client, data: dict[str, Any]) -> dict[str, list[str]]:
    """Each page's SQL, as sent (after one warm-up request)."""
    out = {}
    for page, url in _urls(data).items():
        assert client.get(url).status_code == 200, page
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(url).status_code == 200, page
        out[page] = [q["sql"] for q in ctx.captured_queries]
    return out


def _nodes(plan: dict[str, Any]):
    yield plan
    for child in plan.get("Plans", ()):
        yield from _nodes(child)


def _widest(sql: str) -> tuple[int, str]:
    """The most rows any node of the plan handled (rows times loops), and that node."""
    with connection.cursor() as cur:
        cur.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + sql)
        plan = cur.fetchone()[0]
    plan = json.loads(plan) if isinstance(plan, str) else plan
    widest = max(_nodes(plan[0]["Plan"]), key=lambda n: n["Actual Rows"] * n["Actual Loops"])
    return widest["Actual Rows"] * widest["Actual Loops"], f"{widest['Node Type']} {widest.get('Relation Name', '')}"


@pytest.mark.django_db(transaction=True)
def test_pages_send_the_same_bounded_queries_at_50_and_20000_pipelines(django_user_model) -> None:
    client = Client()
    client.force_login(django_user_model.objects.create_superuser("bench", "b@example.com", "x" * 12))
    small = _sent(client, build(50, datetime.now(UTC)))
    db.empty_jobs()
    big = _sent(client, build(BIG, datetime.now(UTC)))

    assert {page: len(sql) for page, sql in big.items()} == {page: len(sql) for page, sql in small.items()}
    for page, queries in big.items():
        for sql in queries:
            if sql.lstrip().upper().startswith("SELECT"):
                rows, node = _widest(sql)
                assert rows <= MAX_ROWS, f"{page}: {node} handled {rows:,} rows:\n{sql[:400]}"


@pytest.mark.django_db
def test_the_account_filter_is_a_box_once_accounts_are_too_many_to_list(logged_in, make_pipeline) -> None:
    from jobs.models import Account

    make_pipeline("p", name="Only here")
    listed = logged_in.get("/").content.decode()
    assert '<select name="account">' in listed and 'name="account" value=""' not in listed
    Account.objects.bulk_create(Account(name=f"acct-{i:04d}", vendor="mixpanel") for i in range(200))
    for url in ("/", "/failures/"):
        page = logged_in.get(url).content.decode()
        assert '<select name="account">' not in page and '<input type="search" name="account"' in page
        assert "acct-0150" not in page  # no name listed: 201 of them would be a list nobody reads
    found = logged_in.get("/?account=mp-test").content.decode()  # the typed, exact name filters
    assert "Only here" in found and 'value="mp-test"' in found
    assert "Only here" not in logged_in.get("/?account=acct-0001").content.decode()
