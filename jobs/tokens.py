"""API tokens: issue, check, revoke, and end them with their owner's password or account.

A token is `pw_` and 43 random characters; only its SHA-256 digest is stored, so it is
seen once, when issued. It carries a fingerprint of its owner's password hash: a new
password (by any path, even a raw UPDATE) no longer matches it and the token stops
working, like the owner's sessions. The signals below carry tokens over Django's rehash
of the same password at login, and end them for good on deactivation."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.hashers import get_hasher, identify_hasher
from django.utils import timezone

from .models import ApiToken

TOKEN_PREFIX = "pw_"
MAX_DAYS = 3650  # ten years: a lifetime must end, and this keeps dates far from overflow
LAST_USED_RESOLUTION = 60  # seconds: at most one write per token per minute


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def fingerprint(password_hash: str) -> str:
    """Tells one stored password hash from another; reveals nothing the hash does not."""
    return hashlib.sha256(f"pipewatch-api-token:{password_hash}".encode()).hexdigest()


def issue_token(user: Any, name: str = "", scope: str = ApiToken.READ, days: int | None = None) -> str:
    """Create a token and return it: the only time anyone sees it (audited by jobs.audit's hooks)."""
    if scope not in dict(ApiToken.SCOPES):
        raise ValueError(f"scope must be one of {', '.join(dict(ApiToken.SCOPES))}")
    days = settings.API_TOKEN_DAYS if days is None else days
    if not 1 <= days <= MAX_DAYS:
        raise ValueError(f"a token lives 1 to {MAX_DAYS} days")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    now = timezone.now()
    ApiToken.objects.create(
        user=user,
        name=name,
        prefix=token[:10],
        digest=hash_token(token),
        scope=scope,
        created_at=now,
        expires_at=now + timedelta(days=days),
        password_fingerprint=fingerprint(user.password) if user.is_active else "",
    )
    return token


def revoke_token(token: ApiToken) -> None:
    token.delete()  # audited as token.deleted, naming whoever acts (jobs.audit)


def problem(token: ApiToken, now: Any = None) -> str | None:
    """Why this token no longer works, in words for its holder; None while it works."""
    now = now or timezone.now()
    if not token.user.is_active or not token.password_fingerprint:
        return "this API token ended: its owner was deactivated"
    if not secrets.compare_digest(token.password_fingerprint, fingerprint(token.user.password)):
        return "this API token ended when its owner's password changed; create a new one under /preferences/"
    if token.expires_at <= now:
        stamp = token.expires_at.strftime("%Y-%m-%d %H:%M UTC")
        return f"this API token expired at {stamp}; create a new one under /preferences/"
    return None


@dataclass
class Checked:
    token: ApiToken | None
    error: str = ""


def check(raw: str) -> Checked:
    """The working token behind `raw`, or why there is none."""
    token = ApiToken.objects.select_related("user").filter(digest=hash_token(raw)).first()
    if token is None:
        return Checked(None, "unknown API token")
    now = timezone.now()
    if reason := problem(token, now):
        return Checked(None, reason)
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return Checked(token)


# --- the owner's password and account ------------------------------------------------------


def _rehash(before: str, after: str, instance: Any, update_fields: Any) -> bool:
    """Django's own upgrade of a stored hash at login (the same password, a stronger hash):
    it saves only the password, without a new raw password, from an outdated hash to one
    made by today's preferred hasher. Anything else that changes the hash is a new password."""
    if getattr(instance, "_password", None) is not None or set(update_fields or ()) != {"password"}:
        return False
    try:
        old, new, preferred = identify_hasher(before), identify_hasher(after), get_hasher()
    except ValueError:
        return False
    outdated = old.algorithm != preferred.algorithm or old.must_update(before)
    return outdated and new.algorithm == preferred.algorithm and not new.must_update(after)


def note_credential_change(sender: Any, instance: Any, update_fields: Any = None, **kwargs: Any) -> None:
    """pre_save of a user: remember what happens to their tokens once the save lands."""
    instance._pw_tokens = None
    if instance.pk is None or (update_fields is not None and not {"password", "is_active"} & set(update_fields)):
        return
    before = sender.objects.filter(pk=instance.pk).values("password", "is_active").first()
    if before is None:
        return
    if before["is_active"] and not instance.is_active:
        instance._pw_tokens = ("end", None)
    elif before["password"] != instance.password and _rehash(
        before["password"], instance.password, instance, update_fields
    ):
        instance._pw_tokens = ("rehashed", before["password"])
    # A new password needs nothing here: the fingerprints no longer match.


def apply_credential_change(sender: Any, instance: Any, **kwargs: Any) -> None:
    """post_save of a user: end their tokens, or carry them over a rehash."""
    change, old_hash = getattr(instance, "_pw_tokens", None) or (None, None)
    instance._pw_tokens = None
    tokens = ApiToken.objects.filter(user=instance)
    if change == "end":
        tokens.update(password_fingerprint="")
    elif change == "rehashed":
        tokens.filter(password_fingerprint=fingerprint(old_hash)).update(
            password_fingerprint=fingerprint(instance.password)
        )
