"""A worker under DEBUG (as `make run` starts it) must not keep every query it ran: Django logs
up to 9,000 per connection and thread, which grew the soak's worker by ~0.4 MB a minute."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import override_settings


@pytest.mark.django_db
def test_a_finished_task_leaves_no_query_log_behind() -> None:
    from celery.signals import task_postrun

    with override_settings(DEBUG=True):
        connection.force_debug_cursor = True
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
            assert len(connection.queries_log) >= 1
            task_postrun.send(sender=None, task_id="t", task=None, args=(), kwargs={}, retval=None, state="SUCCESS")
            assert len(connection.queries_log) == 0
        finally:
            connection.force_debug_cursor = False
