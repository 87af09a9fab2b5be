"""The three roles as Django groups, created after every migrate (changes are audited by jobs.audit).

viewer: reads everything but secrets. operator: also acts on pipelines. admin: also
accounts, credentials, alert channels, users and roles (the Django admin). A user in no
role group (and not a superuser) sees nothing but a page asking for a role.

The checks (`is_admin`, `lacks`, ...) live here too: the admin site (jobs/admin.py) asks
them, and jobs/ imports nothing from dashboard/; dashboard/roles.py re-exports them."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import Group, Permission

ROLES = ("viewer", "operator", "admin")
ADMIN_APPS = ("jobs", "auth", "axes")


def ensure_roles(**kwargs: Any) -> None:
    groups = {name: Group.objects.get_or_create(name=name)[0] for name in ROLES}
    groups["admin"].permissions.set(Permission.objects.filter(content_type__app_label__in=ADMIN_APPS))


# -- who may do what ------------------------------------------------------------------
VIEWER, OPERATOR, ADMIN = "viewer", "operator", "admin"
NO_ROLE = "Your account has no role yet: ask an admin for a role (viewer, operator or admin)."


def _groups(user: Any) -> set[str]:
    if not getattr(user, "is_authenticated", False):
        return set()
    cache = getattr(user, "_pw_groups", None)
    if cache is None:
        cache = set(user.groups.values_list("name", flat=True))
        user._pw_groups = cache
    return cache


def is_admin(user: Any) -> bool:
    return bool(getattr(user, "is_superuser", False)) or ADMIN in _groups(user)


def is_operator(user: Any) -> bool:
    return is_admin(user) or OPERATOR in _groups(user)


_CHECKS = {OPERATOR: is_operator, ADMIN: is_admin}


def lacks(request: Any, role: str) -> bool:
    """True when the request's user lacks `role`. The 403 that follows is audited once, by
    dashboard.auditing, which reads the role needed from `request.refused_role`."""
    if _CHECKS[role](request.user):
        return False
    request.refused_role = role
    return True


def has_role(user: Any) -> bool:
    return bool(getattr(user, "is_superuser", False)) or bool({VIEWER, OPERATOR, ADMIN} & _groups(user))


def may_use_admin(request: Any) -> bool:
    """The Django admin is for the admin role only (superusers included), staff flag or not."""
    return bool(request.user.is_active) and is_admin(request.user)


def refuses_admin(request: Any) -> bool:
    """A signed-in user without the admin role is refused the admin (a 403, audited), not shown
    the admin's login form for someone else; an anonymous visitor gets that form."""
    return bool(request.user.is_authenticated) and lacks(request, ADMIN)
