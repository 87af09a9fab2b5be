"""Runs said `rate_limit` where poll errors say `rate_limited`: the migration leaves one word,
in runs and in the missing days pipelines keep, and going back restores the old one."""

from datetime import UTC, datetime

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("jobs", "0020_posthog_vendor")]
AFTER = [("jobs", "0021_one_vocabulary")]
AT = datetime(2026, 11, 18, 2, 0, tzinfo=UTC).isoformat()


def _models(target):
    executor = MigrationExecutor(connection)
    executor.migrate(target)
    apps = executor.loader.project_state(target).apps
    return apps.get_model("jobs", "Pipeline"), apps.get_model("jobs", "Run")


@pytest.mark.django_db(transaction=True)
def test_rate_limit_becomes_rate_limited_in_runs_and_missing_days() -> None:
    Pipeline, Run = _models(BEFORE)
    Account = Pipeline._meta.get_field("account").related_model
    account = Account.objects.create(name="statsig-old", vendor="statsig")
    daily = Pipeline.objects.create(
        account=account,
        kind="ingestion",
        external_id="wh/events",
        missing_days={
            "2026-11-17": {"at": AT, "kind": "rate_limit", "message": "quota"},
            "2026-11-16": {"at": AT, "kind": "query", "message": "SQL"},
        },
    )
    quiet = Pipeline.objects.create(account=account, kind="ingestion", external_id="wh/users")
    limited = Run.objects.create(pipeline=daily, external_id="2026-11-17", state="failed", error_kind="rate_limit")
    query = Run.objects.create(pipeline=daily, external_id="2026-11-16", state="failed", error_kind="query")

    Pipeline, Run = _models(AFTER)
    assert Run.objects.get(pk=limited.pk).error_kind == "rate_limited"
    assert Run.objects.get(pk=query.pk).error_kind == "query"
    days = Pipeline.objects.get(pk=daily.pk).missing_days
    assert {k: d["kind"] for k, d in days.items()} == {"2026-11-17": "rate_limited", "2026-11-16": "query"}
    assert days["2026-11-17"]["message"] == "quota" and Pipeline.objects.get(pk=quiet.pk).missing_days == {}

    Pipeline, Run = _models(BEFORE)
    assert Run.objects.get(pk=limited.pk).error_kind == "rate_limit"
    assert Pipeline.objects.get(pk=daily.pk).missing_days["2026-11-17"]["kind"] == "rate_limit"
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes("jobs"))
