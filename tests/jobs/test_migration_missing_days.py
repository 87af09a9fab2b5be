"""Days that failed before the missing-days release and never landed are missing data too."""

from datetime import UTC, datetime

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("jobs", "0012_uploads")]
AFTER = [("jobs", "0013_missing_days_incident_since")]


@pytest.mark.django_db(transaction=True)
def test_failed_days_of_daily_pipelines_become_missing_days() -> None:
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    apps = executor.loader.project_state(BEFORE).apps
    Account, Pipeline, Run = (apps.get_model("jobs", m) for m in ("Account", "Pipeline", "Run"))
    statsig = Account.objects.create(name="statsig-old", vendor="statsig")
    mixpanel = Account.objects.create(name="mixpanel-old", vendor="mixpanel")
    daily = Pipeline.objects.create(account=statsig, kind="ingestion", external_id="wh/events")
    connector = Pipeline.objects.create(account=mixpanel, kind="import_connector", external_id="c1")
    failed_at = datetime(2026, 11, 18, 2, 0, tzinfo=UTC)
    for pipeline, key, state in (
        (daily, "2026-11-17", "failed"),
        (daily, "2026-11-16", "succeeded"),
        (connector, "r1", "failed"),
    ):
        Run.objects.create(
            pipeline=pipeline,
            external_id=key,
            state=state,
            error_code="QUERY_ERROR" if state == "failed" else "",
            error_message="SQL compilation error" if state == "failed" else "",
            finished_at=failed_at,
        )

    executor = MigrationExecutor(connection)
    executor.migrate(AFTER)
    apps = executor.loader.project_state(AFTER).apps
    Pipeline = apps.get_model("jobs", "Pipeline")
    daily, connector = Pipeline.objects.get(pk=daily.pk), Pipeline.objects.get(pk=connector.pk)
    assert list(daily.missing_days) == ["2026-11-17"] and daily.missing_since == failed_at
    assert daily.missing_days["2026-11-17"]["code"] == "QUERY_ERROR"
    assert connector.missing_days == {} and connector.missing_since is None  # not a daily pipeline
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes("jobs"))
