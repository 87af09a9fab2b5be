"""Key rotation: `rotate_keys` moves every stored secret to the newest key while the old one
still decrypts, so the old key can then be removed; it never prints a secret."""

from __future__ import annotations

import io
import os
import subprocess
import sys

import pytest
from cryptography.fernet import Fernet
from django.conf import settings as django_settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from jobs import crypto
from jobs.crypto import CredentialsUnreadable
from jobs.models import Account, AlertChannel, AuditEvent

KEY_A = Fernet.generate_key().decode()
KEY_B = Fernet.generate_key().decode()
KEY_C = Fernet.generate_key().decode()

SECRETS = {
    "mp-one": {"username": "svc-one", "secret": "mp-one-SECRET-7f3a"},
    "mp-two": {"username": "svc-two", "secret": "mp-two-SECRET-91bc"},
    "fs-one": {"api_key": "fs-one-SECRET-c0de"},
}
HOOK = "https://hooks.slack.com/services/T000/B000/HOOK-SECRET-5eed"


def _run(*args: str, fails: str = "") -> tuple[str, str]:
    """Run the command; with `fails`, expect a CommandError matching it. Returns (stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    if fails:
        with pytest.raises(CommandError, match=fails):
            call_command("rotate_keys", *args, stdout=out, stderr=err)
    else:
        call_command("rotate_keys", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def _seed() -> None:
    for name, creds in SECRETS.items():
        account = Account(name=name, vendor="fullstory" if name.startswith("fs") else "mixpanel")
        account.credentials = creds
        account.save()
    Account.objects.create(name="no-secrets", vendor="mixpanel")  # empty token: left alone
    channel = AlertChannel(name="slack")
    channel.url = HOOK
    channel.save()


def _assert_no_secret(*texts: str) -> None:
    blob = "\n".join(texts)
    for creds in SECRETS.values():
        for value in creds.values():
            if "SECRET" in value:
                assert value not in blob
    assert "HOOK-SECRET" not in blob
    for key in (KEY_A, KEY_B, KEY_C):
        assert key not in blob


@pytest.mark.django_db
def test_rotate_keys_moves_every_secret_to_the_new_key_so_the_old_one_can_go(settings) -> None:
    settings.CREDENTIALS_KEYS = [KEY_A]
    _seed()
    before = dict(Account.objects.values_list("name", "credentials_token"))

    settings.CREDENTIALS_KEYS = [KEY_B]  # the old rows are unreadable with the new key alone
    with pytest.raises(CredentialsUnreadable):
        _ = Account.objects.get(name="mp-one").credentials

    settings.CREDENTIALS_KEYS = [KEY_B, KEY_A]  # during rotation: new first, old still decrypts
    assert Account.objects.get(name="mp-one").credentials == SECRETS["mp-one"]
    out, err = _run("--check", fails="4 secret")  # 3 accounts + 1 channel still on the old key
    assert "accounts: 3 need rotation" in out
    _assert_no_secret(out, err)
    assert dict(Account.objects.values_list("name", "credentials_token")) == before  # --check wrote nothing

    out, err = _run("--batch-size", "2")
    assert "accounts: 3 rotated, 0 already on the newest key, 1 without secrets, 0 unreadable" in out
    assert "alert channels: 1 rotated, 0 already on the newest key, 0 without secrets, 0 unreadable" in out
    _assert_no_secret(out, err)
    event = AuditEvent.objects.get(action="credentials.rotated")
    assert event.actor_label == "rotate_keys" and event.outcome == "ok"
    assert event.detail["accounts"]["rotated"] == 3 and event.detail["alert channels"]["rotated"] == 1
    _assert_no_secret(str(event.detail), event.target_label)

    settings.CREDENTIALS_KEYS = [KEY_B]  # the old key is gone: everything still decrypts
    for name, creds in SECRETS.items():
        account = Account.objects.get(name=name)
        assert account.credentials_token != before[name]
        assert account.credentials == creds
    assert Account.objects.get(name="no-secrets").credentials_token == ""
    assert AlertChannel.objects.get(name="slack").url == HOOK
    out, _ = _run("--check")  # and the check agrees
    assert "accounts: 0 need rotation, 3 already on the newest key" in out

    settings.CREDENTIALS_KEYS = [KEY_B, KEY_A]  # running it again changes nothing and logs nothing
    tokens = dict(Account.objects.values_list("name", "credentials_token"))
    out, _ = _run()
    assert "accounts: 0 rotated, 3 already on the newest key" in out
    assert dict(Account.objects.values_list("name", "credentials_token")) == tokens
    assert AuditEvent.objects.filter(action="credentials.rotated").count() == 1


@pytest.mark.django_db
def test_rotate_keys_names_unreadable_rows_fails_and_still_rotates_the_rest(settings) -> None:
    settings.CREDENTIALS_KEYS = [KEY_A]
    _seed()
    settings.CREDENTIALS_KEYS = [KEY_C]
    lost = Account(name="lost-key", vendor="micro")
    lost.credentials = {"api_key": "lost-SECRET-dead"}
    lost.save()

    settings.CREDENTIALS_KEYS = [KEY_B, KEY_A]  # KEY_C was dropped too early
    out, err = _run(fails="1 secret.*cannot be decrypted")
    assert "'lost-key'" in err
    assert "lost-SECRET-dead" not in out + err
    _assert_no_secret(out, err)
    assert AuditEvent.objects.get(action="credentials.rotated").outcome == "error"
    settings.CREDENTIALS_KEYS = [KEY_B]
    assert Account.objects.get(name="mp-two").credentials == SECRETS["mp-two"]


@pytest.mark.django_db
def test_rotate_keys_keeps_a_secret_an_admin_saved_during_the_run(settings, monkeypatch) -> None:
    settings.CREDENTIALS_KEYS = [KEY_A]
    _seed()
    settings.CREDENTIALS_KEYS = [KEY_B, KEY_A]
    real_ring = crypto.ring()

    class RacingRing:
        """Between the command's read and its write, an admin saves new credentials."""

        def __getattr__(self, name: str) -> object:
            return getattr(real_ring, name)

        def rotate(self, token: bytes) -> bytes:
            if Account.objects.filter(name="mp-one", credentials_token=token.decode()).exists():
                account = Account.objects.get(name="mp-one")
                account.credentials = {"username": "svc-one", "secret": "typed-by-admin"}
                account.save()
            return real_ring.rotate(token)

    monkeypatch.setattr(crypto, "ring", RacingRing)
    out, _ = _run()
    assert "2 rotated" in out and "1 changed meanwhile (left as saved)" in out
    settings.CREDENTIALS_KEYS = [KEY_B]
    assert Account.objects.get(name="mp-one").credentials["secret"] == "typed-by-admin"


@pytest.mark.django_db(transaction=True)
def test_rotate_keys_reads_the_key_ring_from_the_environment() -> None:
    """The real entry point: a separate process with CREDENTIALS_KEY="new,old" as deployed."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(django_settings, "CREDENTIALS_KEYS", [KEY_A])
        _seed()
    db = connection.settings_dict
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "DJANGO_ALLOW"))}
    env.update(
        TESTING="true",
        DATABASE_URL=f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
        CREDENTIALS_KEY=f"{KEY_B},{KEY_A}",
    )
    done = subprocess.run(
        [sys.executable, "manage.py", "rotate_keys"],
        cwd=django_settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "accounts: 3 rotated" in done.stdout
    _assert_no_secret(done.stdout, done.stderr)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(django_settings, "CREDENTIALS_KEYS", [KEY_B])
        assert {a.name: a.credentials for a in Account.objects.exclude(name="no-secrets")} == SECRETS
        assert AlertChannel.objects.get().url == HOOK
