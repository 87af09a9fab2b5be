"""What the Mixpanel simulator judges requests by: Mixpanel's published specs (spec/), and
the seed's documents transcribed as OpenAPI (spec/seed-2020/). A request either accepts
passes. Nothing here comes from the client: the client follows the same files on its own.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from ..simulator.core import SimRequest
from ..simulator.openapi_check import Check, OpenApiSpec

SPEC_DIR = Path(__file__).parent / "spec"
CURRENT = (
    "data-pipelines.openapi.yaml",
    "warehouse-connectors.openapi.yaml",
    "legacy-2024/connectors.openapi.yaml",
)
SEED = ("seed-2020/data-pipelines.openapi.yaml", "seed-2020/connector-history.openapi.yaml")


@cache
def specs() -> tuple[OpenApiSpec, ...]:
    """The current specs first: their complaint is the one a refused request hears."""
    return tuple(OpenApiSpec(SPEC_DIR / name, closed_bodies=True) for name in (*CURRENT, *SEED))


def judge(req: SimRequest) -> Check | None:
    """None when no spec describes the request; else the first spec's verdict, or a clean
    one as soon as any spec accepts it (where the seed and the spec differ, both are fine)."""
    first: Check | None = None
    for spec in specs():
        check = spec.check(req)
        if check is None:
            continue
        if not check.problems:
            return check
        first = first or check
    return first
