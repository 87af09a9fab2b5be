"""A client generated from the committed schema by openapi-python-client (a standard
generator) reads and writes against a live server, with a bearer token."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

from dashboard.auth import issue_token
from jobs.models import Account, Pipeline, Run

from ..conftest import user_with_role

pytestmark = pytest.mark.django_db(transaction=True)
SCHEMA = Path(__file__).resolve().parents[2] / "docs" / "api" / "openapi.json"
GENERATOR = Path(sys.executable).with_name("openapi-python-client")


@pytest.fixture
def pipewatch_client(tmp_path, monkeypatch):
    """The package generated now, from the schema in the repository, and imported."""
    config = tmp_path / "config.yaml"
    config.write_text("package_name_override: pipewatch_client\npost_hooks: []\n")
    out = tmp_path / "pipewatch_client"
    args = ["generate", "--path", str(SCHEMA), "--meta", "none", "--output-path", str(out), "--config", str(config)]
    done = subprocess.run(
        [str(GENERATOR), *args, "--fail-on-warning"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in [m for m in sys.modules if m.startswith("pipewatch_client")]:
        del sys.modules[name]
    return importlib.import_module("pipewatch_client")


def test_a_generated_client_reads_and_writes(live_server, pipewatch_client) -> None:
    from pipewatch_client.api.read import list_pipelines
    from pipewatch_client.api.write import act_on_pipeline, register_run
    from pipewatch_client.models import ActionOut, ActOnPipelineAction, Error, PipelinePage, RegisterRunIn

    account = Account(name="fs", vendor="fullstory", base_url="http://127.0.0.1:9")
    account.credentials = {"api_key": "na1.unused"}
    account.save()
    stream = Pipeline.objects.create(account=account, kind="events_import", external_id="events_import")
    token = issue_token(user_with_role("robot", "operator"), name="client", scope="operate")
    client = pipewatch_client.AuthenticatedClient(base_url=live_server.url, token=token)

    page = list_pipelines.sync(client=client, vendor="fullstory")
    assert isinstance(page, PipelinePage) and [str(p.id) for p in page.results] == [str(stream.uuid)]
    assert page.results[0].kind == "events_import" and page.next_ is None

    registered = register_run.sync_detailed(stream.uuid, client=client, body=RegisterRunIn(external_id="job-7"))
    assert registered.status_code == 201 and isinstance(registered.parsed, ActionOut) and registered.parsed.ok
    assert Run.objects.filter(pipeline=stream, external_id="job-7").exists()

    paused = act_on_pipeline.sync(stream.uuid, ActOnPipelineAction.PAUSE, client=client)
    assert isinstance(paused, ActionOut) and paused.ok
    assert Pipeline.objects.get(pk=stream.pk).paused

    refused = list_pipelines.sync_detailed(client=client, health="sideways")  # the client sends what it is given
    assert refused.status_code == 400 and isinstance(refused.parsed, Error)
    assert refused.parsed.error.code == "invalid" and "health" in refused.parsed.error.fields.to_dict()
