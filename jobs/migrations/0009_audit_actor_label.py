"""Audit entries keep who wrote them by name: fill the name on entries written before,
so deleting a user no longer turns their entries into "system"."""

from django.conf import settings
from django.db import migrations, models
from django.db.models import OuterRef, Subquery


def name_actors(apps, schema_editor):
    AuditEvent = apps.get_model("jobs", "AuditEvent")
    User = apps.get_model(*settings.AUTH_USER_MODEL.split("."))
    username = User._meta.get_field(getattr(User, "USERNAME_FIELD", "username")).attname
    AuditEvent.objects.filter(actor__isnull=False, actor_label="").update(
        actor_label=Subquery(User.objects.filter(pk=OuterRef("actor_id")).values(username)[:1])
    )


class Migration(migrations.Migration):

    dependencies = [
        ("jobs", "0008_pipeline_health_status"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterField(
            model_name="auditevent",
            name="actor_label",
            field=models.CharField(
                blank=True,
                help_text="Who: the user's name when it was written (kept after the user is deleted), or a command.",
                max_length=150,
            ),
        ),
        migrations.RunPython(name_actors, migrations.RunPython.noop),
    ]
