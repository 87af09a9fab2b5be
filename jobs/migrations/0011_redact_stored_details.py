"""Audit details and pipeline configs written before `jobs.redaction.redact` existed kept
nested secrets (extra.client_secret, sas_key): redact them in place, once."""

from django.db import migrations


def redact_stored(apps, schema_editor):
    from jobs.redaction import redact

    for model, field in (("AuditEvent", "detail"), ("Pipeline", "config")):
        rows = apps.get_model("jobs", model).objects
        for pk, value in rows.values_list("pk", field).iterator(chunk_size=1000):
            if (clean := redact(value)) != value:
                rows.filter(pk=pk).update(**{field: clean})


class Migration(migrations.Migration):
    dependencies = [("jobs", "0010_token_expiry_scope")]

    operations = [migrations.RunPython(redact_stored, migrations.RunPython.noop)]
