"""`apply_config --check` runs exactly the validation applying runs: a file it passes
applies, a file it refuses is refused by applying too, with the same clear messages
(file, entry, key or line), no traceback, and the database unchanged."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import textwrap

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from jobs.models import Account, AuditEvent, Pipeline, Run

ACCOUNT = """
[[accounts]]
name = "mp-new"
vendor = "mixpanel"
base_url = "http://127.0.0.1:9100"
settings = { project_id = "12345" }
credentials = { username = "svc", secret = "env:MP_SECRET" }
"""
PIPELINE = """
[[pipelines]]
account = "mp-new"
kind = "import_connector"
external_id = "c0ffee"
name = "S3 events"
"""
MICRO = """
[[accounts]]
name = "micro-new"
vendor = "micro"
base_url = "http://127.0.0.1:9100"
settings = { team_id = "t1" }
credentials = { api_key = "k" }

[[pipelines]]
account = "micro-new"
kind = "import"
name = "uploads"
jobs = ["job-1"]
"""
# Already applied before each bad file: it must come out of every refusal untouched.
EXISTING = """
[[accounts]]
name = "mp-old"
vendor = "mixpanel"
base_url = "http://127.0.0.1:9100"
settings = { project_id = "1" }
credentials = { username = "svc", secret = "old" }

[[pipelines]]
account = "mp-old"
kind = "import_connector"
external_id = "old-connector"
name = "Old"
"""


def good(**replace: str) -> str:
    text = ACCOUNT + PIPELINE + MICRO
    for old, new in replace.items():
        assert old in text, old
        text = text.replace(old, new)
    return text


LONG = "x" * 101
BAD_FILES: list[tuple[str, str | bytes, str]] = [
    # NUL, as TOML writes it (an escape) and as a raw byte
    ("nul-in-name", good(**{'"mp-new"': '"mp\\u0000new"'}), "accounts[0]: field 'name': contains a NUL character"),
    (
        "nul-in-setting",
        good(**{'"12345"': '"12\\u000045"'}),
        "accounts[0] (mp-new): field 'settings.project_id': contains a NUL character",
    ),
    ("nul-in-config-key", good(**{'name = "S3 events"': 'config = { "a\\u0000b" = 1 }'}), "a key contains a NUL"),
    ("nul-in-config-value", good(**{'name = "S3 events"': 'config = { a = ["\\u0000"] }'}), "'config.a[0]': contains"),
    ("nul-in-job-id", good(**{'"job-1"': '"job\\u0000"'}), "field 'jobs': a job id contains a NUL character"),
    ("nul-in-secret", good(**{'"k"': '"k\\u0000"'}), "field 'credentials.api_key': contains a NUL character"),
    ("raw-nul-byte", good().encode().replace(b"S3 events", b"S3\x00events"), "not valid TOML"),
    # longer than the model fields they end up in
    (
        "long-account-name",
        good(**{'"mp-new"': f'"{LONG}"'}),
        "field 'name': must be at most 100 characters (it has 101)",
    ),
    (
        "long-pipeline-name",
        good(**{'"S3 events"': f'"{"n" * 201}"'}),
        "pipelines[0] (mp-new/c0ffee): field 'name': Ensure this value has at most 200 characters (it has 201)",
    ),
    (
        "long-external-id",
        good(**{'"c0ffee"': f'"{"i" * 256}"'}),
        "field 'external_id': Ensure this value has at most 255",
    ),
    ("long-job-id", good(**{'"job-1"': f'"{"j" * 256}"'}), "field 'jobs': 'jjjjj"),
    (
        "long-base-url",
        good(**{'"http://127.0.0.1:9100"': f'"http://127.0.0.1:9100/{"p" * 300}"'}),
        "field 'base_url': must be at most 300 characters",
    ),
    # wrong types
    ("name-not-a-string", good(**{'name = "mp-new"': "name = 5"}), "accounts[0]: field 'name': must be a string"),
    ("setting-a-list", good(**{'"12345"': "[1]"}), "field 'settings.project_id': must be a string or an integer"),
    ("setting-a-bool", good(**{'"12345"': "true"}), "field 'settings.project_id': must be a string or an integer"),
    ("external-id-a-number", good(**{'"c0ffee"': "7"}), "field 'external_id': must be a non-empty string"),
    (
        "date-in-config",
        good(**{'name = "S3 events"': "config = { since = 2024-01-01 }"}),
        "field 'config.since': a TOML date is not accepted here; quote it",
    ),
    (
        "nan-in-config",
        good(**{'name = "S3 events"': "config = { ratio = nan }"}),
        "'config.ratio': nan is not a finite",
    ),
    ("jobs-a-string", good(**{'["job-1"]': '"job-1"'}), "field 'jobs': must be a list of job id strings"),
    ("accounts-a-table", "[accounts]\nname = 'x'\n", "accounts: must be an array of tables"),
    ("vendor-unknown", good(**{'"micro"': '"mikro"'}), "field 'vendor': unknown vendor 'mikro'"),
    # unknown keys, at every depth
    ("unknown-top-level", good() + "\n[extra]\na = 1\n", "extra: unknown top-level key"),
    (
        "unknown-account-key",
        good(**{'vendor = "mixpanel"': 'vendor = "mixpanel"\ncolour = "blue"'}),
        "'colour': unknown",
    ),
    ("unknown-setting", good(**{"project_id =": "projectid ="}), "field 'settings.projectid': unknown"),
    ("unknown-credential", good(**{"secret =": "secert ="}), "field 'credentials.secert': unknown"),
    (
        "unknown-pipeline-key",
        good(**{'name = "S3 events"': 'nmae = "S3"'}),
        "pipelines[0] (mp-new/c0ffee): field 'nmae'",
    ),
    # not TOML, not UTF-8
    (
        "invalid-toml",
        "[[accounts]\nname =",
        "not valid TOML: Expected ']]' at the end of an array declaration (at line 1",
    ),
    ("not-utf8", good().encode().replace(b"S3 events", b"S3 \xff events"), "line 13: not UTF-8 text (byte 0xff)"),
]


def write(tmp_path, content: str | bytes):
    path = tmp_path / "pipewatch.toml"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(textwrap.dedent(content))
    return path


def database() -> tuple:
    """Everything apply_config can write, as comparable values."""
    return (
        sorted(Account.objects.values_list("name", "vendor", "region", "base_url", "settings", "credentials_token")),
        sorted(Pipeline.objects.values_list("account__name", "kind", "external_id", "name", "config", "next_poll_at")),
        sorted(Run.objects.values_list("pipeline__external_id", "external_id")),
        AuditEvent.objects.count(),
    )


def refused(path, *args: str) -> list[str]:
    """The problems `apply_config` reports (it must refuse cleanly: CommandError, no crash)."""
    err = io.StringIO()
    with pytest.raises(CommandError, match=r"problem\(s\); nothing was changed"):
        call_command("apply_config", str(path), *args, stderr=err, stdout=io.StringIO())
    return err.getvalue().splitlines()


@pytest.fixture
def existing(tmp_path, monkeypatch):
    monkeypatch.setenv("MP_SECRET", "hunter2")
    call_command("apply_config", str(write(tmp_path, EXISTING)), stdout=io.StringIO())
    return database()


@pytest.mark.django_db
@pytest.mark.parametrize(("content", "fragment"), [c[1:] for c in BAD_FILES], ids=[c[0] for c in BAD_FILES])
def test_check_and_apply_refuse_a_bad_file_alike(tmp_path, existing, content, fragment) -> None:
    path = write(tmp_path, content)
    checked = refused(path, "--check")
    assert database() == existing
    applied = refused(path)
    assert database() == existing, "applying a refused file changed the database"
    assert checked == applied, "--check and apply disagree"
    assert any(fragment in line for line in applied), "\n".join(applied)
    assert all(line.startswith(f"{path}: ") for line in applied)
    assert not any("\x00" in line for line in applied)  # NUL is named, never echoed


@pytest.mark.django_db
def test_nothing_is_half_applied(tmp_path, existing) -> None:
    """Good entries before a bad one are not written either: the file is one transaction."""
    path = write(tmp_path, good(**{'"S3 events"': f'"{"n" * 201}"'}) + EXISTING.replace('"Old"', '"Renamed"'))
    problems = refused(path)
    assert len(problems) == 1 and "pipelines[0]" in problems[0]
    assert database() == existing


@pytest.mark.django_db
def test_check_passes_a_good_file_says_what_would_change_and_changes_nothing(tmp_path, existing) -> None:
    path = write(tmp_path, good())
    out = io.StringIO()
    call_command("apply_config", str(path), "--check", stdout=out)
    assert "OK: applying it would make 5 created" in out.getvalue() and "nothing was changed" in out.getvalue()
    assert database() == existing
    out = io.StringIO()
    call_command("apply_config", str(path), stdout=out)
    assert "5 created" in out.getvalue()  # 2 accounts, 2 pipelines, 1 job
    assert Run.objects.filter(external_id="job-1").exists()


def _env() -> dict[str, str]:
    db = connection.settings_dict
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "DJANGO_ALLOW"))}
    env.update(
        TESTING="true",
        DATABASE_URL=f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
        MP_SECRET="hunter2",
    )
    return env


def manage(*args: str) -> subprocess.CompletedProcess:
    argv = [sys.executable, "manage.py", "apply_config", *args]
    return subprocess.run(argv, cwd=settings.BASE_DIR, env=_env(), capture_output=True, text=True, timeout=120)


@pytest.mark.django_db(transaction=True)
def test_manage_py_exits_non_zero_with_a_message_and_no_traceback(tmp_path, existing) -> None:
    """As an operator runs it: exit status, stderr, and nothing but the message."""
    path = write(tmp_path, good(**{'"S3 events"': f'"{"n" * 201}"', '"c0ffee"': f'"{"i" * 256}"'}))
    results = [manage(str(path), "--check"), manage(str(path))]
    for result in results:
        assert result.returncode == 1, result
        assert "Traceback" not in result.stderr, result.stderr
        assert "field 'name': Ensure this value has at most 200 characters (it has 201)" in result.stderr
        assert "field 'external_id': Ensure this value has at most 255 characters (it has 256)" in result.stderr
        assert "CommandError: 2 problem(s); nothing was changed" in result.stderr
    assert results[0].stderr == results[1].stderr
    assert database() == existing

    path = write(tmp_path, good())
    checked = manage(str(path), "--check")
    assert checked.returncode == 0 and "nothing was changed" in checked.stdout, checked.stderr
    assert database() == existing
    applied = manage(str(path))
    assert applied.returncode == 0 and "5 created" in applied.stdout, applied.stderr
    assert Account.objects.filter(name__in=["mp-new", "micro-new"]).count() == 2
