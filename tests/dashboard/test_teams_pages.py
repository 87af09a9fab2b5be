"""Team filter (issue 18, ADR 13): the overview's shared filter takes `team` (a slug or
"mine"), so /failures/ and its API have it too; "My teams" for the signed-in user; the
pipeline JSON names the team and PATCH changes it (operators only, clear 4xx otherwise)."""

import json

import pytest
from django.utils import timezone

from dashboard.auth import issue_token
from jobs import health
from jobs.models import Account, AuditEvent, Pipeline, Team

from ..conftest import csrf_headers, user_with_role
from .test_failures_filters import _fail


@pytest.fixture
def owned(mp_account):
    growth, data = Team.objects.create(slug="growth", name="Growth"), Team.objects.create(slug="data", name="Data")
    mp_account.team = growth
    mp_account.save()
    statsig = Account.objects.create(name="sg-prod", vendor="statsig")
    made = {
        "mp-growth": _fail(mp_account, "mp-growth"),  # the account's team
        "mp-data": _fail(mp_account, "mp-data"),  # overridden below
        "sg-none": _fail(statsig, "sg-none"),  # no team anywhere
    }
    made["mp-data"].team = data
    made["mp-data"].save(update_fields=["team"])
    health.store(Pipeline.objects.select_related("account", "current_run"), timezone.now())
    return {"growth": growth, "data": data, **made}


NAMES = ("mp-growth", "mp-data", "sg-none")


def _overview(client, query: str) -> set[str]:
    html = client.get(f"/?{query}").content.decode()
    return {n for n in NAMES if f">{n}</a>" in html}


def _failures(client, query: str) -> set[str]:
    html = client.get(f"/failures/?{query}").content.decode()
    return {n for n in NAMES if f"boom {n}" in html}


def _api(client, query: str) -> set[str]:
    response = client.get(f"/api/v1/failures/?{query}")
    assert response.status_code == 200, response.content
    return {i["pipeline_name"] for i in response.json()["results"]}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", set(NAMES)),
        ("team=growth", {"mp-growth"}),
        ("team=data", {"mp-data"}),
        ("team=growth&vendor=statsig", set()),
        ("team=nosuch", set()),
    ],
)
def test_team_filter_on_overview_failures_and_api(logged_in, owned, query, expected) -> None:
    assert _overview(logged_in, query) == expected
    assert _failures(logged_in, query) == expected
    assert _api(logged_in, query) == expected


def test_my_teams_follows_membership(client, owned) -> None:
    user = user_with_role("ana", "viewer")
    client.force_login(user)
    assert _overview(client, "team=mine") == set()  # in no team yet: nothing is "mine"
    page = client.get("/").content.decode()
    assert 'name="team"' in page and ">My teams</button>" not in page
    owned["data"].members.add(user)
    owned["growth"].members.add(user)
    assert _overview(client, "team=mine") == {"mp-growth", "mp-data"}
    assert _failures(client, "team=mine") == {"mp-growth", "mp-data"}
    owned["growth"].members.remove(user)
    assert _api(client, "team=mine") == {"mp-data"}
    page = client.get("/?team=mine").content.decode()
    assert 'value="mine" class="quick" title="Pipelines of Data" aria-pressed="true">My teams</button>' in page


def test_pipeline_json_names_the_team(logged_in, owned) -> None:
    results = {p["name"]: p for p in logged_in.get("/api/v1/pipelines/").json()["results"]}
    assert results["mp-growth"]["team"] == {"slug": "growth", "name": "Growth"}
    assert results["mp-data"]["team"] == {"slug": "data", "name": "Data"}
    assert results["sg-none"]["team"] is None and results["sg-none"]["empty_day_is_failure"] is False
    one = logged_in.get(f"/api/v1/pipelines/{owned['mp-data'].uuid}/").json()
    assert one["id"] == str(owned["mp-data"].uuid) and one["team"]["slug"] == "data"


def _patch(client, pipeline: Pipeline, body: object, **headers):
    return client.patch(
        f"/api/v1/pipelines/{pipeline.uuid}/", data=json.dumps(body), content_type="application/json", **headers
    )


def test_operators_patch_team_and_empty_day_option(client, owned) -> None:
    operator = user_with_role("olga", "operator")
    auth = {"HTTP_AUTHORIZATION": f"Bearer {issue_token(operator, scope='operate')}"}
    pipeline = owned["mp-data"]
    answer = _patch(client, pipeline, {"team": "growth", "empty_day_is_failure": True}, **auth)
    assert answer.status_code == 200, answer.content
    assert answer.json()["team"]["slug"] == "growth" and answer.json()["empty_day_is_failure"] is True
    pipeline.refresh_from_db()
    assert pipeline.team == owned["growth"] and pipeline.empty_day_is_failure
    assert AuditEvent.objects.filter(action="pipeline.changed", actor_label="olga").exists()
    answer = _patch(client, pipeline, {"team": None}, **auth)  # back to the account's
    assert answer.status_code == 200 and answer.json()["team"]["slug"] == "growth"
    pipeline.refresh_from_db()
    assert pipeline.team is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"team": "nosuch"}, "team"),
        ({"team": 7}, "team"),
        ({"empty_day_is_failure": "yes"}, "empty_day_is_failure"),
        ({"name": "renamed"}, "name"),
        ([1, 2], None),
    ],
)
def test_bad_patches_are_a_400_that_names_the_field(client, owned, body, field) -> None:
    operator = user_with_role("olga", "operator")
    auth = {"HTTP_AUTHORIZATION": f"Bearer {issue_token(operator, scope='operate')}"}
    answer = _patch(client, owned["mp-data"], body, **auth)
    assert answer.status_code == 400, answer.content
    if field:
        assert field in json.dumps(answer.json())
    pipeline = Pipeline.objects.get(pk=owned["mp-data"].pk)
    assert pipeline.team == owned["data"] and not pipeline.empty_day_is_failure


def test_viewers_cannot_patch(logged_in, owned) -> None:
    answer = _patch(logged_in, owned["mp-data"], {"team": "growth"}, **csrf_headers(logged_in))
    assert answer.status_code == 403
    assert Pipeline.objects.get(pk=owned["mp-data"].pk).team == owned["data"]
