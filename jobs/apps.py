from django.apps import AppConfig
from django.db.models.signals import post_migrate


class JobsConfig(AppConfig):
    name = "jobs"
    verbose_name = "Jobs"

    def ready(self) -> None:
        from . import audit
        from .roles import ensure_roles

        post_migrate.connect(ensure_roles, sender=self)
        audit.connect()
