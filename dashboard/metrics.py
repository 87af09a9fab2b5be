"""Prometheus metrics, read from the database at scrape time.

Workers come and go on several machines; counting in their memory would lose data on
every restart and need aggregation. The database already holds the truth (pipelines,
runs, poll attempts), so one collector reads it, in a constant number of queries."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

from django.db.models import Count
from django.utils import timezone
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector

from jobs.models import Pipeline, PollAttempt, Run
from jobs.vocabulary import HEALTHS

LATENCY_BUCKETS_MS = (50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000)
LATENCY_WINDOW = timedelta(minutes=15)


class PipewatchCollector(Collector):
    def collect(self) -> Iterator[object]:
        now = timezone.now()
        by_health = GaugeMetricFamily("pipewatch_pipelines", "Pipelines by derived health", labels=["health"])
        last_success = GaugeMetricFamily(
            "pipewatch_pipeline_last_success_timestamp_seconds",
            "Last successful run finish time",
            labels=["pipeline", "vendor", "kind", "account"],
        )
        progress = GaugeMetricFamily(
            "pipewatch_pipeline_progress_ratio",
            "Progress of the current run (0..1)",
            labels=["pipeline", "vendor", "kind", "account"],
        )
        counts = dict.fromkeys(HEALTHS, 0)
        for p in Pipeline.objects.select_related("account", "current_run").only(
            "uuid",
            "name",
            "external_id",
            "kind",
            "paused",
            "poll_error_kind",
            "poll_error_message",
            "last_polled_at",
            "last_success_at",
            "account__name",
            "account__vendor",
            "account__poll_error_kind",
            "account__poll_error_message",
            "account__consecutive_errors",
            "current_run__state",
            "current_run__progress",
            "current_run__last_change_at",
            "current_run__vendor_status",
            "current_run__error_message",
        ):
            counts[p.health(now).status] += 1
            labels = [str(p.uuid), p.account.vendor, p.kind, p.account.name]
            if p.last_success_at:
                last_success.add_metric(labels, p.last_success_at.timestamp())
            if p.current_run and p.current_run.progress is not None:
                progress.add_metric(labels, p.current_run.progress)
        for health, n in counts.items():
            by_health.add_metric([health], n)
        yield by_health
        yield last_success
        yield progress

        runs = GaugeMetricFamily("pipewatch_runs", "Runs by state", labels=["state"])
        for row in Run.objects.values("state").annotate(n=Count("id")).order_by():
            runs.add_metric([row["state"]], row["n"])
        yield runs

        errors = CounterMetricFamily("pipewatch_poll_errors", "Poll attempts that failed, by kind", labels=["kind"])
        for row in PollAttempt.objects.exclude(outcome="ok").values("outcome").annotate(n=Count("id")).order_by():
            errors.add_metric([row["outcome"]], row["n"])
        yield errors

        yield self._latency(now)

    def _latency(self, now: object) -> HistogramMetricFamily:
        durations = list(PollAttempt.objects.filter(at__gte=now - LATENCY_WINDOW).values_list("duration_ms", flat=True))
        buckets = []
        for bound in LATENCY_BUCKETS_MS:
            buckets.append((str(bound / 1000), sum(1 for d in durations if d <= bound)))
        buckets.append(("+Inf", len(durations)))
        return HistogramMetricFamily(
            "pipewatch_poll_duration_seconds",
            f"Vendor poll latency over the last {int(LATENCY_WINDOW.total_seconds() // 60)} minutes",
            buckets=buckets,
            sum_value=sum(durations) / 1000,
        )
