from django.apps import AppConfig
from django.db.models.signals import m2m_changed, post_migrate


class JobsConfig(AppConfig):
    name = "jobs"
    verbose_name = "Jobs"

    def ready(self) -> None:
        from django.contrib.auth import get_user_model

        from .roles import audit_role_change, ensure_roles

        post_migrate.connect(ensure_roles, sender=self)
        m2m_changed.connect(audit_role_change, sender=get_user_model().groups.through)
