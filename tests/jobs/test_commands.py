import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from jobs.models import Account
from vendors.simulator.core import Fault

from ..conftest import user_with_role


@pytest.mark.django_db
def test_poll_prints_one_line_per_account_and_exits_zero_on_vendor_failures(
    sim, mp_account, make_pipeline, capsys
) -> None:
    make_pipeline("seed-failed")
    broken = Account(name="mp-broken", vendor="mixpanel", base_url=sim.url, settings={"project_id": "12345"})
    broken.credentials = {"username": "svc", "secret": "wrong"}
    broken.save()
    make_pipeline("seed-failed", account=broken)

    call_command("poll")  # no exception: vendor failures are data
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("mp-broken: auth") and "401" in lines[0]
    assert lines[1].startswith("mp-test: ok, 1 pipeline(s), 1 new run(s)")

    sim.simulator.inject(Fault("status", status=500))
    call_command("poll", "--account", "mp-test")
    assert capsys.readouterr().out.startswith("mp-test: transient")


@pytest.mark.django_db
def test_poll_unknown_account_is_an_error() -> None:
    with pytest.raises(CommandError, match="no account named"):
        call_command("poll", "--account", "nope")


@pytest.mark.django_db
def test_poll_exits_nonzero_when_our_code_fails(mp_account, make_pipeline, settings, capsys) -> None:
    make_pipeline("seed-failed")
    settings.CREDENTIALS_KEYS = ["Zm9vYmFyYmF6cXV4cXV1eHF1dXhxdXV4cXV1eHF1dXg="]  # cannot decrypt what is stored
    with pytest.raises(CommandError, match="inside Pipewatch"):
        call_command("poll")
    assert "internal error" in capsys.readouterr().err
    mp_account.refresh_from_db()
    assert mp_account.poll_error_kind == "internal"


@pytest.mark.django_db
def test_create_api_token_prints_a_working_token(api_client, capsys) -> None:
    user_with_role("robot", "viewer")
    call_command("create_api_token", "robot")
    token = capsys.readouterr().out.strip()
    assert token.startswith("pw_")
    assert api_client.get("/api/v1/pipelines/", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 200
    with pytest.raises(CommandError):
        call_command("create_api_token", "nobody")
