"""Admins manage vendor accounts in the product's own pages; secrets are write-only."""

import pytest
from django.contrib.auth.models import Group

from jobs.models import Account, AuditEvent


@pytest.fixture
def users(django_user_model):
    made = {}
    for role in ("viewer", "operator", "admin"):
        user = django_user_model.objects.create_user(role, password="x" * 12)
        user.groups.add(Group.objects.get_or_create(name=role)[0])
        made[role] = user
    return made


def form(sim_url: str, **extra: str) -> dict:
    data = {
        "name": "mp-new",
        "vendor": "mixpanel",
        "region": "eu",
        "base_url": sim_url,
        "setting_project_id": "12345",
        "secret_username": "svc",
        "secret_secret": "s3cret",
    }
    data.update(extra)
    return data


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["viewer", "operator"])
def test_only_admins(client, users, role) -> None:
    client.force_login(users[role])
    assert client.get("/accounts/").status_code == 403
    assert client.post("/accounts/new/", {"name": "x"}).status_code == 403
    assert not Account.objects.exists()
    assert AuditEvent.objects.filter(action="refused", actor=users[role]).exists()


@pytest.mark.django_db
def test_anonymous_is_sent_to_login(client) -> None:
    assert client.get("/accounts/")["Location"].startswith("/login/")


@pytest.mark.django_db
def test_admin_adds_edits_and_secrets_never_come_back(client, users, sim) -> None:
    client.force_login(users["admin"])
    response = client.post("/accounts/new/", form(sim.url))
    assert response.status_code == 302, response.content.decode()[:3000]
    account = Account.objects.get()
    assert account.credentials == {"username": "svc", "secret": "s3cret"}
    for url in ("/accounts/", f"/accounts/{account.uuid}/"):
        assert "s3cret" not in client.get(url).content.decode()
    # blank secrets keep the stored ones
    client.post(f"/accounts/{account.uuid}/", form(sim.url, name="mp-renamed", secret_secret=""))
    account.refresh_from_db()
    assert account.name == "mp-renamed" and account.credentials["secret"] == "s3cret"
    assert AuditEvent.objects.filter(action="account.changed", detail__credentials_changed=False).exists()


@pytest.mark.django_db
def test_form_says_which_field_is_wrong(client, users, sim) -> None:
    client.force_login(users["admin"])
    html = client.post(
        "/accounts/new/", form("http://10.1.2.3", setting_project_id="", secret_secret="")
    ).content.decode()
    assert "neither a mixpanel host nor in VENDOR_HOST_ALLOWLIST" in html
    assert "required for Mixpanel" in html  # under the project id: jobs.account_rules' words
    assert "Mixpanel needs username + secret or api_secret" in html
    assert not Account.objects.exists()


@pytest.mark.django_db
def test_editing_shows_the_accounts_own_vendor(client, users) -> None:
    # The select once showed the first vendor for every account, and saving switched it.
    account = Account.objects.create(name="sg", vendor="statsig")
    client.force_login(users["admin"])
    html = client.get(f"/accounts/{account.uuid}/").content.decode()
    vendors = html[html.index('name="vendor"') : html.index("</select>", html.index('name="vendor"'))]
    assert '<option value="statsig" selected>' in vendors and vendors.count(" selected>") == 1


@pytest.mark.django_db
def test_vendor_choice_swaps_the_fields(client, users) -> None:
    client.force_login(users["admin"])
    html = client.get("/accounts/new/?vendor=mixpanel", HTTP_HX_REQUEST="true").content.decode()
    assert html.lstrip().startswith('<div id="vendor-fields"') and 'name="setting_project_id"' in html
    assert 'name="secret_api_secret"' in html and 'type="password"' in html


@pytest.mark.django_db
def test_test_connection(client, users, sim) -> None:
    client.force_login(users["admin"])
    client.post("/accounts/new/", form(sim.url))
    account = Account.objects.get()
    ok = client.post(f"/accounts/{account.uuid}/test/").content.decode()
    assert "✓" in ok and "authenticated" in ok
    account.credentials = {"username": "svc", "secret": "wrong"}
    account.save()
    bad = client.post(f"/accounts/{account.uuid}/test/").content.decode()
    assert "✕" in bad and "401" in bad and "wrong" not in bad


@pytest.mark.django_db
def test_test_connection_reads_a_current_api_and_says_what_failed(client, users, sim) -> None:
    """Mixpanel removed GET /connectors in November 2024: the test reads the warehouse imports
    list (documented, read-only, the app API's permission, as polling), and a failure names
    its cause: auth, permission, not found or network."""
    from vendors.simulator.core import Fault

    client.force_login(users["admin"])
    client.post("/accounts/new/", form(sim.url))
    account = Account.objects.get()

    def test() -> str:
        return client.post(f"/accounts/{account.uuid}/test/").content.decode()

    ok = test()
    assert "✓" in ok and "authenticated" in ok and "warehouse imports" in ok
    assert sim.simulator.request_log[-1] == ("GET", "/api/app/projects/12345/warehouse-sources/imports")
    assert not any(path.endswith("/connectors") for _, path in sim.simulator.request_log)

    sim.simulator.inject(Fault("status", path="/api/app/projects/12345/warehouse-sources", status=404, times=1))
    assert "✕" in (missing := test().lower()) and "not found" in missing and "region" in missing
    account.settings = {"project_id": "999"}
    account.save()
    assert "permission" in (forbidden := test().lower()) and "403" in forbidden
    account.settings = {"project_id": "12345"}
    account.credentials = {"username": "svc", "secret": "wrong"}
    account.save()
    assert "auth" in (refused := test().lower()) and "401" in refused and "wrong" not in refused
    account.base_url = "http://127.0.0.1:9"  # nothing listens there
    account.credentials = {"username": "svc", "secret": "s3cret"}
    account.save()
    assert "network" in test().lower()


@pytest.mark.django_db
def test_test_connection_with_a_project_secret_reads_the_data_pipelines_list(client, users, sim) -> None:
    sim.mixpanel.projects["12345"].api_secret = "project-secret"
    client.force_login(users["admin"])
    secret_only = {"secret_username": "", "secret_secret": "", "secret_api_secret": "project-secret"}
    client.post("/accounts/new/", form(sim.url, **secret_only))
    account = Account.objects.get()
    ok = client.post(f"/accounts/{account.uuid}/test/").content.decode()
    assert "✓" in ok and "data pipelines" in ok
    assert sim.simulator.request_log[-1] == ("GET", "/api/2.0/nessie/pipeline/jobs")
