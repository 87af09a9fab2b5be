"""The Celery app: `CELERY_` settings namespace and task autodiscovery (celery's Django example)."""

from __future__ import annotations

import os

from celery import Celery
from celery.signals import task_postrun

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")

app = Celery("pipewatch")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.on_after_configure.connect
def _schedule(sender: Celery, **kwargs: object) -> None:
    from celery.schedules import crontab
    from django.conf import settings

    # One tick claims whatever is due; the tick itself is cheap and idempotent.
    sender.add_periodic_task(settings.POLL_TICK_SECONDS, sender.signature("jobs.tasks.tick"), name="poll tick")
    sender.add_periodic_task(
        crontab(hour=3, minute=17), sender.signature("jobs.tasks.housekeeping"), name="housekeeping"
    )
    # Hourly and cheap (a catalog read): the coming days exist before their rows, strays move soon (ADR 17).
    sender.add_periodic_task(crontab(minute=41), sender.signature("jobs.tasks.make_partitions"), name="make partitions")


@task_postrun.connect
def _forget_debug_queries(**kwargs: object) -> None:
    # With DEBUG (make run) Django keeps each thread's last 9,000 queries: ~100 MB over hours.
    from django.db import reset_queries

    reset_queries()
