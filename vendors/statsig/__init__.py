"""Statsig: warehouse ingestion status per (source, dataset, day) and backfill runs
(VENDORS.md §5). One client: one Console API key per account."""
# The client is listed in client.py's CLIENTS: importing the package (its simulator) loads no client code.
