"""Asking a vendor session about one target, as the tests of one kind do."""

from __future__ import annotations

from vendors.base import Target, TargetResult
from vendors.client import VendorClient


def poll_one(client: VendorClient, target: Target) -> TargetResult:
    """The target's result from the session's one entry point; its error raised."""
    [result] = [r for r in client.poll([target]) if r.target.key == target.key]
    if result.error is not None:
        raise result.error
    return result


def discover(client: VendorClient) -> list[TargetResult]:
    """Every pipeline the vendor lists (an account-wide error raised)."""
    results = client.poll([], discover=True)
    for result in results:
        if result.error is not None:
            raise result.error
    return results
