"""One vocabulary (jobs/vocabulary.py, issue 16): the overview, the API schema, the metrics,
the alerts and the docs all say the same words, in the same order; none keeps its own list."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings

from dashboard.apiv1.app import api
from dashboard.metrics import PipewatchCollector
from dashboard.presenters import counts_by_health
from dashboard.templatetags.pipewatch import pill
from jobs import payload
from jobs.failures import hint_for
from jobs.models import AlertChannel, AlertEvent, Pipeline, PollAttempt
from jobs.vocabulary import ALERTED, EVENTS, HEALTHS, OK, Condition, HealthStatus, meaning
from vendors import base as vb
from vendors.normalizing import classify_message
from vendors.registry import VENDORS

DOCS = Path(settings.BASE_DIR) / "docs"


def words(text: str) -> list[str]:
    return re.findall(r"`([a-z_]+)`", text)


def bullet(doc: str, name: str) -> str:
    """The text of the docs/api.md "Words" bullet for `name`, up to its first colon's sentence."""
    found = re.search(rf"^- \*\*{name}\*\* .*?:(.*?)(?:\.\s|\Z)", doc, re.M | re.S)
    assert found, name
    return found.group(1)


@pytest.mark.django_db
def test_health_is_one_list_for_pages_api_metrics_and_docs() -> None:
    assert tuple(counts_by_health(Pipeline.objects.all(), {})) == HEALTHS
    by_health = next(iter(PipewatchCollector().collect()))
    assert tuple(s.labels["health"] for s in by_health.samples) == HEALTHS
    schema = api.get_openapi_schema()
    (param,) = [p for p in schema["paths"]["/api/v1/pipelines/"]["get"]["parameters"] if p["name"] == "health"]
    assert tuple(param["schema"]["anyOf"][0]["enum"]) == HEALTHS
    assert tuple(schema["components"]["schemas"]["PipelineOut"]["properties"]["health"]["enum"]) == HEALTHS
    assert tuple(words(bullet((DOCS / "api.md").read_text(), "health"))) == HEALTHS
    for status in HealthStatus:
        assert f"> {status.label}</span>" in pill(status.value)


def test_incidents_and_alerts_share_their_words() -> None:
    schema = api.get_openapi_schema()
    assert tuple(schema["components"]["schemas"]["IncidentOut"]["properties"]["what"]["enum"]) == tuple(Condition)
    assert tuple(words(bullet((DOCS / "api.md").read_text(), "what"))[: len(Condition)]) == tuple(Condition)
    assert AlertChannel.EVENTS == EVENTS == (*ALERTED, "recovered")
    assert tuple(v for v, _ in AlertEvent._meta.get_field("kind").choices) == EVENTS
    alerted = Pipeline._meta.get_field("alerted_condition").choices
    assert tuple(v for v, _ in alerted) == (OK, *ALERTED)
    assert all(payload.severity(e) in ("failure", "warning", "success") for e in EVENTS)
    row = re.search(r"^\| `event` \| string \| (.*?):", (DOCS / "alert-payload.md").read_text(), re.M)
    assert row and tuple(words(row.group(1))) == EVENTS
    # Every word has its colour on the pages: the incident's card, the health pills.
    css = (Path(settings.BASE_DIR) / "static" / "css" / "app.css").read_text()
    assert all(f".incident-{c}" in css for c in Condition) and all(f".pill-{h}" in css for h in HEALTHS)


def test_one_word_for_each_error_kind() -> None:
    # A vendor's "too many requests" and our 429 are the same thing, said once.
    assert classify_message("429 Too Many Requests: quota exceeded") == "rate_limited"
    assert vb.RateLimited.kind == "rate_limited" and "rate_limit" not in vb.ErrorKind.__members__.values()
    assert set(vb.ERROR_KINDS) | set(vb.POLL_ERROR_KINDS) < set(vb.ErrorKind)
    outcomes = {v for v, _ in PollAttempt._meta.get_field("outcome").choices}
    assert outcomes - {"ok"} <= set(vb.ErrorKind)
    # Every kind but "unknown" says whose problem it is; every account-wide poll error says what broke.
    for kind in vb.ErrorKind:
        assert (meaning(kind).whose == "unknown") == (kind == vb.ErrorKind.UNKNOWN), kind
    for error in (vb.AuthError, vb.RateLimited, vb.Transient):
        assert meaning(error.kind).problem != "Cannot poll"
    # Vendor hints are keyed by the same words.
    for cls in VENDORS.values():
        assert {kind for _, kind in cls.hints} <= set(vb.ErrorKind) | set(Condition)
    assert hint_for("rate_limited") == meaning(vb.ErrorKind.RATE_LIMITED).hint != ""
    assert tuple(words(bullet((DOCS / "api.md").read_text(), "error kind"))[: len(vb.ErrorKind)]) == tuple(vb.ErrorKind)
