"""No fragment of a credential leaves the server: not in what polling stores, the pages, the
API, alerts or the log, whichever vendor, however the credential was mangled (issue 14, 2)."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Iterator
from urllib.parse import quote

import pytest
import requests

from dashboard.auth import issue_token
from jobs import alerts, polling
from jobs.config import register_job
from jobs.crypto import encrypt_json
from jobs.models import Account, AlertEvent, Pipeline, PollAttempt, Run, Snapshot
from vendors.fullstory.simulator import FullStoryWorld
from vendors.micro.simulator import MicroWorld, SimImport
from vendors.mixpanel.simulator import MixpanelWorld, SimProject, seed_connectors
from vendors.posthog.sim_world import SimProject as PostHogProject
from vendors.posthog.simulator import PostHogWorld, SimKey
from vendors.simulator.core import Clock, Fault, SimServer, Simulator
from vendors.statsig.simulator import SimConsole, StatsigWorld

from ..conftest import T0

SECRET = "SEKRETSS7Q2XK9ZV4WMN"
TEAM = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
PH_PROJECT = 4242
WHAT_IS_WRONG = "the credential contains a line break or leading/trailing whitespace"


def forms_of(secret: str, user: str = "") -> list[str]:
    """The secret and what it turns into on the wire: Basic auth, URL encoding."""
    basic = base64.b64encode(f"{user}:{secret}".encode()).decode()
    return [secret, base64.b64encode(secret.encode()).decode(), basic.rstrip("="), quote(secret + "\n", safe="")]


def leaks(text: str, secret: str = SECRET, user: str = "") -> list[str]:
    """Every 4-character fragment of any form of the secret that occurs in `text`."""
    found = set()
    for form in forms_of(secret, user):
        grams = {form[i : i + 4] for i in range(len(form) - 3)}
        found |= {g for g in grams if g in text}
    return sorted(found)


@pytest.fixture
def worlds() -> Iterator[tuple[Simulator, str, MicroWorld]]:
    sim = Simulator(Clock(T0, frozen=True))
    MixpanelWorld([SimProject("12345", username="svc-user", secret=SECRET).add(*seed_connectors())]).install(sim)
    micro = MicroWorld(teams={TEAM: SECRET})
    micro.install(sim)
    FullStoryWorld(keys={SECRET}).install(sim)
    StatsigWorld([SimConsole(SECRET)]).install(sim)
    PostHogWorld(keys={SECRET: SimKey({PH_PROJECT})}, projects={PH_PROJECT: PostHogProject(PH_PROJECT)}).install(sim)
    server = SimServer(sim).start()
    yield sim, server.url, micro
    server.stop()


def stored_before_the_fix(name: str, vendor: str, url: str, credentials: dict[str, str], **settings: str) -> Account:
    """An account whose credentials were saved as typed, pasted newline included."""
    account = Account.objects.create(name=name, vendor=vendor, base_url=url, settings=settings)
    Account.objects.filter(pk=account.pk).update(credentials_token=encrypt_json(credentials))
    account.refresh_from_db()
    return account


VENDORS = {
    "micro": ({"api_key": SECRET + "\n"}, {"team_id": TEAM}, "import"),
    "fullstory": ({"api_key": SECRET + "\n"}, {}, "events_import"),
    "statsig": ({"api_key": SECRET + "\r\n"}, {}, "backfill"),
    "mixpanel": ({"username": "svc-user", "secret": SECRET + "\n"}, {"project_id": "12345"}, "import_connector"),
    "posthog": ({"api_key": SECRET + "\n"}, {"project_id": str(PH_PROJECT)}, "batch_export"),
}


def everything_stored(account: Account) -> str:
    account.refresh_from_db()
    parts = [account.poll_error_message]
    parts += PollAttempt.objects.filter(account=account).values_list("message", flat=True)
    parts += Pipeline.objects.filter(account=account).values_list("poll_error_message", flat=True)
    parts += Run.objects.filter(pipeline__account=account).values_list("error_message", flat=True)
    parts += [json.dumps(raw) for raw in Run.objects.filter(pipeline__account=account).values_list("raw", flat=True)]
    return "\n".join(parts)


@pytest.mark.parametrize("vendor", sorted(VENDORS))
def test_a_credential_with_a_line_break_is_named_never_quoted(
    vendor, worlds, transactional_db, live_server, viewer, caplog
) -> None:
    _, url, _ = worlds
    credentials, settings, kind = VENDORS[vendor]
    account = stored_before_the_fix(f"{vendor}-pasted", vendor, url, credentials, **settings)
    pipeline = Pipeline.objects.create(account=account, kind=kind, external_id="job-stream")
    if pipeline.is_one_shot:
        register_job(pipeline, "job-1")
    caplog.set_level(logging.DEBUG)

    summary = polling.poll_now(account)

    user = credentials.get("username", "")
    assert leaks(everything_stored(account), user=user) == []
    assert leaks(summary.line(), user=user) == []
    assert summary.outcome == "auth" and account.poll_error_kind == "auth", summary.line()
    assert WHAT_IS_WRONG in account.poll_error_message
    assert leaks(caplog.text, user=user) == [] and WHAT_IS_WRONG in caplog.text

    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {issue_token(viewer)}"
    api = (
        session.get(f"{live_server.url}/api/v1/pipelines/").text
        + session.get(f"{live_server.url}/api/v1/failures/").text
    )
    assert WHAT_IS_WRONG in api and leaks(api, user=user) == []
    browser = requests.Session()
    login = browser.get(f"{live_server.url}/login/")
    browser.post(
        f"{live_server.url}/login/",
        data={
            "username": "viewer",
            "password": "correct-horse-battery",
            "csrfmiddlewaretoken": login.cookies["csrftoken"],
        },
        headers={"Referer": f"{live_server.url}/login/"},
    )
    html = browser.get(f"{live_server.url}/failures/").text
    assert WHAT_IS_WRONG in html and leaks(html, user=user) == []
    detail = browser.get(f"{live_server.url}/pipelines/{pipeline.uuid}/").text
    assert leaks(detail, user=user) == []


@pytest.mark.django_db
def test_what_the_vendor_echoes_is_scrubbed_before_it_is_stored_or_logged(worlds, caplog, logged_in) -> None:
    """A vendor that quotes our key back (in an error reply, a job's error, the raw payload)."""
    sim, url, micro = worlds
    echo = f"key {SECRET} / {base64.b64encode(SECRET.encode()).decode()} / {quote(SECRET + '+/', safe='')}"
    micro.jobs["job-1"] = SimImport("job-1", T0, outcomes=[{"id": "1"}], process_seconds=0, job_error=f"denied: {echo}")
    account = Account(name="micro", vendor="micro", base_url=url, settings={"team_id": TEAM})
    account.credentials = {"api_key": SECRET}
    account.save()
    pipeline = Pipeline.objects.create(account=account, kind="import", external_id="imports")
    register_job(pipeline, "job-1")
    register_job(pipeline, "job-2")
    caplog.set_level(logging.DEBUG)

    polling.poll_now(account)  # job-1 failed (echo in its error), job-2 unknown: 404
    alerts.evaluate()
    register_job(pipeline, "job-3")
    sim.inject(Fault("status", status=403, body={"message": f"Forbidden: {echo}", "code": SECRET}))
    polling.poll_now(account)
    alerts.evaluate()

    run = Run.objects.get(external_id="job-1")
    assert run.state == "failed" and "denied: key" in run.error_message
    stored = everything_stored(account) + json.dumps(list(Snapshot.objects.values_list("error_message", "raw")))
    stored += "\n".join(AlertEvent.objects.values_list("message", flat=True))
    assert "Forbidden" in stored and leaks(stored) == []
    assert AlertEvent.objects.exists()
    assert leaks(caplog.text) == [] and "Forbidden" in caplog.text
    page = logged_in.get(f"/runs/{run.uuid}/").content.decode()
    assert "denied: key" in page and leaks(page) == []


@pytest.mark.django_db
def test_a_library_logging_a_credential_is_scrubbed(mp_account, caplog) -> None:
    """Whatever logs it (urllib3, requests, a traceback), a credential this process knows stays out."""
    assert mp_account.config().credentials["secret"] == "s3cret"  # read: this process knows it
    caplog.set_level(logging.DEBUG)
    logging.getLogger("urllib3.connectionpool").debug("sent header Authorization: %s", "s3cret-and-more")
    try:
        raise ValueError("the secret was s3cret")
    except ValueError:
        logging.getLogger("celery.app.trace").exception("Task failed")
    assert "s3cr" not in caplog.text and "3cre" not in caplog.text
    assert "sent header Authorization" in caplog.text and "ValueError" in caplog.text


@pytest.mark.django_db
def test_test_connection_never_quotes_the_credential(worlds, client, django_user_model) -> None:
    _, url, _ = worlds
    admin = django_user_model.objects.create_superuser("root", "r@example.com", "x" * 12)
    client.force_login(admin)
    account = stored_before_the_fix("fs", "fullstory", url, {"api_key": SECRET + "\n"})
    answer = client.post(f"/accounts/{account.uuid}/test/").content.decode()
    assert WHAT_IS_WRONG in answer and leaks(answer) == []
    audit = client.get("/audit/").content.decode()
    assert WHAT_IS_WRONG in audit and leaks(audit) == []


def test_every_vendor_client_method_is_either_scrubbed_or_local() -> None:
    """A new method that talks to the vendor must not slip past the scrubber."""
    from jobs.scrubbing import LOCAL_CALLS, VENDOR_CALLS
    from vendors.client import VendorClient

    public = {n for n in dir(VendorClient) if not n.startswith("_") and callable(getattr(VendorClient, n))}
    assert public == VENDOR_CALLS | LOCAL_CALLS
