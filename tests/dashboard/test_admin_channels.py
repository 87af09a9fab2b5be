"""Admins configure alert channels: write-only URL (it holds tokens), send test, audit."""

import re

import pytest

from jobs.models import AlertChannel, AuditEvent

from ..jobs.test_alerts import Receiver


@pytest.fixture
def admin_client(client, django_user_model):
    client.force_login(django_user_model.objects.create_superuser("ada", "ada@example.com", "x" * 12))
    return client


@pytest.mark.django_db
def test_channel_url_is_write_only_and_send_test_works(admin_client, settings) -> None:
    settings.ALERT_CHANNEL_ALLOWED_HOSTS = ["127.0.0.1"]  # the receiver is an internal webhook
    receiver = Receiver()
    try:
        secret_url = receiver.url + "?token=hook-secret-123"
        response = admin_client.post(
            "/admin/jobs/alertchannel/add/",
            {
                "name": "ops",
                "enabled": "on",
                "vendor": "",
                "min_consecutive_failures": "1",
                "new_url": secret_url,
            },
        )
        assert response.status_code == 302, response.content.decode()[:2000]
        channel = AlertChannel.objects.get()
        assert channel.url == secret_url and "hook-secret-123" not in channel.url_token
        page = admin_client.get(f"/admin/jobs/alertchannel/{channel.pk}/change/").content.decode()
        assert "hook-secret-123" not in page
        listing = admin_client.post(
            "/admin/jobs/alertchannel/",
            {"action": "send_test", "index": 0, "select_across": 0, "_selected_action": [channel.pk]},
            follow=True,
        ).content.decode()
        assert "Ops: sent in" in listing  # the admin capitalizes messages
        assert receiver.received and receiver.received[0]["title"].startswith("[TEST]")
        assert AuditEvent.objects.filter(action="channel.test", outcome="ok").exists()
    finally:
        receiver.close()


@pytest.mark.django_db
def test_unknown_channel_url_is_refused_with_a_reason(admin_client) -> None:
    response = admin_client.post(
        "/admin/jobs/alertchannel/add/",
        {
            "name": "bad",
            "enabled": "on",
            "min_consecutive_failures": "1",
            "new_url": "nosuch://x",
        },
    )
    assert response.status_code == 200 and "apprise does not understand this URL" in response.content.decode()
    assert not AlertChannel.objects.exists()


@pytest.mark.django_db
def test_channel_events_are_checkboxes_of_the_known_kinds(admin_client, settings) -> None:
    settings.ALERT_CHANNEL_ALLOWED_HOSTS = ["127.0.0.1"]
    page = admin_client.get("/admin/jobs/alertchannel/add/").content.decode()
    for kind in AlertChannel.EVENTS:
        assert f'type="checkbox" name="events" value="{kind}"' in page
    form = {"name": "pager", "enabled": "on", "min_consecutive_failures": "1", "new_url": "json://127.0.0.1:9/h"}
    response = admin_client.post("/admin/jobs/alertchannel/add/", {**form, "events": ["recovered", "failed"]})
    assert response.status_code == 302, response.content.decode()[:2000]
    channel = AlertChannel.objects.get(name="pager")
    assert channel.events == ["failed", "recovered"]
    page = admin_client.get(f"/admin/jobs/alertchannel/{channel.pk}/change/").content.decode()
    assert re.search(r'<input type="checkbox" name="events" value="failed"[^>]* checked>', page)
    assert not re.search(r'<input type="checkbox" name="events" value="stuck"[^>]* checked>', page)
    refused = admin_client.post("/admin/jobs/alertchannel/add/", {**form, "name": "bad", "events": ["bogus"]})
    assert refused.status_code == 200 and "Select a valid choice" in refused.content.decode()
    assert not AlertChannel.objects.filter(name="bad").exists()
