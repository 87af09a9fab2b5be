"""Statsig: warehouse ingestion status per (source, dataset, day) and backfill runs
(VENDORS.md §5). One client: one Console API key per account."""

from .client import StatsigClient

CLIENTS = (StatsigClient,)
