from django.apps import AppConfig
from django.conf import settings
from django.db.models.signals import post_migrate, post_save, pre_save


class JobsConfig(AppConfig):
    name = "jobs"
    verbose_name = "Jobs"

    def ready(self) -> None:
        from django.contrib.auth import get_user_model

        from . import audit, health_counts
        from .roles import ensure_roles
        from .scrubbing import install_log_scrubbing, remember
        from .tokens import apply_credential_change, note_credential_change

        install_log_scrubbing()
        remember("settings", settings_secrets())

        user_model = get_user_model()
        post_migrate.connect(ensure_roles, sender=self)
        post_migrate.connect(health_counts.installed, sender=self)
        audit.connect()
        pre_save.connect(note_credential_change, sender=user_model)
        post_save.connect(apply_credential_change, sender=user_model)


def settings_secrets() -> dict[str, str]:
    """Our own secrets, for the log scrubber. Random by nature; database and broker
    passwords are left out: often a plain word ("pipewatch"), blanking it would blank the text."""
    found = {"secret_key": settings.SECRET_KEY, "metrics_token": settings.METRICS_TOKEN}
    if settings.SECRET_KEY == settings.INSECURE_SECRET_KEY:
        del found["secret_key"]  # the published development key: no secret
    found.update({f"credentials_key_{i}": key for i, key in enumerate(settings.CREDENTIALS_KEYS)})
    return {k: v for k, v in found.items() if v}
