"""Filters, cursor pages and the error envelope of /api/v1/, on PostgreSQL through the views."""

from datetime import UTC, datetime, timedelta

import pytest

from jobs.models import Account, Pipeline, Run

PIPELINES = "/api/v1/pipelines/"


def _ids(client, query: str) -> set[str]:
    response = client.get(f"{PIPELINES}?{query}")
    assert response.status_code == 200, response.content
    return {p["external_id"] for p in response.json()["results"]}


@pytest.fixture
def world(polled):
    statsig = Account.objects.create(name="sg-prod", vendor="statsig")
    Pipeline.objects.create(account=statsig, kind="export_pipeline", external_id="sg-export", name="Nightly export")
    return polled


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", {"seed-queued", "seed-running", "seed-success", "seed-failed", "sg-export"}),
        ("health=failing", {"seed-failed"}),
        ("health=running", {"seed-running", "seed-queued"}),
        ("vendor=statsig", {"sg-export"}),
        ("vendor=nosuch", set()),
        ("account=mp-test&health=healthy", {"seed-success"}),
        ("kind=export", {"sg-export"}),
        ("kind=import", {"seed-queued", "seed-running", "seed-success", "seed-failed"}),
        ("kind=export_pipeline", {"sg-export"}),
        ("q=nightly", {"sg-export"}),
        ("q=seed-su", {"seed-success"}),
    ],
)
def test_pipeline_filters(logged_in, world, query, expected) -> None:
    assert _ids(logged_in, query) == expected


@pytest.mark.parametrize(
    ("url", "field"),
    [
        (f"{PIPELINES}?health=sideways", "health"),
        (f"{PIPELINES}?kind=sideways", "kind"),
        (f"{PIPELINES}?limit=ten", "limit"),
        (f"{PIPELINES}?cursor=not-a-cursor", "cursor"),
        (f"{PIPELINES}?offset=-1", "offset"),
        ("/api/v1/failures/?acknowledged=maybe", "acknowledged"),
        ("/api/v1/failures/?kind=sideways", "kind"),
        ("/api/v1/pipelines/not-a-uuid/runs/", "pipeline_uuid"),
    ],
)
def test_an_invalid_value_is_a_400_naming_the_field(logged_in, world, url, field) -> None:
    response = logged_in.get(url)
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "invalid" and set(error["fields"]) == {field} and field in error["message"]


def _runs(pipeline: Pipeline) -> list[Run]:
    base = datetime(2026, 1, 1, tzinfo=UTC)
    return [
        Run.objects.create(
            pipeline=pipeline,
            external_id=f"r{i}",
            state="failed" if i % 3 == 0 else "succeeded",
            sort_at=base + timedelta(hours=i // 2),  # pairs share a start: the id breaks the tie
        )
        for i in range(10)
    ]


def test_runs_by_state_and_period(logged_in, world) -> None:
    pipeline = world["seed-success"]
    _runs(pipeline)
    url = f"/api/v1/pipelines/{pipeline.uuid}/runs/"

    def got(query: str) -> list[str]:
        response = logged_in.get(f"{url}?{query}")
        assert response.status_code == 200, response.content
        return [r["external_id"] for r in response.json()["results"] if r["external_id"].startswith("r")]

    assert got("state=failed") == ["r9", "r6", "r3", "r0"]
    assert got("since=2026-01-01T02:00:00Z&until=2026-01-01T04:00:00Z") == ["r7", "r6", "r5", "r4"]
    assert got("since=2026-01-01T03:00:00%2B01:00&until=2026-01-01T03:00:00Z") == ["r5", "r4"]  # 02:00 UTC on
    for query, field in [
        ("state=lost", "state"),
        ("since=yesterday", "since"),
        ("since=2026-01-01T00:00:00", "since"),  # no zone: ambiguous
        ("since=2026-01-02T00:00:00Z&until=2026-01-01T00:00:00Z", "until"),
    ]:
        response = logged_in.get(f"{url}?{query}")
        assert response.status_code == 400 and set(response.json()["error"]["fields"]) == {field}, query


def test_cursor_pages_neither_repeat_nor_skip_when_rows_arrive(logged_in, world) -> None:
    """Keyset cursors: a run added on top, and one deleted, between pages change nothing after."""
    pipeline = world["seed-success"]
    runs = _runs(pipeline)
    url = f"/api/v1/pipelines/{pipeline.uuid}/runs/?state=succeeded&limit=2"
    first = logged_in.get(url).json()
    assert [r["external_id"] for r in first["results"]] == ["r8", "r7"]
    newest = datetime(2027, 1, 1, tzinfo=UTC)
    Run.objects.create(pipeline=pipeline, external_id="newest", state="succeeded", sort_at=newest)
    Run.objects.filter(pk=runs[8].pk).delete()  # already seen
    seen = [r["external_id"] for r in first["results"]]
    following = first["next"]
    while following:
        assert "cursor=" in following and "state=succeeded" in following
        page = logged_in.get(following).json()
        seen += [r["external_id"] for r in page["results"]]
        following = page["next"]
    assert seen == ["r8", "r7", "r5", "r4", "r2", "r1", "t:2020-09-16T07:00:00+00:00"][: len(seen)]
    assert "newest" not in seen and len(seen) == len(set(seen))


def test_pipeline_cursor_walks_the_whole_list(logged_in, world) -> None:
    seen, following = [], f"{PIPELINES}?limit=2"
    while following:
        page = logged_in.get(following).json()
        seen += [p["external_id"] for p in page["results"]]
        following = page["next"]
    assert sorted(seen) == sorted(_ids(logged_in, "")) and len(seen) == 5


def test_a_cursor_of_another_list_is_a_400(logged_in, world) -> None:
    pipeline = world["seed-success"]
    _runs(pipeline)
    runs_next = logged_in.get(f"/api/v1/pipelines/{pipeline.uuid}/runs/?limit=1").json()["next"]
    cursor = runs_next.split("cursor=")[1].split("&")[0]
    response = logged_in.get(f"{PIPELINES}?cursor={cursor}")
    assert response.status_code == 400 and set(response.json()["error"]["fields"]) == {"cursor"}
    both = logged_in.get(f"{PIPELINES}?cursor={cursor}&offset=1")
    assert both.status_code == 400


def test_every_refusal_is_the_envelope(api_client, logged_in, world) -> None:
    unknown = logged_in.get("/api/v1/pipelines/00000000-0000-0000-0000-000000000000/runs/")
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "not_found"
    nowhere = logged_in.get("/api/v1/nothing-here/")
    assert nowhere.status_code == 404 and nowhere.json()["error"]["code"] == "not_found"
    wrong_method = logged_in.delete(PIPELINES)
    assert wrong_method.status_code == 405 and wrong_method["Allow"] == "GET"
    assert wrong_method.json()["error"]["code"] == "method_not_allowed"
    anonymous = api_client.get(PIPELINES)
    assert anonymous.status_code == 401 and anonymous.json()["error"]["code"] == "unauthenticated"
    viewer_write = logged_in.post(f"/api/v1/pipelines/{world['seed-failed'].uuid}/actions/pause/")
    assert viewer_write.status_code == 403 and viewer_write.json()["error"]["code"] == "role_required"
    for response in (unknown, nowhere, wrong_method, anonymous, viewer_write):
        assert set(response.json()) == {"error"} and response.json()["error"]["message"]
