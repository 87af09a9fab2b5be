"""The create form as people fill it: values kept when the fields are redrawn, errors in the
form's words, names that say what was created, the backfill's days on its pipeline page."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group

from dashboard.create import CreateForm
from jobs.models import Pipeline, Run
from jobs.naming import default_name, stream_name
from jobs.polling import client_for_account
from vendors.mixpanel.nessie_spec import form_fields

from ..jobs.test_statsig_engine import TODAY, statsig  # noqa: F401  (the fixture)

pytestmark = pytest.mark.django_db
START, END = str(TODAY - timedelta(days=7)), str(TODAY - timedelta(days=1))


@pytest.fixture
def operator(client, django_user_model):
    user = django_user_model.objects.create_user("op", password="x" * 12)
    user.groups.add(Group.objects.get(name="operator"))
    client.force_login(user)
    return client


def test_choosing_a_warehouse_keeps_the_typed_dates(operator, statsig) -> None:  # noqa: F811
    account, _, _ = statsig
    query = f"what={account.uuid}:backfill&type=bigquery-v2&datestamp_start={START}&datestamp_end={END}&source=s1"
    html = operator.get(f"/pipelines/new/?{query}", HTTP_HX_REQUEST="true").content.decode()
    assert f'value="{START}"' in html and f'value="{END}"' in html and 'value="s1"' in html
    assert '<option value="bigquery-v2" selected>' in html
    assert 'hx-include="closest form"' in html and 'hx-params="not csrfmiddlewaretoken"' in html


def test_secrets_and_files_are_not_sent_when_fields_are_redrawn() -> None:
    form = CreateForm(form_fields("azure-blob"))
    assert "client_secret" in form.unsent.split(",")
    html = CreateForm(form_fields("azure-blob"), initial={"client_secret": "hunter2"}).as_p()
    assert "hunter2" not in html


def test_errors_name_labels_not_keys(operator, statsig) -> None:  # noqa: F811
    account, _, _ = statsig
    answer = operator.post(
        "/pipelines/new/",
        {
            "what": f"{account.uuid}:backfill",
            "datestamp_start": END,
            "datestamp_end": START,
            "type": "bigquery-v2",
            "dataset": "Events",
        },
        HTTP_HX_REQUEST="true",
    )
    html = answer.content.decode()
    error = html.split('id="id_datestamp_end-error"')[1].split("</p>")[0]
    assert "must be on or after First day" in error and "datestamp" not in error
    form = CreateForm(client_for_account(account).create_fields("backfill", {}))
    assert form.readable("table_name", "is required") == "table name: is required"


def test_a_backfill_is_named_and_its_days_show_on_its_pipeline(operator, statsig) -> None:  # noqa: F811
    account, _, _ = statsig
    answer = operator.post(
        "/pipelines/new/",
        {
            "what": f"{account.uuid}:backfill",
            "datestamp_start": START,
            "datestamp_end": END,
            "type": "bigquery-v2",
            "dataset": "Events",
        },
    )
    pipeline = Pipeline.objects.get(kind="backfill")
    assert answer.status_code == 302 and answer["Location"] == f"/pipelines/{pipeline.uuid}/"
    assert pipeline.name == "Statsig backfills"
    run = Run.objects.get(pipeline=pipeline)
    assert run.label == f"Statsig backfill Events {START}..{END} (bigquery-v2)"
    page = operator.get(f"/pipelines/{pipeline.uuid}/").content.decode()
    assert f"Events {START}..{END}" in page
    assert f"Events {START}..{END}" in operator.get(f"/runs/{run.uuid}/").content.decode()


def test_default_names() -> None:
    spec = {"type": "gcs-raw", "data_source": "events", "from_date": "2026-11-01"}
    assert default_name("mixpanel", "Mixpanel", "export_pipeline", spec) == (
        "Mixpanel export pipeline events from 2026-11-01 (gcs-raw)"
    )
    assert default_name("micro", "Micro", "import", {"object_type": "people"}) == "Micro import people"
    one_day = {"datestamp_start": "2026-11-01", "datestamp_end": "2026-11-01", "dataset": "Metrics"}
    assert default_name("statsig", "Statsig", "backfill", one_day) == "Statsig backfill Metrics 2026-11-01"
    assert stream_name("FullStory", "users_import") == "FullStory users imports"
    assert len(default_name("x", "X", "k", {"dataset": "d" * 500})) == 200
