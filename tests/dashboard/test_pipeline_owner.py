"""The pipeline page sets its owning team and the empty-day option (operators): a form post
that returns to the page, audited, with a clear 400 for a team that does not exist."""

import pytest

from jobs.models import AuditEvent, Pipeline, Team

from ..conftest import csrf_headers, user_with_role


@pytest.fixture
def operator_client(client, db):
    client.force_login(user_with_role("op", "operator"))
    return client


def test_an_operator_sets_the_team_and_the_empty_day_option_from_the_page(operator_client, make_pipeline) -> None:
    pipeline = make_pipeline("seed-success")
    growth = Team.objects.create(slug="growth", name="Growth")
    page = operator_client.get(f"/pipelines/{pipeline.uuid}/").content.decode()
    assert 'name="team"' in page and '<option value="growth">Growth</option>' in page
    answer = operator_client.post(
        f"/pipelines/{pipeline.uuid}/owner/",
        {"team": "growth", "empty_day_is_failure": "on"},
        headers=csrf_headers(operator_client),
    )
    assert answer.status_code == 303 and answer["Location"] == f"/pipelines/{pipeline.uuid}/"
    pipeline.refresh_from_db()
    assert (pipeline.team, pipeline.empty_day_is_failure) == (growth, True)
    shown = operator_client.get(f"/pipelines/{pipeline.uuid}/").content.decode()
    assert "team Growth" in shown and "an empty day counts as a failure" in shown
    assert AuditEvent.objects.filter(actor_label="op").exists()
    back = operator_client.post(
        f"/pipelines/{pipeline.uuid}/owner/", {"team": ""}, headers=csrf_headers(operator_client)
    )
    assert back.status_code == 303
    pipeline.refresh_from_db()
    assert (pipeline.team, pipeline.empty_day_is_failure) == (None, False)


def test_an_unknown_team_is_a_400_and_changes_nothing(operator_client, make_pipeline) -> None:
    pipeline = make_pipeline("seed-success")
    answer = operator_client.post(
        f"/pipelines/{pipeline.uuid}/owner/",
        {"team": "nosuch", "empty_day_is_failure": "on"},
        headers=csrf_headers(operator_client),
    )
    assert answer.status_code == 400 and b"no such team" in answer.content
    assert Pipeline.objects.get(pk=pipeline.pk).empty_day_is_failure is False


def test_a_viewer_sees_no_form_and_is_refused(logged_in, make_pipeline) -> None:
    pipeline = make_pipeline("seed-success")
    assert 'name="empty_day_is_failure"' not in logged_in.get(f"/pipelines/{pipeline.uuid}/").content.decode()
    refused = logged_in.post(f"/pipelines/{pipeline.uuid}/owner/", {"team": ""}, headers=csrf_headers(logged_in))
    assert refused.status_code == 403
