"""Secrets in specs and settings never reach the audit log viewers read, at any depth (issue 14, 2)."""

import textwrap

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.test import Client

from dashboard.auth import issue_token
from jobs.models import AuditEvent, Pipeline

SECRETS = {
    "top": "TOPSECRETQ7Z9XK2",
    "sas": "SASKEYW4MN8QJ3VB",
    "nested": "NESTEDSECRET5T6Y",
    "deep": "DEEPPASSWORD8R1U",
    "camel": "CAMELSASK9Y2P0LW",
}


def spec() -> dict:
    return {
        "type": "azure-blob",
        "storage_account": "acct",
        "container_name": "c",
        "client_id": "cid",
        "client_secret": SECRETS["top"],
        "tenant_id": "tenant",
        "sas_key": SECRETS["sas"],
        "extra": {
            "client_secret": SECRETS["nested"],
            "nested": [{"password": SECRETS["deep"], "sasKey": SECRETS["camel"], "note": "kept as it is"}],
        },
    }


def assert_redacted(html: str) -> None:
    for secret in SECRETS.values():
        fragments = {secret[i : i + 4] for i in range(len(secret) - 3)}
        assert not [f for f in fragments if f in html], secret
    assert "(redacted)" in html and "kept as it is" in html


@pytest.mark.django_db
def test_a_create_spec_is_audited_with_secrets_redacted_at_every_depth(mp_account, logged_in, django_user_model):
    op = django_user_model.objects.create_user("op", password="x" * 12)
    op.groups.add(Group.objects.get(name="operator"))
    api = Client(enforce_csrf_checks=True)
    answer = api.post(
        "/api/v1/pipelines/new/",
        {"account": mp_account.name, "kind": "export_pipeline", "spec": spec()},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {issue_token(op, scope='operate')}",
    )
    assert answer.status_code == 400, answer.content  # fields Mixpanel does not take: refused, audited
    event = AuditEvent.objects.get(action="pipeline.create")
    assert event.detail["spec"]["extra"]["nested"][0]["sasKey"] == "(redacted)"
    assert_redacted(logged_in.get("/audit/").content.decode())


@pytest.mark.django_db
def test_any_writer_of_the_audit_log_gets_redaction(logged_in) -> None:
    AuditEvent.objects.create(actor_label="t", action="account.changed", detail={"settings": spec()})
    assert_redacted(logged_in.get("/audit/").content.decode())


@pytest.mark.django_db
def test_a_pipeline_config_from_the_config_file_is_kept_redacted(mp_account, tmp_path) -> None:
    path = tmp_path / "c.toml"
    path.write_text(
        textwrap.dedent(f"""
        [[pipelines]]
        account = "{mp_account.name}"
        kind = "import_connector"
        external_id = "seed-running"
        config = {{ extra = {{ client_secret = "{SECRETS["nested"]}", note = "kept as it is" }} }}
    """)
    )
    call_command("apply_config", str(path))
    assert Pipeline.objects.get().config == {"extra": {"client_secret": "(redacted)", "note": "kept as it is"}}
    from jobs import config

    accounts, pipelines = config.load(path)
    assert config.apply(accounts, pipelines).summary().startswith("0 created, 0 updated, 1 unchanged")


def test_the_keys_that_look_secret() -> None:
    from jobs.redaction import redact

    secret = ["client_secret", "sas_key", "snowflake_password", "api_key", "STATSIG-API-KEY", "x-api-key", "apiKey",
              "clientSecret", "private_key", "Authorization", "token", "key", "connection_string",
              "aws_secret_access_key"]  # fmt: skip
    plain = ["s3_kms_key_id", "idempotency_key", "client_id", "username", "extra", "note", "type", "keys_seen"]
    redacted = redact({k: "v" for k in secret + plain} | {"credentials_changed": True, "password": ""})
    assert [k for k in secret if redacted[k] != "(redacted)"] == []
    assert [k for k in plain if redacted[k] != "v"] == []
    assert redacted["credentials_changed"] is True and redacted["password"] == ""


@pytest.mark.django_db
def test_what_was_written_before_is_redacted_by_the_migration(mp_account) -> None:
    import importlib

    from django.apps import apps

    event = AuditEvent.objects.create(actor_label="t", action="pipeline.create")
    AuditEvent.objects.filter(pk=event.pk).update(detail={"spec": spec()})  # as older code stored it
    pipeline = Pipeline.objects.create(account=mp_account, kind="export_pipeline", external_id="x", config=spec())
    migration = importlib.import_module("jobs.migrations.0011_redact_stored_details")
    migration.redact_stored(apps, None)
    event.refresh_from_db()
    pipeline.refresh_from_db()
    assert event.detail["spec"]["extra"]["client_secret"] == "(redacted)"
    assert (
        pipeline.config["sas_key"] == "(redacted)" and pipeline.config["extra"]["nested"][0]["note"] == "kept as it is"
    )
