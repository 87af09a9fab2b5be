from datetime import timedelta

import pytest
from django.utils import timezone

from jobs.models import AuditEvent


@pytest.mark.django_db
def test_audit_lists_filters_and_escapes(logged_in, viewer) -> None:
    now = timezone.now()
    AuditEvent.objects.create(
        actor=viewer,
        action="pipeline.cancel",
        target_label="mp/export/x",
        outcome="refused",
        detail={"error": "<script>x</script>"},
    )
    AuditEvent.objects.create(actor_label="apply_config", action="config.apply", target_label="config")
    old = AuditEvent.objects.create(actor_label="apply_config", action="config.apply", target_label="old")
    AuditEvent.objects.filter(pk=old.pk).update(at=now - timedelta(days=40))
    html = logged_in.get("/audit/").content.decode()
    # The row's outcome, not the page's own words ("including refused attempts") or the filter's options.
    refused = '<span class="outcome outcome-refused">refused</span>'
    assert "pipeline.cancel" in html and refused in html and "&lt;script&gt;" in html and "<script>x" not in html
    only_refused = logged_in.get("/audit/?outcome=refused").content.decode()
    assert "pipeline.cancel" in only_refused and "config.apply</code>" not in only_refused
    by_command = logged_in.get("/audit/?who=apply_config").content.decode()
    assert "pipeline.cancel</code>" not in by_command and "config.apply</code>" in by_command
    recent = logged_in.get(f"/audit/?since={(now - timedelta(days=7)):%Y-%m-%d}").content.decode()
    assert ">old<" not in recent and ">config<" in recent


@pytest.mark.django_db
def test_audit_cannot_be_changed_from_the_admin(client, django_user_model) -> None:
    client.force_login(django_user_model.objects.create_superuser("root", "r@example.com", "x" * 12))
    event = AuditEvent.objects.create(actor_label="t", action="config.apply")
    assert client.get("/admin/jobs/auditevent/add/").status_code == 403
    client.post(f"/admin/jobs/auditevent/{event.pk}/change/", {"action": "forged"})
    client.post(f"/admin/jobs/auditevent/{event.pk}/delete/", {"post": "yes"})
    event.refresh_from_db()
    assert event.action == "config.apply"
