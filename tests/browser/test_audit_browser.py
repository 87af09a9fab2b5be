"""The audit log over the real server (threads, sessions, CSRF): an admin's change in the
Django admin names that admin, a viewer's refused visit is recorded, and the names stay
after the viewer is deleted."""

import pytest
from django.contrib.auth.models import Group
from playwright.sync_api import Browser, expect

from jobs.models import AuditEvent

from .conftest import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PASSWORD = "correct-horse-battery"


def test_admin_changes_and_refusals_name_who_over_the_real_server(live_server, browser: Browser, django_user_model):
    ada = django_user_model.objects.create_user("ada", password=PASSWORD)
    ada.groups.add(Group.objects.get(name="admin"))
    vic = django_user_model.objects.create_user("vic", password=PASSWORD)
    vic.groups.add(Group.objects.get(name="viewer"))

    as_vic = browser.new_context().new_page()
    login(as_vic, live_server.url, "vic", PASSWORD)
    as_vic.goto(f"{live_server.url}/admin/auth/user/")
    expect(as_vic.get_by_role("heading", name="Not allowed")).to_be_visible()

    as_ada = browser.new_context().new_page()
    login(as_ada, live_server.url, "ada", PASSWORD)
    as_ada.goto(f"{live_server.url}/admin/auth/user/{vic.pk}/change/")
    as_ada.get_by_label("Superuser status").check()
    as_ada.get_by_role("button", name="Save", exact=True).click()
    expect(as_ada.locator(".messagelist")).to_contain_text("was changed successfully")
    as_ada.goto(f"{live_server.url}/admin/auth/user/{vic.pk}/delete/")
    as_ada.get_by_role("button", name="Yes, I’m sure").click()
    expect(as_ada.locator(".messagelist")).to_contain_text("was deleted successfully")

    granted = AuditEvent.objects.get(action="role.changed", target_label="vic", detail={"superuser": "granted"})
    assert granted.actor_label == "ada"
    refused = AuditEvent.objects.get(action="refused", target_label="/admin/auth/user/")
    assert refused.actor is None and refused.actor_label == "vic"  # vic is gone; the name stays

    as_ada.goto(f"{live_server.url}/audit/?who=vic")
    row = as_ada.locator("tr", has_text="/admin/auth/user/")
    expect(row).to_contain_text("vic")
    expect(row).to_contain_text("refused")
    as_ada.goto(f"{live_server.url}/audit/?who=ada&action=role.changed")
    expect(as_ada.locator("tbody tr", has_text="vic").first).to_contain_text("ada")
