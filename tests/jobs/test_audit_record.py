"""The audit log's one way in (`jobs.audit.record`) and its model hooks outside the web:
config as code, commands, the shell; names kept after a user is deleted."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps
from django.core.management import call_command

from jobs import audit
from jobs.models import Account, AuditEvent, Pipeline

from .test_config import GOOD, write


@pytest.mark.django_db
def test_config_as_code_changes_name_the_command(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("MP_SECRET", "hunter2")
    call_command("apply_config", str(write(tmp_path, GOOD)))
    created = AuditEvent.objects.get(action="account.created", target_label="mp-prod")
    assert created.actor_label == "apply_config" and created.detail["credentials_changed"] is True
    assert created.detail["values"]["base_url"] == "http://127.0.0.1:9100"
    assert AuditEvent.objects.filter(action="pipeline.created", actor_label="apply_config").count() == 1

    monkeypatch.setenv("MP_SECRET", "rotated")
    call_command("apply_config", str(write(tmp_path, GOOD.replace('"S3 events"', '"S3 events v2"'))))
    [renamed] = AuditEvent.objects.filter(action="pipeline.changed", actor_label="apply_config")
    assert renamed.detail["changes"] == {"name": {"from": "S3 events", "to": "S3 events v2"}}
    assert "hunter2" not in str(list(AuditEvent.objects.values())) and "rotated" not in str(
        list(AuditEvent.objects.values("detail"))
    )


@pytest.mark.django_db
def test_rewriting_the_same_secret_is_not_a_change(mp_account) -> None:
    account = Account.objects.get(pk=mp_account.pk)
    account.credentials = dict(account.credentials)  # re-encrypted: another token, the same secret
    account.region = "eu"
    account.save()
    event = AuditEvent.objects.get(action="account.changed")
    assert event.detail == {"changes": {"region": {"from": "", "to": "eu"}}, "credentials_changed": False}


@pytest.mark.django_db
def test_polling_writes_are_not_audited(mp_account, make_pipeline) -> None:
    from jobs import polling

    for cid in ("seed-queued", "seed-running", "seed-success", "seed-failed"):
        make_pipeline(cid)
    before = AuditEvent.objects.count()
    polling.poll_now(mp_account)
    assert Pipeline.objects.filter(last_polled_at__isnull=False).count() == 4
    assert AuditEvent.objects.count() == before


@pytest.mark.django_db
def test_a_cascade_is_one_entry_for_what_was_deleted(mp_account, make_pipeline) -> None:
    make_pipeline("c1")
    make_pipeline("c2")
    with audit.acting_as("tester"):
        mp_account.delete()
    assert not Pipeline.objects.exists()
    assert list(AuditEvent.objects.filter(action__endswith=".deleted").values_list("action", "actor_label")) == [
        ("account.deleted", "tester")
    ]


@pytest.mark.django_db
def test_superuser_changes_outside_the_web_are_role_changes(django_user_model) -> None:
    user = django_user_model.objects.create_user("carol", password="x" * 12)
    user.is_superuser = True
    user.save()
    [event] = AuditEvent.objects.filter(action="role.changed", target_label="carol")
    assert event.detail == {"superuser": "granted"}


@pytest.mark.django_db
def test_record_stores_whatever_it_is_given(django_user_model) -> None:
    user = django_user_model.objects.create_user("dave", password="x" * 12)
    event = audit.record(
        "note\x00d", actor=user, target_label="x\x00" * 300, detail={"a": ["b\x00", {"c\x00": "d"}], "n": 1}
    )
    event.refresh_from_db()
    assert event.action == "noted" and event.actor_label == "dave" and len(event.target_label) == 255
    assert event.detail == {"a": ["b", {"c": "d"}], "n": 1}
    assert audit.record("x", actor="apply_config").actor_label == "apply_config"
    assert audit.record("x").actor_label == "system"


@pytest.mark.django_db
def test_an_entry_written_directly_still_keeps_the_name(django_user_model) -> None:
    user = django_user_model.objects.create_user("erin", password="x" * 12)
    event = AuditEvent.objects.create(actor=user, action="legacy")
    user.delete()
    event.refresh_from_db()
    assert event.actor is None and event.actor_label == "erin"


@pytest.mark.django_db
def test_the_migration_names_existing_entries(django_user_model) -> None:
    user = django_user_model.objects.create_user("frank", password="x" * 12)
    event = AuditEvent.objects.create(actor=user, action="old")
    command = AuditEvent.objects.create(actor_label="rotate_keys", action="credentials.rotated")
    AuditEvent.objects.filter(pk=event.pk).update(actor_label="")  # as rows were written before it
    migration = importlib.import_module("jobs.migrations.0009_audit_actor_label")
    migration.name_actors(apps, None)
    event.refresh_from_db()
    command.refresh_from_db()
    assert event.actor_label == "frank" and command.actor_label == "rotate_keys"
