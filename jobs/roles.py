"""The three roles as Django groups, created after every migrate, and audit of changes.

viewer: reads everything but secrets. operator: also acts on pipelines. admin: also
accounts, credentials, alert channels, users and roles (the Django admin). A user in no
role group (and not a superuser) sees nothing but a page asking for a role."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import Group, Permission

ROLES = ("viewer", "operator", "admin")
ADMIN_APPS = ("jobs", "auth", "axes")


def ensure_roles(**kwargs: Any) -> None:
    groups = {name: Group.objects.get_or_create(name=name)[0] for name in ROLES}
    groups["admin"].permissions.set(Permission.objects.filter(content_type__app_label__in=ADMIN_APPS))


def audit_role_change(
    sender: Any, instance: Any, action: str, pk_set: set[int] | None, model: Any, **kwargs: Any
) -> None:
    if action not in ("post_add", "post_remove", "post_clear") or model is not Group:
        return
    from .models import AuditEvent

    names = sorted(Group.objects.filter(pk__in=pk_set or ()).values_list("name", flat=True))
    AuditEvent.objects.create(
        actor_label="(admin)",
        action="role.changed",
        target_type="user",
        target_label=str(instance),
        detail={"change": action.removeprefix("post_"), "groups": names},
    )
