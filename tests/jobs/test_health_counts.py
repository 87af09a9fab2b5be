"""The counts of pipelines by health that the database keeps (jobs.health_counts, ADR 17)
equal a GROUP BY over the rows after every kind of write: the ORM, a bulk insert, a
queryset update, SQL, deletes that cascade and TRUNCATE, and after folding. A poll's usual
UPDATE writes no count; two sessions moving pipelines at once do not wait on each other. Rerun on SQLite by
test_embedded_sqlite.py (but the PostgreSQL-only parts, named so)."""

import uuid
from collections import Counter

import psycopg
import pytest
from django.db import connection
from django.db.models import Count
from django.utils import timezone

from jobs import health_counts
from jobs.models import FAILING, HEALTHY, RUNNING, UNKNOWN, Account, HealthCount, Pipeline


def counted_by_rows() -> Counter:
    rows = Pipeline.objects.values_list("health_status", "paused", "poll_error_kind").annotate(n=Count("id"))
    out: Counter = Counter()
    for health, paused, error, n in rows.order_by():
        out[(health, paused, error != "")] += n
    return out


def kept() -> Counter:
    return Counter({key: n for key, n in health_counts.counts().items() if n})


@pytest.mark.django_db
def test_every_kind_of_write_keeps_the_counts_exact(mp_account) -> None:
    other = Account.objects.create(name="other", vendor="mixpanel")
    made = [Pipeline.objects.create(account=mp_account, kind="import_connector", external_id=f"p{i}") for i in range(3)]
    assert kept() == counted_by_rows() == Counter({(UNKNOWN, False, False): 3})
    Pipeline.objects.bulk_create(
        Pipeline(account=other, kind="import_connector", external_id=f"b{i}", health_status=HEALTHY) for i in range(5)
    )
    assert kept() == counted_by_rows()
    Pipeline.objects.filter(external_id__in=["b0", "b1"]).update(health_status=FAILING)
    Pipeline.objects.filter(external_id="b2").update(paused=True, health_status="paused")
    Pipeline.objects.filter(pk=made[0].pk).update(poll_error_kind="not_found")
    made[1].health_status = RUNNING
    made[1].save()
    assert kept() == counted_by_rows()
    with connection.cursor() as cur:
        cur.execute(
            "INSERT INTO jobs_pipeline (uuid, account_id, kind, external_id, name, config, vendor_info, source, paused,"
            " created_at, next_poll_at, poll_error_kind, poll_error_message, last_failure_message, missing_days,"
            " alerted_condition, consecutive_failures, health_status)"
            " SELECT %s, %s, 'import_connector', 'sql', '', '{}', '{}', 'config', false, %s, %s, '', '', '', '{}',"
            " '', 0, 'late'",
            [str(uuid.uuid4()), mp_account.pk, timezone.now(), timezone.now()],
        )
    assert kept() == counted_by_rows()
    other.delete()  # its pipelines go with it (Django's cascade: one DELETE)
    made[2].delete()
    assert kept() == counted_by_rows() and sum(kept().values()) == Pipeline.objects.count() == 3


@pytest.mark.django_db
def test_a_polls_usual_update_writes_no_count(make_pipeline) -> None:
    pipeline = make_pipeline("p")
    before = list(HealthCount.objects.order_by("pk").values_list("pk", "n"))
    Pipeline.objects.filter(pk=pipeline.pk).update(
        next_poll_at=timezone.now(), last_polled_at=timezone.now(), health_status=pipeline.health_status
    )
    assert list(HealthCount.objects.order_by("pk").values_list("pk", "n")) == before


@pytest.mark.django_db
def test_compact_folds_each_key_into_one_row_and_loses_nothing(mp_account) -> None:
    Pipeline.objects.bulk_create(
        Pipeline(account=mp_account, kind="import_connector", external_id=f"p{i}") for i in range(40)
    )
    for health in (FAILING, RUNNING, HEALTHY, FAILING):  # 40 pipelines moved 4 times: 321 rows
        for pipeline in Pipeline.objects.all():
            pipeline.health_status = health
            pipeline.save(update_fields=["health_status"])
    before = kept()
    assert HealthCount.objects.count() > health_counts.COMPACT_ABOVE
    assert health_counts.compact() > health_counts.COMPACT_ABOVE
    assert kept() == before == counted_by_rows() == Counter({(FAILING, False, False): 40})
    assert HealthCount.objects.count() == 1  # the keys that sum to 0 leave no row
    assert health_counts.compact() == 0  # few rows: nothing to fold


@pytest.mark.django_db
def test_install_recounts_from_the_rows(make_pipeline) -> None:
    make_pipeline("p")
    HealthCount.objects.update(n=999)  # as if the counts had drifted (never written by code)
    health_counts.install()
    assert kept() == counted_by_rows()


@pytest.mark.django_db(transaction=True)
def test_truncate_empties_the_counts_postgresql() -> None:
    account = Account.objects.create(name="a", vendor="mixpanel")
    Pipeline.objects.create(account=account, kind="import_connector", external_id="p")
    assert kept() == counted_by_rows() != Counter()
    with connection.cursor() as cur:
        cur.execute("TRUNCATE jobs_account CASCADE")  # what the bench does between sizes
    assert kept() == Counter() == counted_by_rows()


@pytest.mark.django_db(transaction=True)
def test_two_sessions_moving_pipelines_do_not_wait_on_each_other_postgresql() -> None:
    account = Account.objects.create(name="a", vendor="mixpanel")
    first, second = (
        Pipeline.objects.create(account=account, kind="import_connector", external_id=f"p{i}") for i in range(2)
    )
    db = connection.settings_dict
    args = {"host": db["HOST"] or "127.0.0.1", "port": db["PORT"] or 5432, "user": db["USER"], "dbname": db["NAME"]}
    with psycopg.connect(**args) as one, psycopg.connect(**args) as two:
        one.execute("UPDATE jobs_pipeline SET health_status = 'failing' WHERE id = %s", [first.pk])
        two.execute("SET lock_timeout = '2s'")
        two.execute("UPDATE jobs_pipeline SET health_status = 'failing' WHERE id = %s", [second.pk])
        two.commit()  # it did not wait for the first session's open transaction
        one.commit()
    assert kept() == counted_by_rows() == Counter({(FAILING, False, False): 2})
