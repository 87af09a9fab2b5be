"""Who may do what: viewer (reads), operator (acts on pipelines), admin (configures).

Roles are Django groups named after them; superusers are admins. A signed-in user with no
role sees nothing (dashboard/access.py). Kept in one place so views, the API and templates
ask the same question; `lacks()` is the question a refusing check asks, and it leaves the
answer on the request for the audit log (dashboard.auditing)."""

from __future__ import annotations

from jobs.roles import ADMIN, NO_ROLE, OPERATOR, VIEWER, has_role, is_admin, is_operator, lacks

__all__ = ["ADMIN", "NO_ROLE", "OPERATOR", "VIEWER", "has_role", "is_admin", "is_operator", "lacks"]
