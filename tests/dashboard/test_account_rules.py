"""Account validation in one place (jobs/account_rules.py, issue 16): the same bad account,
sent through config as code, the Django admin, the accounts page and the API, gets the same
verdict: the same fields, the same messages. A good one is stored alike by all four."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from dashboard.auth import issue_token
from jobs import config
from jobs.models import Account
from vendors.registry import VENDORS as REGISTERED

from ..conftest import user_with_role

URL = "http://127.0.0.1:9"
GOOD: dict[str, Any] = {
    "name": "mp-x",
    "vendor": "mixpanel",
    "region": "",
    "base_url": URL,
    "settings": {"project_id": "12345"},
    "credentials": {"username": "svc", "secret": "s3cret"},
}
MIXPANEL_REGIONS = "'mars' is not a Mixpanel region (expected: us, eu, in)"
NEEDS = "Mixpanel needs username + secret or api_secret"
PROJECT_ID = "must be a number (Mixpanel's project id, e.g. 12345)"
VENDORS = ", ".join(sorted(REGISTERED))

# (what, changes to GOOD, the verdict: field -> message)
CASES: list[tuple[str, dict[str, Any], dict[str, str]]] = [
    ("blank-name", {"name": ""}, {"name": "required"}),
    ("long-name", {"name": "n" * 101}, {"name": "must be at most 100 characters (it has 101)"}),
    # Not through config, where a file names the account it updates.
    ("taken-name", {"name": "mp-taken"}, {"name": "an account with this name exists"}),
    ("name-line-break", {"name": "mp\nx"}, {"name": "contains a line break or another control character"}),
    ("unknown-vendor", {"vendor": "mixpanell"}, {"vendor": f"unknown vendor 'mixpanell' (expected one of {VENDORS})"}),
    ("unknown-region", {"region": "mars"}, {"region": MIXPANEL_REGIONS}),
    (
        "no-regions",
        {"vendor": "statsig", "region": "us", "settings": {}, "credentials": {"api_key": "k"}},
        {"region": "'us' is not a Statsig region (expected: none (this vendor has no regions))"},
    ),
    ("not-http", {"base_url": "ftp://example.com"}, {"base_url": "'ftp://example.com' is not an http(s) URL"}),
    (
        "host-not-allowed",
        {"base_url": "http://10.1.2.3"},
        {"base_url": "host '10.1.2.3' is neither a mixpanel host nor in VENDOR_HOST_ALLOWLIST "},
    ),
    ("missing-project", {"settings": {"project_id": ""}}, {"settings.project_id": "required for Mixpanel"}),
    ("bad-project", {"settings": {"project_id": "12a"}}, {"settings.project_id": PROJECT_ID}),
    (
        "missing-micro-team",
        {"vendor": "micro", "settings": {"team_id": ""}, "credentials": {"api_key": "k"}},
        {"settings.team_id": "required for Micro"},
    ),
    ("half-a-credential-set", {"credentials": {"username": "svc"}}, {"credentials": NEEDS}),
    (
        "line-break-in-secret",
        {"credentials": {"username": "svc", "secret": "ab\ncd"}},
        {"credentials": "Mixpanel credential 'secret': contains a line break or another control character"},
    ),
    (
        "everything-at-once",
        {"region": "mars", "settings": {"project_id": "12a"}, "credentials": {"api_secret": ""}},
        {"region": MIXPANEL_REGIONS, "settings.project_id": PROJECT_ID, "credentials": NEEDS},
    ),
]


def toml_value(value: Any) -> str:
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{json.dumps(k)} = {toml_value(v)}" for k, v in value.items()) + " }"
    return json.dumps(value)  # a JSON string is a TOML basic string


def through_config(account: dict[str, Any], tmp_path) -> dict[str, str]:
    path = tmp_path / "pipewatch.toml"
    path.write_text("[[accounts]]\n" + "".join(f"{k} = {toml_value(v)}\n" for k, v in account.items()))
    try:
        config.run(path)
    except config.ConfigError as refused:
        return dict(re.search(r"field '([^']+)': (.*)$", p).groups() for p in refused.problems)  # type: ignore[union-attr]
    return {}


def through_admin(account: dict[str, Any], client) -> dict[str, str]:
    data = {k: account[k] for k in ("name", "vendor", "region", "base_url")}
    data |= {"settings": json.dumps(account["settings"]), "new_credentials": json.dumps(account["credentials"])}
    response = client.post("/admin/jobs/account/add/", data)
    if response.status_code == 302:
        return {}
    found = {}
    for field, messages in response.context["adminform"].form.errors.items():
        place = "credentials" if field == "new_credentials" else field
        for message in messages:
            key, _, rest = message.partition(": ")
            found.update({key: rest} if key.startswith(f"{place}.") else {place: message})
    return found


def through_page(account: dict[str, Any], client) -> dict[str, str]:
    data = {k: account[k] for k in ("name", "vendor", "region", "base_url")}
    data |= {f"setting_{k}": v for k, v in account["settings"].items()}
    data |= {f"secret_{k}": v for k, v in account["credentials"].items()}
    response = client.post("/accounts/new/", data)
    if response.status_code == 302:
        return {}
    found = {}
    for field, messages in response.context["form"].errors.items():
        for message in messages:
            if field == "__all__":  # "Credentials: ...": above the form, naming its field
                key, _, message = message.partition(": ")
                found[key[0].lower() + key[1:]] = message
            else:
                place, _, name = field.partition("_")
                found[{"setting": f"settings.{name}", "secret": f"credentials.{name}"}.get(place, field)] = message
    return found


def through_api(account: dict[str, Any], client, token: str) -> dict[str, str]:
    response = client.post(
        "/api/v1/accounts/", json.dumps(account), content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}"
    )
    if response.status_code == 201:
        return {}
    assert response.status_code == 400, response.content
    return response.json()["error"]["fields"]


@pytest.fixture
def channels(client, tmp_path):
    """The four ways in, each as an admin would use it."""
    Account.objects.create(name="mp-taken", vendor="mixpanel", settings={"project_id": "1"})
    admin_user = user_with_role("root", "admin")
    client.force_login(admin_user)
    token = issue_token(admin_user, scope="operate")
    return {
        "config": lambda a: through_config(a, tmp_path),
        "admin": lambda a: through_admin(a, client),
        "page": lambda a: through_page(a, client),
        "api": lambda a: through_api(a, client, token),
    }


@pytest.mark.django_db
@pytest.mark.parametrize(("changes", "verdict"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_one_verdict_whichever_way_an_account_comes_in(channels, changes, verdict) -> None:
    account = GOOD | changes
    before = Account.objects.count()
    ways = {way: send for way, send in channels.items() if not (way == "config" and account["name"] == "mp-taken")}
    said = {way: send(account) for way, send in ways.items()}
    for way, found in said.items():
        assert set(found) == set(verdict), f"{way}: {found}"
        for key, message in verdict.items():
            assert found[key].startswith(message), f"{way} said {found[key]!r} about {key}"
    assert len({json.dumps(found, sort_keys=True) for found in said.values()}) == 1, said  # word for word
    assert Account.objects.count() == before  # refused everywhere: nothing stored


@pytest.mark.django_db
def test_a_good_account_is_stored_alike_whichever_way_it_comes_in(channels) -> None:
    stored = {}
    for way, send in channels.items():
        account = GOOD | {"name": f"mp-{way}", "region": "eu"}
        account["credentials"] = {"username": " svc ", "secret": "s3cret\n"}  # surrounding whitespace is no part
        assert send(account) == {}, way
        row = Account.objects.get(name=f"mp-{way}")
        stored[way] = (row.vendor, row.region, row.base_url, row.settings, row.credentials)
    expected = ("mixpanel", "eu", URL, {"project_id": "12345"}, {"username": "svc", "secret": "s3cret"})
    assert all(row == expected for row in stored.values()), stored
