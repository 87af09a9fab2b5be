"""The three roles as Django groups, created after every migrate (changes are audited by jobs.audit).

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
