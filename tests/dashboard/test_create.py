"""The create page: the right fields per choice, the vendor's rules first, the answer shown."""

import pytest
from django.contrib.auth.models import Group

from jobs.models import AuditEvent, Pipeline


@pytest.fixture
def operator_client(client, django_user_model):
    user = django_user_model.objects.create_user("op", password="x" * 12)
    user.groups.add(Group.objects.get(name="operator"))
    client.force_login(user)
    return client


@pytest.mark.django_db
def test_viewers_cannot_create(logged_in) -> None:
    assert logged_in.get("/pipelines/new/").status_code == 403


@pytest.mark.django_db
def test_the_fields_follow_the_choice(operator_client, mp_account) -> None:
    what = f"{mp_account.uuid}:export_pipeline"
    page = operator_client.get("/pipelines/new/").content.decode()
    assert what in page and "Mixpanel export pipeline" in page
    types = operator_client.get(f"/pipelines/new/?what={what}", HTTP_HX_REQUEST="true").content.decode()
    assert types.lstrip().startswith('<div id="create-fields"') and 'name="type"' in types and "gcs_bucket" not in types
    gcs = operator_client.get(f"/pipelines/new/?what={what}&type=gcs-raw", HTTP_HX_REQUEST="true").content.decode()
    assert 'name="gcs_bucket"' in gcs and 'name="gcs_region"' in gcs and 'name="s3_role"' not in gcs
    azure = operator_client.get(f"/pipelines/new/?what={what}&type=azure-blob", HTTP_HX_REQUEST="true").content.decode()
    assert 'name="client_secret"' in azure and 'type="password"' in azure


@pytest.mark.django_db
def test_validation_error_first_then_success(product_at_t0, operator_client, mp_account, sim) -> None:
    what = f"{mp_account.uuid}:export_pipeline"
    bad = operator_client.post(
        "/pipelines/new/",
        {
            "what": what,
            "type": "gcs-raw",
            "from_date": "2020-01-01",
            "gcs_bucket": "b",
            "gcs_region": "us-east1",
            "gcs_prefix": "p",
        },
        HTTP_HX_REQUEST="true",
    )
    html = bad.content.decode()
    assert bad.status_code == 200 and "6 months" in html and 'class="field has-error"' in html
    assert not Pipeline.objects.filter(kind="export_pipeline").exists()
    from datetime import timedelta

    from ..conftest import T0

    # Pipewatch's clock and the simulator's both read T0 (product_at_t0), whatever today is.
    ok = operator_client.post(
        "/pipelines/new/",
        {
            "what": what,
            "type": "gcs-raw",
            "from_date": str(T0.date() - timedelta(days=3)),
            "gcs_bucket": "b",
            "gcs_region": "us-east1",
            "gcs_prefix": "p",
        },
        HTTP_HX_REQUEST="true",
    )
    created = Pipeline.objects.get(kind="export_pipeline")
    assert ok["HX-Redirect"] == f"/pipelines/{created.uuid}/"
    assert AuditEvent.objects.filter(action="pipeline.create", outcome="ok").exists()
    assert AuditEvent.objects.filter(action="pipeline.create", outcome="invalid").exists()


@pytest.mark.django_db
def test_upload_is_previewed_then_split_into_jobs(operator_client, monkeypatch) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    from jobs.models import Account, Run
    from vendors.fullstory import imports as fs_client
    from vendors.fullstory.simulator import FullStoryWorld
    from vendors.simulator.core import SimServer, Simulator

    monkeypatch.setattr(fs_client, "BATCH_LIMIT", 100)
    sim = Simulator()
    FullStoryWorld(keys={"k"}).install(sim)
    server = SimServer(sim).start()
    try:
        account = Account(name="fs", vendor="fullstory", base_url=server.url)
        account.credentials = {"api_key": "k"}
        account.save()
        what = f"{account.uuid}:events_import"
        data = b"\n".join(b'{"name": "Viewed", "n": %d}' % i for i in range(250))
        preview = operator_client.post(
            "/pipelines/new/",
            {"what": what, "preview": "1", "requests": SimpleUploadedFile("events.ndjson", data)},
            HTTP_HX_REQUEST="true",
        )
        assert "250 rows read: 3 batch import jobs will be created." in preview.content.decode()
        assert not Run.objects.exists()
        bad = operator_client.post(
            "/pipelines/new/",
            {"what": what, "requests": SimpleUploadedFile("e.json", b'{"a": 1}\n{"a": \n')},
            HTTP_HX_REQUEST="true",
        )
        assert "line 2 is not valid JSON" in bad.content.decode()
        done = operator_client.post(
            "/pipelines/new/",
            {"what": what, "requests": SimpleUploadedFile("events.ndjson", data)},
            HTTP_HX_REQUEST="true",
        )
        assert done.status_code == 200 and done["HX-Redirect"].startswith("/pipelines/")
        assert Run.objects.count() == 3
    finally:
        server.stop()


@pytest.mark.django_db
def test_micro_csv_upload_imports_at_once(operator_client) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    from jobs.models import Account, Run
    from vendors.micro.simulator import MicroWorld
    from vendors.simulator.core import SimServer, Simulator

    team = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
    sim = Simulator()
    MicroWorld(teams={team: "k"}).install(sim)
    server = SimServer(sim).start()
    try:
        account = Account(name="mi", vendor="micro", base_url=server.url, settings={"team_id": team})
        account.credentials = {"api_key": "k"}
        account.save()
        csv = b"email,name\na@x.io,A\nb@x.io,B\nc@x.io,C\n"
        form = {"what": f"{account.uuid}:import", "object_type": "contact", "dedupe_by": "email"}
        preview = operator_client.post(
            "/pipelines/new/",
            {**form, "preview": "1", "rows": SimpleUploadedFile("p.csv", csv)},
            HTTP_HX_REQUEST="true",
        )
        assert "3 rows read: imported at once (synchronously)." in preview.content.decode()
        done = operator_client.post(
            "/pipelines/new/", {**form, "rows": SimpleUploadedFile("p.csv", csv)}, HTTP_HX_REQUEST="true"
        )
        assert done["HX-Redirect"].startswith("/pipelines/")
        run = Run.objects.get()
        assert run.state == "succeeded" and run.items_count == 3
    finally:
        server.stop()
