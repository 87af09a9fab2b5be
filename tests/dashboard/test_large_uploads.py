"""Large uploads: streamed to a temporary file, never read whole; over the cap refused with
413 before the body is read; over UPLOAD_SYNC_MAX_BYTES handed to a worker (the `uploads`
queue) whose page shows progress and the outcome. Memory is measured, not guessed."""

import gc
import json
import time
import tracemalloc
from datetime import timedelta

import pytest
import redis
from celery.contrib.testing.worker import start_worker
from django.conf import settings
from django.contrib.auth.models import Group
from django.test import Client
from django.utils import timezone

from jobs import upload_queue
from jobs.models import Account, Pipeline, Run, Upload, UploadChunk
from vendors.fullstory import imports as fs_client
from vendors.fullstory.simulator import FullStoryWorld
from vendors.micro.simulator import MicroWorld
from vendors.simulator.core import SimServer, Simulator

MB = 1024 * 1024
TEAM = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"


class LazyBody:
    """A multipart body made as it is read, so a 32 MB upload costs the test nothing: form
    fields, then one file of `rows` fixed-width CSV rows. `read` counts what the server took."""

    ROW = "user{:09d}@example.com,Person {:09d},pro\n"

    def __init__(self, fields: dict[str, str], field: str, filename: str, rows: int) -> None:
        self.boundary = "lazyboundary7MA4YWxkTrZu0gW"
        head = "".join(
            f'--{self.boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n' for k, v in fields.items()
        )
        head += (
            f'--{self.boundary}\r\nContent-Disposition: form-data; name="{field}"; filename="{filename}"\r\n'
            "Content-Type: text/csv\r\n\r\nemail,name,plan\n"
        )
        self.head, self.tail = head.encode(), f"\r\n--{self.boundary}--\r\n".encode()
        self.rows, self.row_bytes = rows, len(self.ROW.format(0, 0))
        self.file_size = len(b"email,name,plan\n") + rows * self.row_bytes
        self.length = len(self.head) - len(b"email,name,plan\n") + self.file_size + len(self.tail)
        self.taken = 0
        self._chunks = self._generate()
        self._buf = b""

    def _generate(self):
        yield self.head
        block = 20_000
        for start in range(0, self.rows, block):
            yield "".join(self.ROW.format(i, i) for i in range(start, min(self.rows, start + block))).encode()
        yield self.tail

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self._buf) < size:
            chunk = next(self._chunks, None)
            if chunk is None:
                break
            self._buf += chunk
        out, self._buf = (self._buf, b"") if size < 0 else (self._buf[:size], self._buf[size:])
        self.taken += len(out)
        return out

    def readline(self, size: int = -1) -> bytes:  # Django reads bodies with read(); here for completeness
        return self.read(size)

    def environ(self) -> dict[str, object]:
        return {
            "wsgi.input": self,
            "CONTENT_LENGTH": str(self.length),
            "CONTENT_TYPE": f"multipart/form-data; boundary={self.boundary}",
        }


@pytest.fixture
def operator(django_user_model):
    user = django_user_model.objects.create_user("op", password=None)
    user.groups.add(Group.objects.get(name="operator"))
    return user


@pytest.fixture
def browser(operator):
    """A client as the create page's htmx uses it: CSRF enforced, token in the header."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(operator)
    client.get("/pipelines/new/")
    client.defaults["HTTP_X_CSRFTOKEN"] = client.cookies["csrftoken"].value
    return client


@pytest.fixture
def micro():
    sim = Simulator()
    MicroWorld(teams={TEAM: "k"}).install(sim)
    server = SimServer(sim).start()
    account = Account(name="mi", vendor="micro", base_url=server.url, settings={"team_id": TEAM})
    account.credentials = {"api_key": "k"}
    account.save()
    yield account
    server.stop()


def post_lazy(client: Client, body: LazyBody, **headers: str):
    return client.generic("POST", "/pipelines/new/", b"", **body.environ(), **headers)


@pytest.mark.django_db
def test_a_large_upload_never_sits_in_the_web_workers_memory(browser, micro) -> None:
    """16 MB of CSV: the old page read it whole (value.read(), decoded, every row kept: over
    100 MB of Python memory); now it goes to a temporary file and into PostgreSQL a chunk at a
    time, a few MB whatever the size."""
    body = LazyBody(
        {"what": f"{micro.uuid}:import", "object_type": "contact", "preview": "1"}, "rows", "p.csv", 400_000
    )
    assert body.file_size > 16 * MB
    gc.collect()
    tracemalloc.start()
    try:
        response = post_lazy(browser, body, HTTP_HX_REQUEST="true")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    upload = Upload.objects.get()
    assert response.status_code == 200 and response["HX-Redirect"] == f"/uploads/{upload.uuid}/"
    assert peak < 12 * MB, f"request peak {peak / MB:.1f} MB"
    assert body.taken == body.length  # read to the end: the whole file is kept
    assert upload.size == body.file_size and upload.preview and upload.status == "queued"
    assert sum(len(c) for c in UploadChunk.objects.filter(upload=upload).values_list("data", flat=True)) == upload.size

    # The worker checks it as a stream: counting 400,000 rows keeps a few MB, not the rows.
    gc.collect()
    tracemalloc.start()
    try:
        assert upload_queue.process(upload.pk) == "p.csv: done"
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    upload.refresh_from_db()
    assert peak < 12 * MB, f"worker peak {peak / MB:.1f} MB"
    assert upload.rows_read == 400_000 and upload.message == "400,000 rows read: one import job, polled until done."
    assert not UploadChunk.objects.exists() and not Run.objects.exists()  # a preview sends nothing
    page = browser.get(f"/uploads/{upload.uuid}/").content.decode()
    assert "400,000 rows read" in page and "Nothing was sent" in page


@pytest.mark.django_db
def test_over_the_cap_is_refused_with_413_before_the_body_is_read(browser, micro, settings) -> None:
    settings.UPLOAD_MAX_BYTES = 2 * MB
    body = LazyBody({"what": f"{micro.uuid}:import", "object_type": "contact"}, "rows", "p.csv", 200_000)
    assert body.file_size > 7 * MB
    response = post_lazy(browser, body, HTTP_HX_REQUEST="true")
    assert response.status_code == 413 and body.taken == 0
    assert "larger than 2 MB (UPLOAD_MAX_BYTES)" in response.content.decode()
    assert response["HX-Retarget"] == "#upload-refused"  # shown above the form, the fields stay
    plain = LazyBody({"what": f"{micro.uuid}:import"}, "rows", "p.csv", 200_000)
    page = post_lazy(browser, plain)
    assert page.status_code == 413 and plain.taken == 0 and "Upload too large" in page.content.decode()
    api = browser.generic(
        "POST", "/api/v1/pipelines/new/", b"", **{**plain.environ(), "CONTENT_TYPE": "application/json"}
    )
    assert api.status_code == 413 and "larger than 2 MB" in api.json()["error"]["message"]
    assert not Upload.objects.exists() and not Run.objects.exists()


@pytest.mark.django_db
def test_a_file_just_over_the_cap_is_refused_in_the_form(browser, micro, settings) -> None:
    settings.UPLOAD_MAX_BYTES = 1 * MB
    body = LazyBody({"what": f"{micro.uuid}:import", "object_type": "contact"}, "rows", "p.csv", 30_000)
    assert MB < body.file_size < 2 * MB  # within the room for the form's other fields
    response = post_lazy(browser, body, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert response.status_code == 413 and "larger than 1 MB" in html and 'id="create-fields"' in html
    assert not Upload.objects.exists() and not Run.objects.exists()


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


def events(n: int) -> bytes:
    return b"\n".join(b'{"name": "Viewed", "n": %d, "padding": "%s"}' % (i, b"x" * 40) for i in range(n))


@pytest.mark.django_db(transaction=True)
def test_a_large_upload_is_sent_by_a_real_worker_and_its_page_shows_the_outcome(browser, fullstory, settings) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    from dashboard.celery import app

    settings.UPLOAD_SYNC_MAX_BYTES = 4096  # 250 events (~20 KB) count as large here
    what = f"{fullstory.uuid}:events_import"
    response = browser.post(
        "/pipelines/new/",
        {"what": what, "requests": SimpleUploadedFile("e.ndjson", events(250))},
        HTTP_HX_REQUEST="true",
    )
    upload = Upload.objects.get()
    assert response["HX-Redirect"] == f"/uploads/{upload.uuid}/"
    queued = redis.Redis.from_url(settings.CELERY_BROKER_URL).lrange("uploads", 0, -1)
    assert any(json.loads(m)["headers"]["task"] == "jobs.tasks.process_upload" for m in queued)
    waiting = browser.get(f"/uploads/{upload.uuid}/", HTTP_HX_REQUEST="true")
    assert waiting.status_code == 200 and "hx-trigger" in waiting.content.decode()  # still polling
    with start_worker(app, pool="threads", concurrency=1, perform_ping_check=False, queues=["uploads"]):
        deadline = time.monotonic() + 30
        while not Upload.objects.get().finished and time.monotonic() < deadline:
            time.sleep(0.2)
    upload.refresh_from_db()
    assert upload.status == "done", upload.message
    assert upload.message == "Created 3 batch import jobs for 250 rows" and upload.rows_read == 250
    assert Run.objects.count() == 3 and not UploadChunk.objects.exists()
    pipeline = Pipeline.objects.get()
    final = browser.get(f"/uploads/{upload.uuid}/", HTTP_HX_REQUEST="true")
    assert final.status_code == 286  # finished: htmx stops asking
    assert f"/pipelines/{pipeline.uuid}/" in final.content.decode()
    assert upload_queue.process(upload.pk) == "already taken"  # a second delivery changes nothing


@pytest.mark.django_db
def test_a_bad_large_file_fails_on_its_page_with_the_line(browser, fullstory, settings) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    settings.UPLOAD_SYNC_MAX_BYTES = 4096
    data = events(100) + b'\n{"name": \n' + events(10)
    browser.post(
        "/pipelines/new/",
        {"what": f"{fullstory.uuid}:events_import", "requests": SimpleUploadedFile("e.ndjson", data)},
        HTTP_HX_REQUEST="true",
    )
    upload = Upload.objects.get()
    upload_queue.process(upload.pk)
    page = browser.get(f"/uploads/{upload.uuid}/").content.decode()
    assert "line 101 is not valid JSON" in page and 'role="alert"' in page
    assert not Run.objects.exists() and not UploadChunk.objects.exists()


@pytest.mark.django_db
def test_small_uploads_still_go_out_from_the_request(browser, fullstory) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    assert settings.UPLOAD_SYNC_MAX_BYTES >= 1 * MB
    done = browser.post(
        "/pipelines/new/",
        {"what": f"{fullstory.uuid}:events_import", "requests": SimpleUploadedFile("e.ndjson", events(250))},
        HTTP_HX_REQUEST="true",
    )
    assert done["HX-Redirect"].startswith("/pipelines/") and Run.objects.count() == 3
    assert not Upload.objects.exists()


@pytest.mark.django_db
def test_viewers_do_not_see_upload_pages(logged_in, fullstory) -> None:
    upload = Upload.objects.create(account=fullstory, kind="events_import", field="requests", filename="e", size=1)
    assert logged_in.get(f"/uploads/{upload.uuid}/").status_code == 403


@pytest.mark.django_db
def test_an_upload_nobody_takes_says_so(browser, fullstory) -> None:
    upload = Upload.objects.create(
        account=fullstory,
        kind="events_import",
        field="requests",
        filename="e",
        size=1,
        created_at=timezone.now() - timedelta(minutes=5),
    )
    assert "must consume the <code>uploads</code> queue" in browser.get(f"/uploads/{upload.uuid}/").content.decode()
