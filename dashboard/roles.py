"""Who may do what: viewer (reads), operator (acts on pipelines), admin (configures).

Roles are Django groups named after them; superusers are admins. A signed-in user with no
role sees nothing (dashboard/access.py). Kept in one place so views, the API and templates
ask the same question; `lacks()` is the question a refusing check asks, and it leaves the
answer on the request for the audit log (dashboard.auditing)."""

from __future__ import annotations

from typing import Any

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
