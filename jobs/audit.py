"""The audit log's one way in: `record()` writes every entry and names who acted.

Who acted is passed in, or bound for a stretch of work with `acting_as()`: the web binds
the request's user (dashboard.auditing), commands bind their name, anything else is
"manage.py <command>" or "system". Model hooks (`connect()`) audit what the Django admin,
config as code or a shell change on the objects that decide who may act and who is told:
users and their roles, accounts, alert channels, API tokens, maintenance windows, and
pipeline names, mutes and thresholds. Writes that do not touch those fields (polling,
alerting) cost nothing here."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import models
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_save

from .models import Account, AlertChannel, ApiToken, AuditEvent, MaintenanceWindow, Pipeline, Team

_acting: ContextVar[Any] = ContextVar("pipewatch_audit_actor", default=None)


@contextmanager
def acting_as(actor: Any) -> Iterator[None]:
    """Entries written inside name `actor`: a user, a name, or a callable returning one
    (called when an entry is written: an API token's user is known only inside the view)."""
    token = _acting.set(actor)
    try:
        yield
    finally:
        _acting.reset(token)


def current_actor() -> Any:
    actor = _acting.get()
    if callable(actor):
        actor = actor()
    return _process_name() if actor is None else actor


def _process_name() -> str:
    """Outside any request or bound command: the management command, if that is what runs."""
    if len(sys.argv) > 1 and os.path.basename(sys.argv[0]) == "manage.py":
        return f"manage.py {sys.argv[1]}"
    return "system"


def _who(actor: Any) -> tuple[Any, str]:
    if getattr(actor, "pk", None) is not None and hasattr(actor, "get_username"):
        return actor, actor.get_username()
    if getattr(actor, "is_anonymous", False):
        return None, "anonymous"
    return None, str(actor or "system")


def _text(value: object, limit: int) -> str:
    return str(value).replace("\x00", "")[:limit]


def storable(value: Any) -> Any:
    """JSON that PostgreSQL keeps: no NUL (jsonb refuses it), dates as ISO text."""
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, dict):
        return {_text(k, 10_000): storable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [storable(v) for v in value]
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if value is None or isinstance(value, bool | int | float):
        return value
    return storable(str(value))


def record(
    action: str,
    *,
    target_type: str = "",
    target_label: str = "",
    outcome: str = "ok",
    detail: dict[str, Any] | None = None,
    actor: Any = None,
) -> AuditEvent:
    """Write one entry. `actor`: a user or a name; by default whoever `acting_as` bound."""
    user, name = _who(current_actor() if actor is None else actor)
    kept = storable(detail or {})  # every entry's detail passes here: redact secrets here
    return AuditEvent.objects.create(
        actor=user,
        actor_label=_text(name, 150),
        action=_text(action, 60),
        target_type=_text(target_type, 40),
        target_label=_text(target_label, 255),
        outcome=_text(outcome, 20),
        detail=kept,
    )


# ---- model hooks ---------------------------------------------------------------------


@dataclass(frozen=True)
class Tracked:
    """How one model is audited: `<kind>.created|changed|deleted` entries."""

    kind: str
    fields: tuple[str, ...]  # changes worth an entry, with their values
    # Fields whose values never enter the log, by the attribute compared (decrypted, so
    # re-encrypting the same secret is no change): the entry says only "<attr>_changed".
    secrets: dict[str, str] = field(default_factory=dict)
    label: Callable[[Any], str] = str
    created: Callable[[Any], bool] = lambda obj: True  # is a new row worth an entry?


def _pipeline_label(p: Pipeline) -> str:
    return f"{p.account.name}/{p.kind}/{p.external_id}"


def _token_label(t: ApiToken) -> str:
    return f"{t.user.get_username()}: {t.name or 'unnamed'} (#{t.pk})"  # never its prefix


def _window_label(w: MaintenanceWindow) -> str:
    scope = _pipeline_label(w.pipeline) if w.pipeline_id else (w.account.name if w.account_id else "everything")
    return f"{scope} {w.starts_at:%Y-%m-%d %H:%M}–{w.ends_at:%Y-%m-%d %H:%M}"


def _tracked() -> dict[type[models.Model], Tracked]:
    return {
        get_user_model(): Tracked(
            "user",
            ("username", "is_active", "is_staff", "is_superuser"),
            secrets={"password": "password", "email": "email"},
            label=lambda u: u.get_username(),
        ),
        Account: Tracked(
            "account",
            ("name", "vendor", "region", "base_url", "settings", "team"),
            secrets={"credentials_token": "credentials"},
        ),
        AlertChannel: Tracked(
            "channel",
            ("name", "enabled", "vendor", "account", "pipeline", "events", "min_consecutive_failures"),
            secrets={"url_token": "url"},
        ),
        Team: Tracked("team", ("slug", "name")),
        ApiToken: Tracked("token", ("user", "name", "scope", "expires_at"), label=_token_label),
        MaintenanceWindow: Tracked(
            "maintenance", ("starts_at", "ends_at", "account", "pipeline", "reason"), label=_window_label
        ),
        # Discovered pipelines are the poller's doing; created ones have their pipeline.create entry.
        Pipeline: Tracked(
            "pipeline",
            (
                "name",
                "config",
                "paused",
                "muted_until",
                "expected_every_seconds",
                "stuck_after_seconds",
                "team",
                "empty_day_is_failure",
            ),
            label=_pipeline_label,
            created=lambda p: p.source not in ("discovered", "created"),
        ),
    }


TRACKED: dict[type[models.Model], Tracked] = {}
_UNREADABLE = object()  # a secret no configured key decrypts: never equal to anything


def _value(obj: models.Model, name: str) -> Any:
    f = obj._meta.get_field(name)
    if f.is_relation:
        related = getattr(obj, name)
        return None if related is None else str(related)
    return storable(getattr(obj, f.attname))


def _secret(obj: models.Model, attr: str) -> Any:
    try:
        return getattr(obj, attr)
    except Exception:  # undecryptable with the current keys
        return _UNREADABLE


def _snapshot(spec: Tracked, obj: models.Model, names: set[str]) -> dict[str, Any]:
    values = {n: _value(obj, n) for n in spec.fields if n in names}
    values.update({attr: _secret(obj, attr) for n, attr in spec.secrets.items() if n in names})
    return values


def _watched(spec: Tracked, update_fields: Any) -> set[str]:
    watched = {*spec.fields, *spec.secrets}
    return watched if update_fields is None else watched & set(update_fields)


def _before_save(sender: Any, instance: Any, raw: bool = False, update_fields: Any = None, **kw: Any) -> None:
    spec = TRACKED[sender]
    names = _watched(spec, update_fields)
    old = sender._base_manager.filter(pk=instance.pk).first() if names and instance.pk is not None and not raw else None
    instance._audit_before = None if old is None else (names, _snapshot(spec, old, names))


def _after_save(sender: Any, instance: Any, created: bool, raw: bool = False, **kw: Any) -> None:
    spec = TRACKED[sender]
    before = instance.__dict__.pop("_audit_before", None)
    if raw:
        return
    label = spec.label(instance)
    if created:
        if spec.created(instance):
            values = {n: _value(instance, n) for n in spec.fields}
            flags = {f"{a}_changed": bool(_secret(instance, a)) for a in spec.secrets.values()}
            record(
                f"{spec.kind}.created", target_type=spec.kind, target_label=label, detail={"values": values, **flags}
            )
        if getattr(instance, "is_superuser", False) and spec.kind == "user":
            record("role.changed", target_type="user", target_label=label, detail={"superuser": "granted"})
        return
    if before is None:
        return
    names, old = before
    new = _snapshot(spec, instance, names)
    changes = {n: {"from": old[n], "to": new[n]} for n in spec.fields if n in names and old[n] != new[n]}
    flags = {f"{a}_changed": old[a] is _UNREADABLE or old[a] != new[a] for n, a in spec.secrets.items() if n in names}
    if spec.kind == "user" and (superuser := changes.pop("is_superuser", None)):
        granted = "granted" if superuser["to"] else "revoked"
        record("role.changed", target_type="user", target_label=label, detail={"superuser": granted})
    if changes or any(flags.values()):
        record(f"{spec.kind}.changed", target_type=spec.kind, target_label=label, detail={"changes": changes, **flags})


def _after_delete(sender: Any, instance: Any, origin: Any = None, **kw: Any) -> None:
    """One entry for what was deleted, not for each row its deletion took along."""
    direct = origin is instance or (
        isinstance(origin, models.Model) and type(origin) is sender and origin.pk == instance.pk
    )
    if direct or (isinstance(origin, models.QuerySet) and origin.model is sender):
        spec = TRACKED[sender]
        record(f"{spec.kind}.deleted", target_type=spec.kind, target_label=spec.label(instance))


def _groups_changed(sender: Any, instance: Any, action: str, reverse: bool, pk_set: set[int] | None, **kw: Any) -> None:
    """Roles are groups: `user.groups.add(...)` and `group.user_set.add(...)` alike."""
    User = get_user_model()
    if action == "pre_clear":  # the cleared rows are gone by post_clear: name them now
        related = instance.user_set.all() if reverse else instance.groups.all()
        instance._audit_cleared = {obj.pk for obj in related}
        return
    if action not in ("post_add", "post_remove", "post_clear"):
        return
    pks = instance.__dict__.pop("_audit_cleared", set()) if action == "post_clear" else pk_set or set()
    change = action.removeprefix("post_")
    if reverse:  # a group gained or lost users
        for user in User._base_manager.filter(pk__in=pks).order_by("pk"):
            record(
                "role.changed",
                target_type="user",
                target_label=user.get_username(),
                detail={"change": change, "groups": [instance.name]},
            )
    elif pks:
        names = sorted(Group.objects.filter(pk__in=pks).values_list("name", flat=True))
        record(
            "role.changed",
            target_type="user",
            target_label=instance.get_username(),
            detail={"change": change, "groups": names},
        )


def connect() -> None:
    """Called once from JobsConfig.ready()."""
    TRACKED.update(_tracked())
    for model in TRACKED:
        uid = f"audit-{model._meta.label_lower}"
        pre_save.connect(_before_save, sender=model, dispatch_uid=uid)
        post_save.connect(_after_save, sender=model, dispatch_uid=uid)
        post_delete.connect(_after_delete, sender=model, dispatch_uid=uid)
    m2m_changed.connect(_groups_changed, sender=get_user_model().groups.through, dispatch_uid="audit-user-groups")
