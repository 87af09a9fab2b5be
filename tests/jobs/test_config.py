"""apply_config: idempotent, env: secrets, one message per problem, nothing changed on error."""

import textwrap

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from jobs import config
from jobs.models import Account, AuditEvent, Pipeline

GOOD = """
[[accounts]]
name = "mp-prod"
vendor = "mixpanel"
region = "eu"
base_url = "http://127.0.0.1:9100"
settings = { project_id = "12345" }
credentials = { username = "svc", secret = "env:MP_SECRET" }

[[pipelines]]
account = "mp-prod"
kind = "import_connector"
external_id = "c0ffee"
name = "S3 events"
"""


def write(tmp_path, text: str):
    path = tmp_path / "pipewatch.toml"
    path.write_text(textwrap.dedent(text))
    return path


@pytest.mark.django_db
def test_creates_then_is_idempotent(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("MP_SECRET", "hunter2")
    path = write(tmp_path, GOOD)
    call_command("apply_config", str(path))
    assert "2 created" in capsys.readouterr().out
    account = Account.objects.get()
    assert (account.vendor, account.region, account.settings) == ("mixpanel", "eu", {"project_id": "12345"})
    assert account.credentials == {"username": "svc", "secret": "hunter2"}
    assert "hunter2" not in account.credentials_token  # encrypted at rest
    assert Pipeline.objects.get().display_name == "S3 events"

    call_command("apply_config", str(path))
    assert "0 created, 0 updated, 2 unchanged" in capsys.readouterr().out
    assert AuditEvent.objects.filter(action="config.apply").count() == 1


@pytest.mark.django_db
def test_updates_in_place_and_never_deletes_without_prune(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("MP_SECRET", "hunter2")
    call_command("apply_config", str(write(tmp_path, GOOD)))
    pipeline_uuid = Pipeline.objects.get().uuid
    monkeypatch.setenv("MP_SECRET", "rotated")
    renamed = GOOD.replace('name = "S3 events"', 'name = "S3 events (v2)"')
    call_command("apply_config", str(write(tmp_path, renamed)))
    pipeline = Pipeline.objects.get()
    assert pipeline.uuid == pipeline_uuid and pipeline.name == "S3 events (v2)"
    assert Account.objects.get().credentials["secret"] == "rotated"

    only_account = GOOD.split("[[pipelines]]")[0]
    call_command("apply_config", str(write(tmp_path, only_account)))
    assert Pipeline.objects.count() == 1
    call_command("apply_config", str(write(tmp_path, only_account)), "--prune")
    assert Pipeline.objects.count() == 0 and Account.objects.count() == 1


@pytest.mark.django_db
def test_a_bad_file_reports_every_problem_and_changes_nothing(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("MISSING_SECRET", raising=False)
    bad = """
    [[accounts]]
    name = "a"
    vendor = "mixpanel"
    region = "mars"
    base_url = "ftp://example.com"
    credentials = { username = "svc", secret = "env:MISSING_SECRET" }

    [[accounts]]
    name = "b"
    vendor = "nosuchvendor"
    colour = "blue"

    [[pipelines]]
    account = "a"
    kind = "teleport"
    external_id = "x"

    [[pipelines]]
    account = "zzz"
    kind = "import_connector"
    """
    with pytest.raises(config.ConfigError) as info:
        config.load(write(tmp_path, bad))
    problems = "\n".join(info.value.problems)
    for fragment in [
        "accounts[0] (a): field 'region': 'mars' is not a Mixpanel region",
        "accounts[0] (a): field 'base_url'",
        "accounts[0] (a): field 'settings.project_id': required",
        "accounts[0] (a): field 'credentials.secret': environment variable MISSING_SECRET is not set",
        "accounts[1] (b): field 'colour': unknown",
        "accounts[1] (b): field 'vendor': unknown vendor 'nosuchvendor'",
        "field 'kind': 'teleport' is not a Mixpanel kind",
        "field 'account': no account named 'zzz'",
        "field 'external_id': required",
    ]:
        assert fragment in problems
    assert all(p.startswith(str(tmp_path)) for p in info.value.problems)

    with pytest.raises(CommandError, match="nothing was changed"):
        call_command("apply_config", str(write(tmp_path, bad)))
    assert Account.objects.count() == 0 and Pipeline.objects.count() == 0


@pytest.mark.django_db
def test_not_toml_is_one_clear_message(tmp_path) -> None:
    with pytest.raises(config.ConfigError) as info:
        config.load(write(tmp_path, "[[accounts]\nname ="))
    assert len(info.value.problems) == 1 and "not valid TOML" in info.value.problems[0]


@pytest.mark.django_db
def test_demo_config_is_valid() -> None:
    from django.conf import settings

    from vendors.registry import VENDORS

    accounts, pipelines = config.load(settings.BASE_DIR / "demo" / "demo.toml")
    assert {a.vendor for a in accounts} == set(VENDORS) and len(pipelines) >= 8  # every vendor in the demo


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("base_url", "fragment"),
    [
        ("http://169.254.169.254/latest", "neither a mixpanel host nor in VENDOR_HOST_ALLOWLIST"),
        ("http://10.0.0.5:9100", "neither a mixpanel host"),
        ("http://mixpanel.com", "over https"),
        ("https://user:pw@mixpanel.com", "must not contain a user name"),
        ("gopher://127.0.0.1", "not an http(s) URL"),
    ],
)
def test_base_url_only_to_vendor_hosts_or_the_allow_list(tmp_path, monkeypatch, base_url, fragment) -> None:
    monkeypatch.setenv("MP_SECRET", "x")
    with pytest.raises(config.ConfigError) as info:
        config.load(write(tmp_path, GOOD.replace("http://127.0.0.1:9100", base_url)))
    assert fragment in "\n".join(info.value.problems)


@pytest.mark.django_db
def test_vendor_hosts_and_allow_listed_hosts_pass(tmp_path, monkeypatch, settings) -> None:
    monkeypatch.setenv("MP_SECRET", "x")
    config.load(write(tmp_path, GOOD.replace("http://127.0.0.1:9100", "https://eu.mixpanel.com")))
    settings.VENDOR_HOST_ALLOWLIST = ["simulator"]
    config.load(write(tmp_path, GOOD.replace("http://127.0.0.1:9100", "http://simulator:9100")))
    with pytest.raises(config.ConfigError):
        config.load(write(tmp_path, GOOD))  # 127.0.0.1 is no longer allowed
