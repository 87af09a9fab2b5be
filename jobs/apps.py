from django.apps import AppConfig
from django.conf import settings
from django.db.models.signals import m2m_changed, post_migrate


class JobsConfig(AppConfig):
    name = "jobs"
    verbose_name = "Jobs"

    def ready(self) -> None:
        from django.contrib.auth import get_user_model

        from .roles import audit_role_change, ensure_roles
        from .scrubbing import install_log_scrubbing, remember

        install_log_scrubbing()
        remember("settings", settings_secrets())

        post_migrate.connect(ensure_roles, sender=self)
        m2m_changed.connect(audit_role_change, sender=get_user_model().groups.through)


def settings_secrets() -> dict[str, str]:
    """Our own secrets, for the log scrubber. Random by nature; database and broker
    passwords are left out: often a plain word ("pipewatch"), blanking it would blank the text."""
    found = {"secret_key": settings.SECRET_KEY, "metrics_token": settings.METRICS_TOKEN}
    if settings.SECRET_KEY == settings.INSECURE_SECRET_KEY:
        del found["secret_key"]  # the published development key: no secret
    found.update({f"credentials_key_{i}": key for i, key in enumerate(settings.CREDENTIALS_KEYS)})
    return {k: v for k, v in found.items() if v}
