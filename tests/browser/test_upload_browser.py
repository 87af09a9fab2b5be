"""In Chromium: a file over the cap is refused in place (413, the form stays); a large file
goes to the uploads queue and its page follows the worker to the pipelines it created."""

import pytest
from django.contrib.auth.models import Group
from playwright.sync_api import expect

from jobs import upload_queue
from jobs.models import Account, Pipeline, Upload
from vendors.fullstory import imports as fs_client
from vendors.fullstory.simulator import FullStoryWorld
from vendors.simulator.core import SimServer, Simulator

from .conftest import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def operator(django_user_model):
    user = django_user_model.objects.create_user("olga", password="correct-horse-battery")
    user.groups.add(Group.objects.get(name="operator"))
    return user


@pytest.fixture
def fullstory(monkeypatch):
    monkeypatch.setattr(fs_client, "BATCH_LIMIT", 100)
    sim = Simulator()
    FullStoryWorld(keys={"k"}).install(sim)
    server = SimServer(sim).start()
    account = Account(name="fs", vendor="fullstory", base_url=server.url)
    account.credentials = {"api_key": "k"}
    account.save()
    yield account
    server.stop()


def choose_events_import(page, live_server, account) -> None:
    login(page, live_server.url, "olga", "correct-horse-battery")
    page.goto(f"{live_server.url}/pipelines/new/")
    page.get_by_label("What and where").select_option(f"{account.uuid}:events_import")
    expect(page.get_by_label("Upload")).to_be_visible()


def test_too_large_is_refused_in_place(live_server, page, screenshot, operator, fullstory, settings, tmp_path) -> None:
    settings.UPLOAD_MAX_BYTES = 64 * 1024  # the request limit is this plus 1 MB for the form
    big = tmp_path / "events.ndjson"
    big.write_bytes(b'{"name": "Viewed"}\n' * 80_000)  # 1.5 MB
    choose_events_import(page, live_server, fullstory)
    page.get_by_label("Upload").set_input_files(str(big))
    page.get_by_role("button", name="Create").click()
    refusal = page.locator("#upload-refused [role=alert]")
    expect(refusal).to_contain_text("larger than 0.0625 MB (UPLOAD_MAX_BYTES)")
    expect(page.get_by_label("Upload")).to_be_visible()  # the form is still there
    screenshot("upload-refused")
    assert not Upload.objects.exists() and not Pipeline.objects.exists()


def test_a_large_upload_is_followed_on_its_page(live_server, page, screenshot, operator, fullstory, settings, tmp_path):
    settings.UPLOAD_SYNC_MAX_BYTES = 4096
    settings.LIVE_REFRESH_SECONDS = 0.5
    data = tmp_path / "events.ndjson"
    data.write_bytes(b"\n".join(b'{"name": "Viewed", "n": %d, "pad": "%s"}' % (i, b"x" * 30) for i in range(250)))
    choose_events_import(page, live_server, fullstory)
    page.get_by_label("Upload").set_input_files(str(data))
    page.get_by_role("button", name="Create").click()
    expect(page.get_by_role("heading", name="Sending events.ndjson")).to_be_visible()
    expect(page.locator("#live")).to_contain_text("Queued")
    upload = Upload.objects.get()
    assert upload_queue.process(upload.pk) == "events.ndjson: done"  # the worker's part
    expect(page.locator("#live [role=status]")).to_have_text("Created 3 batch import jobs for 250 rows")
    expect(page.locator("#live progress")).to_have_attribute("value", "100")
    screenshot("upload-done")
    page.get_by_role("link", name=Pipeline.objects.get().display_name).click()
    expect(page.locator("body")).to_contain_text("events_import")
