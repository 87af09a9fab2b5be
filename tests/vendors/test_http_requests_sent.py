"""What `vendors.http.HttpClient` puts on the wire (urllib3, built as requests built it, ADR 19),
read by a real HTTP server that records each request as it arrived."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

import pytest

from vendors import base as vb
from vendors.http import USER_AGENT, HttpClient


class Recorder(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    seen: list[dict] = []

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self.seen.append({"method": self.command, "path": self.path, "headers": dict(self.headers), "body": body})
        reply = b'{"ok": true}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    do_GET = do_POST = _answer

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    Recorder.seen = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_query_pairs_join_the_urls_own_query_none_left_out_lists_repeated(server: str) -> None:
    HttpClient().call_json("GET", f"{server}/runs?project=1", params={"a": "x y", "skip": None, "id": ["1", "2"]})
    [req] = Recorder.seen
    parts = urlsplit(req["path"])
    assert parts.path == "/runs"
    assert parse_qsl(parts.query) == [("project", "1"), ("a", "x y"), ("id", "1"), ("id", "2")]


def test_json_body_form_body_and_basic_auth(server: str) -> None:
    http = HttpClient()
    http.call_json("POST", f"{server}/json", json={"name": "ü", "n": 1}, auth=("user", "pässword"))
    http.call_json("POST", f"{server}/form", data=[("name", "a&b"), ("project_id", "7")])
    sent_json, sent_form = Recorder.seen
    assert sent_json["headers"]["Content-Type"] == "application/json"
    assert json.loads(sent_json["body"]) == {"name": "ü", "n": 1}
    # latin-1, as requests encodes basic credentials
    assert (
        sent_json["headers"]["Authorization"] == "Basic " + base64.b64encode("user:pässword".encode("latin1")).decode()
    )
    assert sent_form["headers"]["Content-Type"] == "application/x-www-form-urlencoded"
    assert parse_qsl(sent_form["body"].decode()) == [("name", "a&b"), ("project_id", "7")]


def test_default_headers_and_a_callers_own(server: str) -> None:
    HttpClient().call_json("GET", f"{server}/h", headers={"Idempotency-Key": "k-1", "Accept": "application/json"})
    headers = Recorder.seen[0]["headers"]
    assert headers["User-Agent"] == USER_AGENT
    assert headers["Idempotency-Key"] == "k-1" and headers["Accept"] == "application/json"
    assert "gzip" in headers["Accept-Encoding"]


@pytest.mark.parametrize("value", ["s3cr3t-a\nX-Injected: 1", " s3cr3t-b", "s3cr3t-c\r"])
def test_a_header_with_a_line_break_or_edge_space_is_refused_unsent_and_unquoted(server: str, value: str) -> None:
    with pytest.raises(vb.Rejected) as caught:
        HttpClient().call_json("GET", f"{server}/h", headers={"Authorization": value})
    assert "'Authorization' header was not sent" in str(caught.value)
    assert value.strip() not in str(caught.value)
    assert Recorder.seen == []


def test_a_proxy_from_the_environment_is_used_for_its_scheme(server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # The recording server stands in as the proxy: a proxied request names the whole URL.
    monkeypatch.setenv("HTTP_PROXY", server)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    HttpClient().call_json("GET", "http://vendor.example/api/runs?x=1")
    assert Recorder.seen[0]["path"] == "http://vendor.example/api/runs?x=1"
    monkeypatch.setenv("NO_PROXY", "vendor.example")
    with pytest.raises(vb.Transient):  # not proxied: the name does not resolve here
        HttpClient().call_json("GET", "http://vendor.example/api/runs")
    assert len(Recorder.seen) == 1
