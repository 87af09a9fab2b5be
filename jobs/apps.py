from django.apps import AppConfig
from django.db.models.signals import post_migrate, post_save, pre_save


class JobsConfig(AppConfig):
    name = "jobs"
    verbose_name = "Jobs"

    def ready(self) -> None:
        from django.contrib.auth import get_user_model

        from . import audit
        from .roles import ensure_roles
        from .tokens import apply_credential_change, note_credential_change

        user_model = get_user_model()
        post_migrate.connect(ensure_roles, sender=self)
        audit.connect()
        pre_save.connect(note_credential_change, sender=user_model)
        post_save.connect(apply_credential_change, sender=user_model)
