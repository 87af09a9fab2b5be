"""Production settings pass `check --deploy`; every page carries a strict CSP; bad input is a
clear 4xx, never a 500."""

import json
import os
import subprocess
import sys

import pytest
from cryptography.fernet import Fernet
from django.conf import settings


def test_check_deploy_is_clean_under_production_settings() -> None:
    env = {
        "PATH": os.environ["PATH"],
        "DEBUG": "false",
        "SECRET_KEY": "x" * 20 + "-production-secret-key-long-and-random-9f8e7d6c5b4a",
        "CREDENTIALS_KEY": Fernet.generate_key().decode(),
        "ALLOWED_HOSTS": "pipewatch.example.com",
        "DATABASE_URL": os.environ["DATABASE_URL"],
        "REDIS_URL": os.environ.get("REDIS_URL", ""),
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_refuses_to_start_without_a_secret_key() -> None:
    env = {"PATH": os.environ["PATH"], "DEBUG": "false", "CREDENTIALS_KEY": Fernet.generate_key().decode()}
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0 and "SECRET_KEY must be set" in result.stderr


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/login/", "/healthz"])
def test_strict_csp_everywhere(client, url) -> None:
    policy = client.get(url)["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "script-src 'self'" in policy and "style-src 'self'" in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert "frame-ancestors 'none'" in policy


# Bad input: a clear 4xx from the shared readers (dashboard/inputs.py), never a 500. The
# fuzz test (test_fuzz_inputs.py) covers every route; these pin the findings one by one.

NUL = "a\x00b"


@pytest.fixture
def csrf_admin(db, django_user_model):
    from django.test import Client

    admin = django_user_model.objects.create_superuser("root", password="x" * 16)
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin)
    client.get("/login/")  # the CSRF cookie, as the browser has it
    client.csrf = client.cookies["csrftoken"].value
    return client


def _post_json(client, url: str, body: str | bytes):
    return client.post(url, body, content_type="application/json", HTTP_X_CSRFTOKEN=client.csrf)


@pytest.fixture
def job_stream(mp_account, sim):
    from jobs.models import Account, Pipeline

    fs = Account(name="fs-jobs", vendor="fullstory", base_url=sim.url)
    fs.credentials = {"api_key": "na1.key"}
    fs.save()
    return Pipeline.objects.create(account=fs, kind="events_import", external_id="fs-stream")


@pytest.mark.parametrize(
    "url",
    [
        "/?q={}",
        "/?account={}",
        "/?vendor={}",
        "/audit/?who={}",
        "/audit/?action={}",
        "/audit/?q={}",
        "/audit/?outcome={}",
    ],
)
def test_nul_in_a_filter_is_a_400_naming_it(csrf_admin, polled, url) -> None:
    response = csrf_admin.get(url.format("a%00b"))
    assert response.status_code == 400
    assert "cannot be stored" in response.content.decode()


def test_nul_in_the_run_search_and_its_csv_is_a_400_before_any_byte_streams(csrf_admin, polled) -> None:
    from jobs.models import Run

    run = Run.objects.filter(pipeline=polled["seed-failed"]).first()
    assert csrf_admin.get(f"/runs/{run.uuid}/?q=a%00b").status_code == 400
    refused = csrf_admin.get(f"/runs/{run.uuid}/items.csv?q=a%00b")
    assert refused.status_code == 400 and not refused.streaming
    ok = csrf_admin.get(f"/runs/{run.uuid}/items.csv?q=x")
    assert ok.status_code == 200 and b"".join(ok.streaming_content).startswith(b"position,kind")


def test_a_nul_session_cookie_is_ignored_not_a_failed_query(client, polled) -> None:
    client.cookies["sessionid"] = "\x00abcdefgh"  # sent quoted as "\000abcdefgh"; Django unquotes it
    response = client.get("/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_nul_in_a_form_field_is_a_400(csrf_admin, polled) -> None:
    incident = csrf_admin.get("/api/v1/failures/").json()["results"][0]
    response = csrf_admin.post(
        f"/failures/{incident['id']}/ack/", {"note": NUL, "csrfmiddlewaretoken": csrf_admin.csrf}
    )
    assert response.status_code == 400 and "<p>note: the form holds a NUL" in response.content.decode()


@pytest.mark.parametrize("offset", ["99999999999999999999", "-1", "1e3", "١٢"])
@pytest.mark.parametrize("url", ["/api/v1/pipelines/", "/api/v1/failures/"])
def test_an_offset_out_of_range_is_a_400_naming_it(csrf_admin, polled, url, offset) -> None:
    response = csrf_admin.get(f"{url}?offset={offset}")
    assert response.status_code == 400
    assert set(response.json()["error"]["fields"]) == {"offset"}


def test_a_limit_above_the_maximum_is_the_maximum(csrf_admin, polled) -> None:
    assert csrf_admin.get("/api/v1/pipelines/?limit=99999999999999999999").status_code == 200


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ('{"snooze_minutes": [1]}', "snooze_minutes"),
        ('{"snooze_minutes": {}}', "snooze_minutes"),
        ('{"snooze_minutes": 1e999}', None),  # not a number JSON can hold
        ('{"snooze_minutes": 99999999999}', "snooze_minutes"),
        ('{"snooze_minutes": true}', "snooze_minutes"),
        ('{"note": "a\\u0000b"}', None),
        ('{"note": ["x"]}', "note"),
        ("[" * 5000 + "]" * 5000, None),
        ('{"note": ' + "[" * 40 + "]" * 40 + "}", None),
    ],
)
def test_ack_api_type_checks_every_field(csrf_admin, polled, body, field) -> None:
    from jobs.models import Acknowledgement

    incident = csrf_admin.get("/api/v1/failures/").json()["results"][0]
    response = _post_json(csrf_admin, f"/api/v1/failures/{incident['id']}/ack/", body)
    assert response.status_code == 400, response.content
    answer = response.json()
    assert answer["error"]["code"] == "invalid" and answer["error"]["message"]
    if field:
        assert set(answer["error"]["fields"]) == {field} and answer["error"]["message"].startswith(field)
    assert not Acknowledgement.objects.exists()


@pytest.mark.parametrize("external_id", [None, [], {}, True, 5, "", NUL, "x" * 256])
def test_register_refuses_anything_but_a_job_id_string(csrf_admin, job_stream, external_id) -> None:
    response = _post_json(
        csrf_admin, f"/api/v1/pipelines/{job_stream.uuid}/runs/", json.dumps({"external_id": external_id})
    )
    assert response.status_code == 400, response.content
    if external_id != NUL:  # a NUL anywhere in the body is refused before the field is read
        assert set(response.json()["error"]["fields"]) == {"external_id"}
    assert not job_stream.runs.exists()
    ok = _post_json(csrf_admin, f"/api/v1/pipelines/{job_stream.uuid}/runs/", '{"external_id": "job-1"}')
    assert ok.status_code == 201 and job_stream.runs.get().external_id == "job-1"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"account": 5, "kind": "export_pipeline"}, "account"),
        ({"account": None, "kind": "export_pipeline"}, "account"),
        ({"account": "mp-test", "kind": ["export_pipeline"]}, "kind"),
        ({"account": "mp-test"}, "kind"),
        ({"account": "mp-test", "kind": "export_pipeline", "spec": "gcs"}, "spec"),
        ({"account": "mp-test", "kind": "export_pipeline", "spec": [1]}, "spec"),
        ({"account": "mp-test", "kind": "export_pipeline", "stream": 7}, "stream"),
        ({"account": NUL, "kind": "export_pipeline"}, None),
        ({"account": "mp-test", "kind": "export_pipeline", "spec": {"gcs_bucket": NUL}}, None),
        ({"account": "mp-test", "kind": "export_pipeline", "spec": {"type": "\ud800"}}, None),
    ],
)
def test_create_api_type_checks_every_field(csrf_admin, mp_account, body, field) -> None:
    from jobs.models import AuditEvent, Pipeline

    response = _post_json(csrf_admin, "/api/v1/pipelines/new/", json.dumps(body))
    assert response.status_code == 400, response.content
    if field:
        assert set(response.json()["error"]["fields"]) == {field}
    assert not Pipeline.objects.exists() and not AuditEvent.objects.filter(action="pipeline.create").exists()


@pytest.mark.parametrize(
    "raw",
    [b"{", b"\xff\xfe", b"NaN", b'{"a": Infinity}', b'{"a": 1' + b"9" * 5000 + b"}", b'"text"', b"[]"],
)
def test_a_body_that_is_not_a_json_object_is_a_400(csrf_admin, mp_account, raw) -> None:
    response = _post_json(csrf_admin, "/api/v1/pipelines/new/", raw)
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid"


def test_a_multipart_body_to_the_json_api_is_a_400(csrf_admin, polled) -> None:
    incident = csrf_admin.get("/api/v1/failures/").json()["results"][0]
    response = csrf_admin.post(
        f"/api/v1/failures/{incident['id']}/ack/", {"note": "x"}, HTTP_X_CSRFTOKEN=csrf_admin.csrf
    )
    assert response.status_code == 400 and "JSON" in response.json()["error"]["message"]


def test_an_empty_admin_to_field_is_a_400(csrf_admin, polled) -> None:
    pipeline = polled["seed-failed"]
    assert csrf_admin.get(f"/admin/jobs/pipeline/{pipeline.pk}/change/?_to_field=").status_code == 400
    assert csrf_admin.get(f"/admin/jobs/pipeline/{pipeline.pk}/change/").status_code == 200


@pytest.mark.django_db(transaction=True)
def test_hostile_requests_over_real_http_are_4xx(live_server, polled, django_user_model) -> None:
    """Through a real HTTP server, as a script or an attacker sends them: raw bytes, no test client."""
    import requests

    from dashboard.auth import issue_token
    from jobs.models import Acknowledgement, Run

    operator = django_user_model.objects.create_superuser("ops", password="x" * 16)
    auth = {"Authorization": f"Bearer {issue_token(operator, scope='operate')}"}
    run = Run.objects.filter(pipeline=polled["seed-failed"]).first()
    url = live_server.url
    incident = requests.get(f"{url}/api/v1/failures/", headers=auth, timeout=10).json()["results"][0]
    ack = f"{url}/api/v1/failures/{incident['id']}/ack/"
    json_headers = {**auth, "Content-Type": "application/json"}
    answers = {
        "nul query": requests.get(f"{url}/api/v1/pipelines/?offset=%00", headers=auth, timeout=10),
        "huge offset": requests.get(f"{url}/api/v1/pipelines/?offset=99999999999999999999", headers=auth, timeout=10),
        "nul csv filter": requests.get(f"{url}/runs/{run.uuid}/items.csv?q=%00", headers=auth, timeout=10),
        "nul cookie": requests.get(
            f"{url}/", headers={"Cookie": 'sessionid="\\000abcdefgh"'}, timeout=10, allow_redirects=False
        ),
        "deep json": requests.post(ack, data=b"[" * 5000 + b"]" * 5000, headers=json_headers, timeout=10),
        "1e999": requests.post(ack, data=b'{"snooze_minutes": 1e999}', headers=json_headers, timeout=10),
        "[1]": requests.post(ack, data=b'{"snooze_minutes": [1]}', headers=json_headers, timeout=10),
        "nul note": requests.post(ack, data=b'{"note": "a\\u0000b"}', headers=json_headers, timeout=10),
        "surrogate note": requests.post(ack, data=b'{"note": "\\ud800"}', headers=json_headers, timeout=10),
    }
    statuses = {name: response.status_code for name, response in answers.items()}
    assert statuses == {**dict.fromkeys(answers, 400), "nul cookie": 302}, statuses
    assert all(answers[name].json()["error"] for name in answers if name not in ("nul cookie", "nul csv filter"))
    assert not Acknowledgement.objects.exists()
