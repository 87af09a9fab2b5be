"""Changes made in the Django admin are audited naming the admin who made them: roles and
superuser, channels, tokens, mutes, thresholds, maintenance windows; a deleted user's
entries keep their name."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from django.contrib.auth.models import Group

from dashboard.auth import issue_token
from jobs.models import AlertChannel, ApiToken, AuditEvent, MaintenanceWindow


class _AdminForm(HTMLParser):
    """What a browser would submit from the admin's change form, as shown."""

    def __init__(self) -> None:
        super().__init__()
        self.data: dict[str, list[str]] = {}
        self._in_form = False
        self._select: str | None = None
        self._first_option: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list) -> None:
        a = dict(attrs)
        if tag == "form" and (a.get("id") or "").endswith("_form"):
            self._in_form = True
        if not self._in_form:
            return
        name = a.get("name")
        if tag == "input" and name:
            kind = a.get("type", "text")
            if kind in ("submit", "button", "image", "file") or (kind in ("checkbox", "radio") and "checked" not in a):
                return
            self.data.setdefault(name, []).append(a.get("value") or ("on" if kind == "checkbox" else ""))
        elif tag == "select" and name:
            self._select, self._first_option = name, None
            self._multiple = "multiple" in a
            self.data.setdefault(name, [])
        elif tag == "option" and self._select:
            value = a.get("value") or ""
            if self._first_option is None:
                self._first_option = value
            if "selected" in a:
                self.data[self._select].append(value)
        elif tag == "textarea" and name:
            self._textarea = name
            self.data[name] = [""]

    def handle_endtag(self, tag: str) -> None:
        if tag == "select" and self._select:
            if not self.data[self._select] and not self._multiple and self._first_option is not None:
                self.data[self._select] = [self._first_option]
            self._select = None
        elif tag == "textarea":
            self._textarea = None
        elif tag == "form":
            self._in_form = False

    def handle_data(self, data: str) -> None:
        if self._textarea:
            self.data[self._textarea][-1] += data


def admin_form(client, url: str, **changes: object) -> dict[str, object]:
    page = client.get(url)
    assert page.status_code == 200, url
    parser = _AdminForm()
    parser.feed(page.content.decode())
    data: dict[str, object] = {k: v if len(v) != 1 else v[0].removeprefix("\n") for k, v in parser.data.items()}
    for key, value in changes.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    return data


def post_admin_form(client, url: str, **changes: object) -> None:
    response = client.post(url, admin_form(client, url, **changes))
    assert response.status_code == 302, response.content.decode()[:3000]


@pytest.fixture
def ada(django_user_model):
    return django_user_model.objects.create_superuser("ada", "ada@example.com", "x" * 12)


@pytest.fixture
def admin_client(client, ada):
    client.force_login(ada)
    return client


@pytest.fixture
def bob(django_user_model):
    return django_user_model.objects.create_user("bob", "bob@example.com", "y" * 12)


def by_ada(action: str, **filters: object) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action, actor__username="ada", actor_label="ada", **filters))


@pytest.mark.django_db
def test_superuser_grant_and_group_changes_in_the_admin_name_the_admin(admin_client, bob) -> None:
    url = f"/admin/auth/user/{bob.pk}/change/"
    operator = Group.objects.get(name="operator")
    post_admin_form(admin_client, url, is_superuser="on", groups=[str(operator.pk)])
    bob.refresh_from_db()
    assert bob.is_superuser and list(bob.groups.values_list("name", flat=True)) == ["operator"]
    details = [e.detail for e in by_ada("role.changed", target_label="bob")]
    assert len(details) == 2 and {"superuser": "granted"} in details
    assert {"change": "add", "groups": ["operator"]} in details

    post_admin_form(admin_client, url, is_superuser=None, groups=None)
    details = [e.detail for e in by_ada("role.changed", target_label="bob")]
    assert {"superuser": "revoked"} in details and {"change": "remove", "groups": ["operator"]} in details
    assert not AuditEvent.objects.filter(actor_label="(admin)").exists()


@pytest.mark.django_db
def test_a_user_created_as_superuser_outside_any_request_is_a_role_change(django_user_model) -> None:
    django_user_model.objects.create_superuser("root2", "r@example.com", "x" * 12)
    event = AuditEvent.objects.get(action="role.changed", target_label="root2")
    assert event.detail == {"superuser": "granted"} and event.actor is None and event.actor_label


@pytest.mark.django_db
def test_channel_create_change_delete_are_audited_without_the_url(admin_client, settings) -> None:
    settings.ALERT_CHANNEL_ALLOWED_HOSTS = ["hooks.example.com"]  # no DNS here: listed, not resolved
    channel = AlertChannel(name="ops", events=[])
    channel.url = "json://hooks.example.com/x?token=hook-secret-123"
    channel.save()
    url = f"/admin/jobs/alertchannel/{channel.pk}/change/"
    post_admin_form(admin_client, url, min_consecutive_failures="3", new_url="json://hooks.example.com/y?token=t-456")
    [changed] = by_ada("channel.changed", target_label="ops")
    assert changed.detail["changes"] == {"min_consecutive_failures": {"from": 1, "to": 3}}
    assert changed.detail["url_changed"] is True
    response = admin_client.post(f"/admin/jobs/alertchannel/{channel.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302 and not AlertChannel.objects.exists()
    assert len(by_ada("channel.deleted", target_label="ops")) == 1
    everything = str(list(AuditEvent.objects.values()))
    assert "hook-secret-123" not in everything and "t-456" not in everything


@pytest.mark.django_db
def test_token_delete_is_audited_without_any_of_the_token(admin_client, bob) -> None:
    token = issue_token(bob, "ci")
    api_token = ApiToken.objects.get()
    created = AuditEvent.objects.get(action="token.created")
    assert created.target_label == f"bob: ci (#{api_token.pk})"
    response = admin_client.post(f"/admin/jobs/apitoken/{api_token.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302 and not ApiToken.objects.exists()
    [deleted] = by_ada("token.deleted")
    assert deleted.target_label == f"bob: ci (#{api_token.pk})"
    everything = str(list(AuditEvent.objects.values()))
    assert token[3:10] not in everything and api_token.digest not in everything


@pytest.mark.django_db
def test_mute_and_threshold_changes_in_the_admin_are_audited(admin_client, make_pipeline) -> None:
    pipeline = make_pipeline("c1", name="Events")
    url = f"/admin/jobs/pipeline/{pipeline.pk}/change/"
    post_admin_form(
        admin_client,
        url,
        muted_until_0="2030-01-02",
        muted_until_1="03:04:05",
        expected_every_seconds="3600",
        stuck_after_seconds="900",
    )
    [event] = by_ada("pipeline.changed", target_label="mp-test/import_connector/c1")
    changes = event.detail["changes"]
    assert set(changes) == {"muted_until", "expected_every_seconds", "stuck_after_seconds"}
    assert changes["expected_every_seconds"] == {"from": None, "to": 3600}
    assert changes["stuck_after_seconds"] == {"from": None, "to": 900}
    assert changes["muted_until"]["from"] is None and changes["muted_until"]["to"].startswith("2030-01-02T")

    post_admin_form(admin_client, url, muted_until_0="", muted_until_1="")
    unmuted = by_ada("pipeline.changed", target_label="mp-test/import_connector/c1")[0]
    assert set(unmuted.detail["changes"]) == {"muted_until"} and unmuted.detail["changes"]["muted_until"]["to"] is None


@pytest.mark.django_db
def test_maintenance_windows_are_audited(admin_client, mp_account) -> None:
    response = admin_client.post(
        "/admin/jobs/maintenancewindow/add/",
        {
            "starts_at_0": "2030-01-01",
            "starts_at_1": "10:00:00",
            "ends_at_0": "2030-01-01",
            "ends_at_1": "12:00:00",
            "account": str(mp_account.pk),
            "reason": "vendor upgrade",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    window = MaintenanceWindow.objects.get()
    [created] = by_ada("maintenance.created")
    assert created.detail["values"]["reason"] == "vendor upgrade" and created.detail["values"]["account"] == "mp-test"
    post_admin_form(admin_client, f"/admin/jobs/maintenancewindow/{window.pk}/change/", ends_at_1="14:00:00")
    [changed] = by_ada("maintenance.changed")
    assert set(changed.detail["changes"]) == {"ends_at"}
    admin_client.post(f"/admin/jobs/maintenancewindow/{window.pk}/delete/", {"post": "yes"})
    assert not MaintenanceWindow.objects.exists() and len(by_ada("maintenance.deleted")) == 1


@pytest.mark.django_db
def test_bulk_delete_in_the_admin_audits_each_row(admin_client) -> None:
    for name in ("a", "b"):
        channel = AlertChannel(name=name, events=[])
        channel.url = "json://hooks.example.com/"
        channel.save()
    ids = [str(pk) for pk in AlertChannel.objects.values_list("pk", flat=True)]
    admin_client.post(
        "/admin/jobs/alertchannel/",
        {"action": "delete_selected", "_selected_action": ids, "post": "yes"},
    )
    assert not AlertChannel.objects.exists()
    assert sorted(e.target_label for e in by_ada("channel.deleted")) == ["a", "b"]


@pytest.mark.django_db
def test_a_deleted_users_entries_keep_their_name(admin_client, bob, make_pipeline, client) -> None:
    from django.test import Client

    bob.groups.add(Group.objects.get(name="operator"))
    pipeline = make_pipeline("c1", name="Events")
    as_bob = Client()
    as_bob.force_login(bob)
    assert as_bob.post(f"/pipelines/{pipeline.uuid}/actions/pause/", HTTP_HX_REQUEST="true").status_code == 200
    response = admin_client.post(f"/admin/auth/user/{bob.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert len(by_ada("user.deleted", target_label="bob")) == 1
    event = AuditEvent.objects.get(action="pipeline.pause")
    assert event.actor is None and event.actor_label == "bob"
    html = admin_client.get("/audit/?who=bob").content.decode()
    assert "pipeline.pause</code>" in html and "<td>bob</td>" in html and "<td>system</td>" not in html
