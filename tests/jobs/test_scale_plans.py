"""The tick's due scan, its claim and the alert scan's selection stay index range scans on
a generated data set, with stale statistics and fresh ones (ADR 14): EXPLAIN of the exact
SQL the code sends must show no SubPlan and no sequential scan of the big tables."""

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from jobs import alerts, scheduling
from jobs.models import Account, Pipeline

ACCOUNTS, PER_ACCOUNT = 20_000, 3  # 60,000 pipelines
BIG = {"jobs_pipeline", "jobs_account"}


def _build(now) -> None:
    """Accounts and pipelines in bulk inside PostgreSQL, nothing due, statistics fresh;
    then a quarter of the pipelines become due at once, as polls make happen, with the
    statistics left as they were (what the planner saw in the 120 s case)."""
    with connection.cursor() as cur:
        cur.execute(
            """
            INSERT INTO jobs_account (uuid, name, vendor, region, base_url, settings, credentials_token, created_at,
                updated_at, poll_error_kind, poll_error_message, consecutive_errors, next_discovery_at)
            SELECT gen_random_uuid(), 'scale-' || a, CASE WHEN a %% 10 = 0 THEN 'statsig' ELSE 'mixpanel' END, '', '',
                '{}'::jsonb, '', %(now)s, %(now)s, '', '', 0, %(now)s + interval '1 day'
            FROM generate_series(1, %(accounts)s) AS a
            """,
            {"now": now, "accounts": ACCOUNTS},
        )
        cur.execute(
            """
            INSERT INTO jobs_pipeline (uuid, kind, external_id, name, config, source, paused, created_at, next_poll_at,
                poll_error_kind, poll_error_message, last_failure_message, account_id, vendor_info, alerted_condition,
                consecutive_failures, health_status, missing_days, next_check_at)
            SELECT gen_random_uuid(), 'import_connector', 'c-' || n, '', '{}'::jsonb, 'config', false, %(now)s,
                %(now)s + (n %% 600) * interval '1 second', '', '', '', a.id, '{}'::jsonb, 'ok', 0, 'healthy',
                '{}'::jsonb, %(now)s + (n %% 86400) * interval '1 second'
            FROM jobs_account a CROSS JOIN generate_series(1, %(per)s) AS k,
                LATERAL (SELECT (a.id * %(per)s + k) AS n) AS x
            WHERE a.name LIKE 'scale-%%'
            """,
            {"now": now, "per": PER_ACCOUNT},
        )
        cur.execute("ANALYZE jobs_account")
        cur.execute("ANALYZE jobs_pipeline")
        cur.execute(
            "UPDATE jobs_pipeline SET next_poll_at = %(now)s - interval '1 minute', next_check_at = %(now)s"
            " WHERE id %% 4 = 0",
            {"now": now},
        )


def _nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", ()):
        yield from _nodes(child)


def _problems(sql: str, params: list[object], analyze: bool) -> list[str]:
    with connection.cursor() as cur:
        cur.execute(f"EXPLAIN ({'ANALYZE, ' if analyze else ''}FORMAT JSON) {sql}", params)
        (raw,) = cur.fetchone()
    plan = (raw if isinstance(raw, list) else __import__("json").loads(raw))[0]["Plan"]
    found = []
    for node in _nodes(plan):
        if node.get("Parent Relationship") == "SubPlan" or "Subplan Name" in node:
            found.append(f"SubPlan: {node['Node Type']}")
        if node["Node Type"] == "Seq Scan" and node.get("Relation Name") in BIG:
            found.append(f"Seq Scan on {node['Relation Name']}")
    return found


def _queries(now) -> dict[str, tuple[str, list[object]]]:
    accounts, end = scheduling.due_page_queries(now, None, scheduling.PAGE)
    with connection.cursor() as cur:
        cur.execute(*accounts)
        ids = sorted(row[0] for row in cur.fetchall())[:200]
        cur.execute(*end)
        last = cur.fetchone()
    later_accounts, later_end = scheduling.due_page_queries(now, (last[0], last[1]), scheduling.PAGE)
    alert = alerts.checks_due_query(now).query.get_compiler(using="default").as_sql()
    return {
        "due scan, first page's accounts": accounts,
        "due scan, first page's end": end,
        "due scan, a later page's accounts": later_accounts,
        "due scan, a later page's end": later_end,
        "discovery due": scheduling.due_discovery_query(now, 50_000),
        "claim of a shard": scheduling.claim_query(ids, now, __import__("uuid").uuid4()),
        "alert scan selection": (alert[0], list(alert[1])),
    }


@pytest.mark.django_db
def test_the_central_queries_are_index_range_scans_whatever_the_statistics() -> None:
    now = timezone.now()
    _build(now)
    assert Pipeline.objects.count() == ACCOUNTS * PER_ACCOUNT
    for statistics in ("stale", "fresh"):
        if statistics == "fresh":
            with connection.cursor() as cur:
                cur.execute("ANALYZE jobs_account")
                cur.execute("ANALYZE jobs_pipeline")
        for name, (sql, params) in _queries(now).items():
            for analyze in (False, True):
                assert _problems(sql, params, analyze) == [], f"{name}, {statistics} statistics, analyze={analyze}"


@pytest.mark.django_db
def test_the_due_scan_reads_pages_up_to_its_limit_most_overdue_first(mp_account, make_pipeline, settings) -> None:
    now = timezone.now()
    Account.objects.filter(pk=mp_account.pk).update(next_discovery_at=now + timedelta(days=1))
    others = [Account.objects.create(name=f"a{n}", vendor="mixpanel") for n in range(4)]
    Account.objects.filter(pk__in=[a.pk for a in others]).update(next_discovery_at=now + timedelta(days=1))
    for n, account in enumerate(others):  # the last account's pipelines waited longest
        for k in range(3):
            make_pipeline(f"p{n}-{k}", account=account, next_poll_at=now - timedelta(minutes=n + 1, seconds=k))
    make_pipeline("later", next_poll_at=now + timedelta(minutes=1))
    scheduling.PAGE, page = 2, scheduling.PAGE  # pages of two rows: the keyset must carry on
    try:
        assert scheduling.due_candidates(now) == [a.pk for a in reversed(others)]
        assert scheduling.due_candidates(now, limit=4) == [others[3].pk, others[2].pk]  # 4 rows read, 2 accounts
    finally:
        scheduling.PAGE = page
    settings.POLL_SHARD_SIZE = 3
    token, won = scheduling.claim_due(now)
    assert won == sorted(a.pk for a in others)
    assert set(Account.objects.filter(lease_token=token).values_list("pk", flat=True)) == {a.pk for a in others}
