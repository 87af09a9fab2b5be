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
from jobs import tokens
from jobs.models import ApiToken, AuditEvent

from ..conftest import csrf_headers, user_with_role

PIPELINES = "/api/v1/pipelines/"
DEACTIVATED = "this API token ended: its owner was deactivated"
PASSWORD_CHANGED = "this API token ended when its owner's password changed; create a new one under /preferences/"


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


def test_a_new_password_saved_alone_ends_tokens_however_it_was_set(api_client, viewer) -> None:
    """A save of the password field alone, from an outdated hash to a current one, is what
    Django's rehash at login looks like; a new password saved so must still end tokens, as
    must a hash written by a script or an unusable password."""
    weak = PBKDF2PasswordHasher().encode("correct-horse-battery", "somesalt", iterations=1000)
    type(viewer).objects.filter(pk=viewer.pk).update(password=weak)
    viewer.refresh_from_db()
    token = issue_token(viewer)
    viewer.set_password("a-brand-new-passphrase")  # from the outdated hash, like a rehash
    viewer.save(update_fields=["password"])
    assert _error(_get(api_client, token)) == PASSWORD_CHANGED

    token = issue_token(viewer)
    viewer.password = make_password("set-by-a-script")  # from a current hash to a current one
    viewer.save(update_fields=["password"])
    assert _error(_get(api_client, token)) == PASSWORD_CHANGED

    token = issue_token(viewer)
    viewer.set_unusable_password()  # no hasher recognises it
    viewer.save(update_fields=["password"])
    assert _error(_get(api_client, token)) == PASSWORD_CHANGED


def test_saving_a_users_other_fields_keeps_their_tokens(api_client, viewer) -> None:
    token = issue_token(viewer)
    viewer.first_name = "Vera"
    viewer.save()
    viewer.save(update_fields=["last_login"])
    assert _get(api_client, token).status_code == 200


def test_a_deactivation_saved_alone_ends_tokens_for_good_too(api_client, viewer) -> None:
    token = issue_token(viewer)
    viewer.is_active = False
    viewer.save(update_fields=["is_active"])
    viewer.is_active = True
    viewer.save(update_fields=["is_active"])
    assert _error(_get(api_client, token)) == DEACTIVATED


def test_deactivation_ends_tokens_for_good(api_client, viewer) -> None:
    token = issue_token(viewer)
    viewer.is_active = False
    viewer.save()
    assert _get(api_client, token).status_code == 401
    viewer.is_active = True
    viewer.save()
    assert _error(_get(api_client, token)) == DEACTIVATED


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


# --- jobs/tokens.py, rule by rule ------------------------------------------------------------


def test_issue_token_keeps_to_its_scopes_and_lifetimes(viewer, settings) -> None:
    with pytest.raises(ValueError, match=r"^scope must be one of read, operate$"):
        issue_token(viewer, scope="root")
    for days in (0, tokens.MAX_DAYS + 1):
        with pytest.raises(ValueError, match=rf"^a token lives 1 to {tokens.MAX_DAYS} days$"):
            issue_token(viewer, days=days)
    assert not ApiToken.objects.exists()
    settings.API_TOKEN_DAYS = 30
    for days, lives in ((1, 1), (tokens.MAX_DAYS, tokens.MAX_DAYS), (None, 30)):
        raw = issue_token(viewer, name=f"lives {lives}", days=days)
        assert re.fullmatch(r"pw_[A-Za-z0-9_-]{43}", raw)
        stored = ApiToken.objects.get(name=f"lives {lives}")
        assert stored.prefix == raw[:10] and stored.digest == tokens.hash_token(raw) and stored.user == viewer
        assert stored.expires_at - stored.created_at == timedelta(days=lives)
        assert stored.password_fingerprint == tokens.fingerprint(viewer.password)


def test_a_token_issued_to_a_deactivated_owner_never_works(viewer) -> None:
    viewer.is_active = False
    viewer.save()
    raw = issue_token(viewer)
    assert ApiToken.objects.get().password_fingerprint == ""
    assert tokens.check(raw).error == DEACTIVATED


def test_a_token_expires_at_its_expiry_to_the_second_and_says_when(viewer) -> None:
    raw = issue_token(viewer, days=1)
    token = ApiToken.objects.get()
    with time_machine.travel(token.expires_at - timedelta(seconds=1), tick=False):
        assert tokens.check(raw).token == token
    with time_machine.travel(token.expires_at, tick=False):
        stamp = token.expires_at.strftime("%Y-%m-%d %H:%M")
        assert tokens.check(raw).error == (
            f"this API token expired at {stamp} UTC; create a new one under /preferences/"
        )
        assert tokens.problem(token) == tokens.check(raw).error  # "now" by default


def test_using_a_token_writes_its_last_use_at_most_once_a_minute(viewer, django_assert_num_queries) -> None:
    raw = issue_token(viewer)
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        with django_assert_num_queries(2):  # the token with its owner, then the last use
            assert tokens.check(raw).token is not None
        assert ApiToken.objects.get().last_used_at == start
    a_minute = start + timedelta(seconds=tokens.LAST_USED_RESOLUTION)
    with time_machine.travel(a_minute, tick=False), django_assert_num_queries(1):  # to the microsecond: no write
        assert tokens.check(raw).token is not None
    later = start + timedelta(seconds=tokens.LAST_USED_RESOLUTION + 1)
    with time_machine.travel(later, tick=False):
        tokens.check(raw)
    assert ApiToken.objects.get().last_used_at == later
    assert tokens.check("pw_" + "x" * 43).error == "unknown API token"
