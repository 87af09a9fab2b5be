"""Claims: two ticks or a tick and `manage.py poll` never poll one account at once."""

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from jobs import scheduling, tasks
from jobs.models import Account


@pytest.mark.django_db
def test_only_one_claim_wins(mp_account, make_pipeline) -> None:
    make_pipeline("seed-running")
    now = timezone.now()
    first = scheduling.claim(mp_account.pk, now)
    second = scheduling.claim(mp_account.pk, now)
    assert first is not None and second is None
    scheduling.release(mp_account.pk, first)
    assert scheduling.claim(mp_account.pk, now) is not None


@pytest.mark.django_db
def test_an_expired_lease_can_be_taken_over(mp_account) -> None:
    now = timezone.now()
    assert scheduling.claim(mp_account.pk, now)
    later = now + timedelta(seconds=3600)
    assert scheduling.claim(mp_account.pk, later) is not None


@pytest.mark.django_db
def test_backing_off_accounts_are_not_due(mp_account, make_pipeline) -> None:
    make_pipeline("seed-running")
    now = timezone.now()
    Account.objects.filter(pk=mp_account.pk).update(backoff_until=now + timedelta(seconds=60))
    assert scheduling.claim_due(now)[1] == []
    assert scheduling.claim(mp_account.pk, now) is None
    token = scheduling.claim(mp_account.pk, now, ignore_backoff=True)  # "poll now" is not held back
    assert token is not None
    scheduling.release(mp_account.pk, token)
    assert scheduling.claim_due(now + timedelta(seconds=61))[1] == [mp_account.pk]  # the backoff is over


@pytest.mark.django_db
def test_a_tick_claims_every_due_free_account_in_one_batch(mp_account, make_pipeline) -> None:
    from jobs import polling

    now = timezone.now()
    others = []
    for name in ("due-too", "not-due", "held"):
        account = Account(name=name, vendor="mixpanel", base_url=mp_account.base_url, settings=mp_account.settings)
        account.credentials = {"username": "svc", "secret": "s3cret"}
        account.save()
        others.append(account)
    due_too, not_due, held = others
    make_pipeline("seed-running")
    make_pipeline("seed-success", account=due_too)
    make_pipeline("seed-failed", account=not_due, next_poll_at=now + timedelta(minutes=5))
    Account.objects.filter(pk=not_due.pk).update(next_discovery_at=now + timedelta(hours=1))
    make_pipeline("seed-queued", account=held)
    held_token = scheduling.claim(held.pk, now)

    token, claimed = scheduling.claim_due(now)
    assert claimed == sorted([mp_account.pk, due_too.pk])
    assert scheduling.claim_due(now)[1] == []  # all taken: a second tick finds nothing
    assert Account.objects.get(pk=held.pk).lease_token == held_token  # someone else's lease kept
    summary = polling.poll_claimed(due_too.pk, token)  # the batch's token is each account's lease
    assert summary is not None and summary.outcome == "ok"
    assert Account.objects.get(pk=due_too.pk).lease_token is None
    assert Account.objects.get(pk=mp_account.pk).lease_token == token  # still polling


@pytest.mark.django_db
def test_stale_task_does_nothing(mp_account, make_pipeline) -> None:
    from jobs import polling

    make_pipeline("seed-running")
    token = scheduling.claim(mp_account.pk, timezone.now())
    scheduling.release(mp_account.pk, token)
    assert polling.poll_claimed(mp_account.pk, token) is None  # lease gone: a redelivered task is a no-op


@pytest.mark.django_db(transaction=True)
def test_concurrent_ticks_enqueue_each_account_once(mp_account, make_pipeline, monkeypatch) -> None:
    make_pipeline("seed-running")
    enqueued: list[int] = []
    # The tick hands its claims to workers in shards (ADR 14): what the shards carry is what gets polled.
    monkeypatch.setattr(tasks.poll_shard, "delay", lambda token, account_ids: enqueued.extend(account_ids))
    barrier = threading.Barrier(4)

    def run_tick() -> None:
        barrier.wait()
        try:
            tasks.tick()
        finally:
            connection.close()

    threads = [threading.Thread(target=run_tick) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert enqueued == [mp_account.pk]


@pytest.mark.parametrize(
    ("errors", "retry_after", "expected"), [(1, None, 15), (2, None, 30), (3, 100, 100), (30, None, 1800)]
)
def test_error_backoff(settings, errors, retry_after, expected) -> None:
    settings.POLL_ACTIVE_SECONDS, settings.POLL_ERROR_BACKOFF_MAX_SECONDS = 15, 1800
    assert scheduling.error_backoff(errors, retry_after) == expected


def _queued(queue: str) -> int:
    import redis
    from django.conf import settings

    return redis.Redis.from_url(settings.REDIS_URL).llen(queue)


@pytest.mark.django_db
def test_a_real_tick_queues_its_tasks_in_redis(mp_account) -> None:
    tasks.tick()
    assert _queued("alerts") >= 1 and _queued("polling") == 1  # send_alerts, and the account's poll


def test_the_next_test_inherits_no_queued_task() -> None:
    """The test above left work in Redis; tests/conftest.py's cleanup took it away."""
    assert _queued("alerts") == _queued("polling") == 0
