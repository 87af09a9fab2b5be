"""API tokens: they expire, die with a password change or deactivation, carry a scope (read
or operate), and their owner lists, creates and revokes them under /preferences/."""

import re
from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth.hashers import PBKDF2PasswordHasher, make_password
from django.core.management import CommandError, call_command
from django.utils import timezone

from dashboard.auth import issue_token
from jobs.models import ApiToken, AuditEvent

from ..conftest import csrf_headers, user_with_role

PIPELINES = "/api/v1/pipelines/"


def _get(client, token: str):
    return client.get(PIPELINES, HTTP_AUTHORIZATION=f"Bearer {token}")


def _error(response) -> str:
    return response.json()["error"]["message"]


def test_tokens_expire_after_the_default_lifetime(api_client, viewer, settings) -> None:
    settings.API_TOKEN_DAYS = 30
    token = issue_token(viewer)
    assert _get(api_client, token).status_code == 200
    with time_machine.travel(timezone.now() + timedelta(days=29, hours=23)):
        assert _get(api_client, token).status_code == 200
    with time_machine.travel(timezone.now() + timedelta(days=30, minutes=1)):
        expired = _get(api_client, token)
    assert expired.status_code == 401 and "expired" in _error(expired) and "/preferences/" in _error(expired)
    assert 'error="invalid_token"' in expired["WWW-Authenticate"]


def test_create_api_token_takes_a_lifetime_and_a_scope(api_client, viewer, capsys) -> None:
    call_command("create_api_token", "viewer", "--days", "2", "--name", "nightly")
    token = capsys.readouterr().out.strip()
    stored = ApiToken.objects.get()
    assert stored.scope == "read" and stored.name == "nightly"
    created = AuditEvent.objects.get(action="token.created")
    assert (created.actor, created.actor_label, created.target_label) == (
        None,
        "create_api_token",
        f"viewer: nightly (#{stored.pk})",
    )
    assert timedelta(days=2) - (stored.expires_at - timezone.now()) < timedelta(minutes=1)
    assert _get(api_client, token).status_code == 200
    with time_machine.travel(timezone.now() + timedelta(days=2, minutes=1)):
        assert _get(api_client, token).status_code == 401
    for bad in (["--days", "0"], ["--days", "-3"], ["--days", "abc"], ["--days", "99999999"], ["--scope", "root"]):
        with pytest.raises(CommandError):
            call_command("create_api_token", "viewer", *bad)
    assert ApiToken.objects.count() == 1


def test_a_password_change_ends_every_token(api_client, viewer) -> None:
    token = issue_token(viewer)
    viewer.set_password("a-brand-new-passphrase")
    viewer.save()
    refused = _get(api_client, token)
    assert refused.status_code == 401 and "password" in _error(refused)


def test_a_password_written_around_the_model_still_ends_tokens(api_client, viewer) -> None:
    token = issue_token(viewer)
    type(viewer).objects.filter(pk=viewer.pk).update(password=make_password("changed-behind-our-back"))
    assert _get(api_client, token).status_code == 401


def test_a_stronger_rehash_of_the_same_password_keeps_tokens(api_client, viewer) -> None:
    """Django rehashes a password at login when its hasher grows stronger (every upgrade):
    the password did not change, so the tokens live on."""
    weak = PBKDF2PasswordHasher().encode("correct-horse-battery", "somesalt", iterations=1000)
    type(viewer).objects.filter(pk=viewer.pk).update(password=weak)
    viewer.refresh_from_db()
    token = issue_token(viewer)
    assert viewer.check_password("correct-horse-battery")  # rehashes and saves
    viewer.refresh_from_db()
    assert viewer.password != weak
    assert _get(api_client, token).status_code == 200


def test_deactivation_ends_tokens_for_good(api_client, viewer) -> None:
    token = issue_token(viewer)
    viewer.is_active = False
    viewer.save()
    assert _get(api_client, token).status_code == 401
    viewer.is_active = True
    viewer.save()
    assert _get(api_client, token).status_code == 401


def test_a_read_token_cannot_write_even_for_an_operator(api_client, polled) -> None:
    operator = user_with_role("olga", "operator")
    pipeline = polled["seed-success"]
    url = f"/api/v1/pipelines/{pipeline.uuid}/actions/pause/"
    read = issue_token(operator, scope="read")
    assert _get(api_client, read).status_code == 200
    refused = api_client.post(url, HTTP_AUTHORIZATION=f"Bearer {read}")
    assert refused.status_code == 403 and "read" in _error(refused)
    operate = issue_token(operator, scope="operate")
    assert api_client.post(url, HTTP_AUTHORIZATION=f"Bearer {operate}").status_code == 200
    viewer_operate = issue_token(user_with_role("vic", "viewer"), scope="operate")  # the role still limits
    assert api_client.post(url, HTTP_AUTHORIZATION=f"Bearer {viewer_operate}").status_code == 403


# --- /preferences/: the owner's list ------------------------------------------------------


@pytest.fixture
def owner_client(api_client, viewer):
    api_client.force_login(viewer)
    return api_client


def _create(client, **data):
    return client.post("/preferences/tokens/", data, **csrf_headers(client))


def test_owner_creates_sees_once_lists_and_revokes(owner_client, viewer) -> None:
    other = issue_token(user_with_role("someone", "viewer"), name="not-yours")
    assert owner_client.post("/preferences/tokens/", {"name": "x", "days": "7", "scope": "read"}).status_code == 403
    created = _create(owner_client, name="nightly export", days="7", scope="read")
    assert created.status_code == 200 and "no-store" in created["Cache-Control"]
    token = re.search(r"pw_[A-Za-z0-9_-]{40,}", created.content.decode()).group(0)
    assert _get(owner_client, token).status_code == 200
    stored = ApiToken.objects.get(user=viewer)
    assert (stored.name, stored.scope) == ("nightly export", "read")

    listing = owner_client.get("/preferences/").content.decode()
    assert token not in listing  # shown once, never again
    assert "nightly export" in listing and stored.prefix in listing and "not-yours" not in listing
    assert other[:10] not in listing

    foreign = ApiToken.objects.get(name="not-yours")
    assert (
        owner_client.post(f"/preferences/tokens/{foreign.pk}/revoke/", **csrf_headers(owner_client)).status_code == 404
    )
    assert owner_client.post(f"/preferences/tokens/{stored.pk}/revoke/").status_code == 403  # no CSRF token
    revoked = owner_client.post(f"/preferences/tokens/{stored.pk}/revoke/", **csrf_headers(owner_client))
    assert revoked.status_code == 302
    assert _get(owner_client.__class__(), token).status_code == 401
    assert ApiToken.objects.filter(name="not-yours").exists()

    events = AuditEvent.objects.filter(action__in=["token.created", "token.deleted"], actor=viewer).order_by("id")
    assert [(e.action, e.actor) for e in events] == [("token.created", viewer), ("token.deleted", viewer)]
    for event in events:
        assert stored.prefix not in f"{event.target_label} {event.detail}" and "pw_" not in event.target_label


def test_bad_token_requests_are_400_and_create_nothing(owner_client) -> None:
    for data in (
        {"name": "a", "days": "abc", "scope": "read"},
        {"name": "a", "days": "0", "scope": "read"},
        {"name": "a", "days": "99999999", "scope": "read"},
        {"name": "a", "days": "7", "scope": "root"},
        {"name": "a\x00b", "days": "7", "scope": "read"},
        {"name": "a", "days": "7", "scope": "operate"},  # a viewer cannot operate
    ):
        response = _create(owner_client, **data)
        assert response.status_code == 400, data
        assert "pw_" not in response.content.decode()
    assert not ApiToken.objects.exists()
    assert owner_client.post("/preferences/tokens/999999/revoke/", **csrf_headers(owner_client)).status_code == 404


def test_the_list_shows_why_a_token_no_longer_works(owner_client, viewer) -> None:
    issue_token(viewer, name="old", days=1)
    ApiToken.objects.update(expires_at=timezone.now() - timedelta(hours=1))
    assert "expired" in owner_client.get("/preferences/").content.decode()


def test_admins_see_every_token_and_its_status_never_the_token(api_client, viewer, django_user_model) -> None:
    token = issue_token(viewer, name="ci")
    api_client.force_login(django_user_model.objects.create_superuser("root", "r@example.com", "x" * 12))
    listing = api_client.get("/admin/jobs/apitoken/")
    assert listing.status_code == 200 and "works" in listing.content.decode() and token not in listing.content.decode()
    viewer.set_password("another-passphrase-entirely")
    viewer.save()
    stored = ApiToken.objects.get()
    detail = api_client.get(f"/admin/jobs/apitoken/{stored.pk}/change/").content.decode()
    assert "password changed" in detail and token not in detail
