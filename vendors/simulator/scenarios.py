"""Named scenarios: which vendor accounts exist in the simulator and what their jobs do.

`demo` is what `make run` shows: runs that queue, progress, succeed and fail while you
watch, every seed sample verbatim, rate limits, expiry and broken credentials. Each
vendor's part lives in `vendors/<vendor>/simulator.py` (`install_demo`); tests build
their own worlds with the same classes.
"""

from __future__ import annotations

import importlib
import importlib.util
from datetime import timedelta

from ..packages import VENDOR_PACKAGES
from .core import Clock, Simulator


def demo(clock: Clock) -> Simulator:
    """Every vendor's demo world on one server: each vendor package installs its own."""
    sim = Simulator(clock)
    origin = clock.now() - timedelta(minutes=20)
    for package in VENDOR_PACKAGES:
        module = f"vendors.{package}.simulator"
        if importlib.util.find_spec(module) is not None:
            installer = getattr(importlib.import_module(module), "install_demo", None)
            if installer is not None:
                installer(sim, origin)
    return sim


SCENARIOS = {"demo": demo}


def build(name: str, clock: Clock | None = None) -> Simulator:
    try:
        factory = SCENARIOS[name]
    except KeyError:
        raise SystemExit(f"unknown scenario {name!r}; choose from {', '.join(SCENARIOS)}") from None
    return factory(clock or Clock())
