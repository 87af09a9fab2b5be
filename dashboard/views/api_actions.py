"""What each pipeline action does, by its name in URLs: the API (dashboard/apiv1/writes.py)
and the pages' buttons (dashboard/views/actions.py) share it."""

from __future__ import annotations

from jobs import actions

ACTIONS = {
    "cancel": lambda p, u: actions.cancel(p, u),
    "pause": lambda p, u: actions.set_monitoring_paused(p, True, u),
    "resume": lambda p, u: actions.set_monitoring_paused(p, False, u),
    "vendor-pause": lambda p, u: actions.set_vendor_paused(p, True, u),
    "vendor-resume": lambda p, u: actions.set_vendor_paused(p, False, u),
    "run-now": lambda p, u: actions.run_now(p, u),
    "poll": lambda p, u: actions.poll_pipeline_now(p, u),
}
