"""jobs.health.condition: one answer to "what is wrong?" for the failures page, the API and
the alerts (issue 16). Unsaved rows, no database: the account's and pipeline's poll errors,
the current run and its flags decide it."""

from __future__ import annotations

import pytest

from jobs import health
from jobs.models import Account, Health, Pipeline, Run
from jobs.vocabulary import (
    ALERTED,
    CONDITION_OF,
    FAILING,
    HEALTH_OF,
    HEALTHS,
    HEALTHY,
    LATE,
    OK,
    PAUSED,
    RUNNING,
    STUCK,
    TROUBLE,
    UNKNOWN,
    Condition,
)


def pipeline(*, account_error: str = "", errors: int = 5, pipeline_error: str = "", run: Run | None = None) -> Pipeline:
    account = Account(name="a", vendor="mixpanel", poll_error_kind=account_error, consecutive_errors=errors)
    account.poll_error_message = "says why" if account_error else ""
    p = Pipeline(account=account, kind="import_connector", external_id="p", poll_error_kind=pipeline_error)
    p.current_run = run
    return p


FAILED_RUN = Run(external_id="r", state="failed")
PARTIAL_RUN = Run(external_id="r", state="failed", flags=["partial"])
# Succeeded with failed rows (Micro, PostHog): the pipeline fails only by an older missing day.
SUCCEEDED_PARTIAL = Run(external_id="r", state="succeeded", flags=["partial"])


@pytest.mark.parametrize(
    ("status", "made", "incident", "alert"),
    [
        (FAILING, {"run": FAILED_RUN}, Condition.FAILED, Condition.FAILED),
        (FAILING, {"run": PARTIAL_RUN}, Condition.PARTIAL, Condition.PARTIAL),
        (FAILING, {"run": SUCCEEDED_PARTIAL}, Condition.FAILED, Condition.FAILED),
        (STUCK, {}, Condition.STUCK, Condition.STUCK),
        (LATE, {}, Condition.LATE, Condition.LATE),
        (UNKNOWN, {"account_error": "auth"}, Condition.CREDENTIALS, Condition.CREDENTIALS),
        # One 429 is routine; a run of them, or an outage, keeps us from seeing: shown, not alerted.
        (UNKNOWN, {"account_error": "rate_limited", "errors": 4}, Condition.UNPOLLABLE, None),
        (UNKNOWN, {"account_error": "transient"}, Condition.UNPOLLABLE, None),
        (UNKNOWN, {"pipeline_error": "not_found"}, Condition.UNPOLLABLE, None),
        (UNKNOWN, {}, None, None),  # waiting for a first poll: nothing to say, nothing to take back
        (HEALTHY, {"account_error": "rate_limited", "errors": 1}, None, OK),
        (RUNNING, {}, None, OK),
        (PAUSED, {}, None, OK),
    ],
)
def test_incidents_and_alerts_name_trouble_alike(status, made, incident, alert) -> None:
    p = pipeline(**made)
    assert health.condition(p, Health(status)) == incident
    assert health.alert_condition(p, Health(status)) == alert
    if incident is not None:
        assert HEALTH_OF[incident] == (FAILING if status == FAILING else status)


def test_the_word_lists_fit_together() -> None:
    assert set(HEALTH_OF) == set(Condition) and set(HEALTH_OF.values()) <= set(HEALTHS)
    assert tuple(CONDITION_OF) == TROUBLE  # every health in trouble is counted under a condition
    assert Condition.UNPOLLABLE not in ALERTED and set(ALERTED) < set(Condition)
