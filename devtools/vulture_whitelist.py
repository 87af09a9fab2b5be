# ruff: noqa: B018  (each line is an expression that names what is used)
"""Names vulture (`make lint`, [tool.vulture] in pyproject.toml) cannot see used: a framework,
a template or a string uses them. Not imported by anything; vulture reads it with the code.

A new finding is dead code to delete, or a name something calls implicitly: add it here,
under its reason. Only names count (`_.anchor` covers every `anchor`), not where they are.
"""

from __future__ import annotations


class _Names:
    def __getattr__(self, name: str) -> str:
        return name


_ = _Names()

# Templates read them (templates/dashboard/*.html).
_.anchor  # dashboard.timeline.Tick
_.chosen_vendor  # dashboard.forms
_.missing_labels  # jobs.failures.Incident
_.points  # dashboard.timeline.ProgressChart
_.secret_fields  # dashboard.forms
_.setting_fields  # dashboard.forms
_.waiting_long  # jobs.models.Upload

# Model fields only indexes, orderings, update(...) or SQL name as strings.
_.claimed_at
_.next_attempt_at
_.processed_at
_.sent_at
_.sort_name
_.updated_at
_.urgency

# django-ninja: NinjaAPI hooks and output schema fields.
_.health_reason
_.parse_body
_.path_params
_.pipeline_name
_.render_page

# Django: admin site and form fields, a form field hook, handler404 ("dashboard.views.errors.not_found").
_.has_permission
_.new_credentials
_.new_url
_.not_found
_.site_header
_.validate
_.validators

# kombu's virtual transport hooks (dashboard.broker).
_._put
_._queue_bind

# Set on instances by signal handlers and read back through instance.__dict__ (jobs.audit).
_._audit_before
_._audit_cleared

# Called by migration 0023 (jobs.health_counts.uninstall); __exit__'s traceback parameter.
_.uninstall
_.tb

# Only dashboard/settings.py (not scanned: every setting is read by name by Django) calls it.
_.positive

# Operations the pages and API call by name (vendors.posthog OPERATIONS tuples).
_.resync
_.retry_interval
_.unpause_backfill

# requests.Session options (vendors.http).
_.trust_env
_.verify

# Tests: fixtures requested for their effect, settings and connection attributes set for Django to read.
_.CSRF_COOKIE_AGE
_.DATA_UPLOAD_MAX_MEMORY_SIZE
_.SESSION_EXPIRE_AT_BROWSER_CLOSE
_.first_name
_.force_debug_cursor
_.product_at_t0
_.transactional_db
