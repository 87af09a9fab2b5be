"""API tokens expire, carry a scope and end with their owner's password. Tokens issued
before keep working as they did (operate scope, bound to today's password) until
API_TOKEN_DAYS from now."""

import hashlib
from datetime import timedelta

from django.conf import settings
from django.db import migrations, models
from django.utils import timezone


def bind_existing(apps, schema_editor):
    ApiToken = apps.get_model("jobs", "ApiToken")
    expires = timezone.now() + timedelta(days=settings.API_TOKEN_DAYS)
    for token in ApiToken.objects.select_related("user"):
        token.scope = "operate"
        token.expires_at = expires
        # jobs.tokens.fingerprint, frozen here as migrations must be
        token.password_fingerprint = (
            hashlib.sha256(f"pipewatch-api-token:{token.user.password}".encode()).hexdigest()
            if token.user.is_active
            else ""
        )
        token.save(update_fields=["scope", "expires_at", "password_fingerprint"])


class Migration(migrations.Migration):
    dependencies = [
        ("jobs", "0009_audit_actor_label"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterModelOptions(name="apitoken", options={"ordering": ["-created_at", "-id"]}),
        migrations.AddField(
            model_name="apitoken",
            name="scope",
            field=models.CharField(choices=[("read", "read"), ("operate", "operate")], default="read", max_length=10),
        ),
        migrations.AddField(model_name="apitoken", name="expires_at", field=models.DateTimeField(null=True)),
        migrations.AddField(
            model_name="apitoken", name="password_fingerprint", field=models.CharField(blank=True, max_length=64)
        ),
        migrations.RunPython(bind_existing, migrations.RunPython.noop),
        migrations.AlterField(model_name="apitoken", name="expires_at", field=models.DateTimeField()),
    ]
