"""Whitespace around a secret is never part of it, wherever it comes from; a line break
inside one is refused at the door, named but never quoted (issue 14, 2)."""

import json
import os
import subprocess
import sys
import textwrap

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from jobs import config, polling
from jobs.models import Account, Pipeline

SECRET = "SEKRETSS7Q2XK9ZV4WMN"


def toml(tmp_path, url: str, secret: str = "env:MP_SECRET"):
    path = tmp_path / "pipewatch.toml"
    path.write_text(
        textwrap.dedent(f"""
        [[accounts]]
        name = "mp"
        vendor = "mixpanel"
        base_url = "{url}"
        settings = {{ project_id = "12345" }}
        credentials = {{ username = "svc", secret = "{secret}" }}
    """)
    )
    return path


@pytest.mark.django_db
def test_a_secret_from_the_environment_loses_its_newline_and_polls(tmp_path, monkeypatch, sim) -> None:
    monkeypatch.setenv("MP_SECRET", "s3cret\n")  # `$(cat secret.txt)`, a secret store's file
    call_command("apply_config", str(toml(tmp_path, sim.url)))
    account = Account.objects.get()
    assert account.credentials == {"username": "svc", "secret": "s3cret"}
    Pipeline.objects.create(account=account, kind="import_connector", external_id="seed-running")
    assert polling.poll_now(account).outcome == "ok"


@pytest.mark.django_db
def test_a_line_break_inside_a_secret_is_refused_by_the_config_file(tmp_path, monkeypatch, sim) -> None:
    monkeypatch.setenv("MP_SECRET", f"{SECRET[:10]}\n{SECRET[10:]}")
    with pytest.raises(config.ConfigError) as caught:
        config.load(toml(tmp_path, sim.url))
    assert "credential 'secret': contains a line break" in str(caught.value) and "SEKR" not in str(caught.value)
    with pytest.raises(CommandError):
        call_command("apply_config", str(toml(tmp_path, sim.url)))
    assert not Account.objects.exists()


@pytest.fixture
def admin_client(client, django_user_model):
    client.force_login(django_user_model.objects.create_superuser("root", "r@example.com", "x" * 12))
    return client


@pytest.mark.django_db
def test_the_account_form_strips_and_refuses_line_breaks(admin_client, sim) -> None:
    data = {
        "name": "mp",
        "vendor": "mixpanel",
        "base_url": sim.url,
        "setting_project_id": "12345",
        "secret_username": "svc",
        "secret_secret": f"{SECRET[:10]}\r\n{SECRET[10:]}",
    }
    refused = admin_client.post("/accounts/new/", data)
    html = refused.content.decode()
    assert "contains a line break" in html and "SEKR" not in html and not Account.objects.exists()
    assert admin_client.post("/accounts/new/", {**data, "secret_secret": f"  {SECRET}\n"}).status_code == 302
    assert Account.objects.get().credentials["secret"] == SECRET


@pytest.mark.django_db
def test_the_admin_json_credentials_are_stripped(admin_client, sim) -> None:
    data = {
        "name": "mp",
        "vendor": "mixpanel",
        "region": "",
        "base_url": sim.url,
        "settings": json.dumps({"project_id": "12345"}),
        "new_credentials": json.dumps({"username": "svc", "secret": SECRET + "\n"}),
    }
    assert admin_client.post("/admin/jobs/account/add/", data).status_code == 302
    assert Account.objects.get().credentials == {"username": "svc", "secret": SECRET}
    refused = admin_client.post(
        "/admin/jobs/account/add/",
        {**data, "name": "mp2", "new_credentials": json.dumps({"username": "svc", "secret": "ab\ncdefgh"})},
    )
    assert "contains a line break" in refused.content.decode() and Account.objects.count() == 1


def test_secrets_in_the_environment_lose_surrounding_whitespace(tmp_path) -> None:
    from cryptography.fernet import Fernet

    key = Fernet.generate_key().decode()
    env = {
        **os.environ,
        "SECRET_KEY": " django-secret-value\n",
        "METRICS_TOKEN": "metrics-token\n",
        "CREDENTIALS_KEY": f"{key}\n",
        "DJANGO_SETTINGS_MODULE": "dashboard.settings",
    }
    script = (
        "import django, json; django.setup(); from django.conf import settings as s;"
        "from jobs.crypto import encrypt_json, decrypt_json;"
        "print(json.dumps([s.SECRET_KEY, s.METRICS_TOKEN, s.CREDENTIALS_KEYS, decrypt_json(encrypt_json({'a': 'b'}))]))"
    )
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True).stdout
    assert json.loads(out) == ["django-secret-value", "metrics-token", [key], {"a": "b"}]
