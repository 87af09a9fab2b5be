"""A real HTTP server that speaks the vendors' APIs, for the demo, the tests and the bench.

Each vendor package contributes routes (`vendors/<vendor>/simulator.py`); this module
holds what they share: the clock that scripted scenarios read, the router, request and
response types, and fault injection (any status, HTML bodies, timeouts, trickling or
huge bodies, invalid UTF-8, dropped connections) applied before the vendor's handler.
"""

from __future__ import annotations

import base64
import json
import re
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


class Clock:
    """Real time by default; tests freeze it and move it by hand."""

    def __init__(self, start: datetime | None = None, frozen: bool = False) -> None:
        self._offset = timedelta(0)
        self._frozen_at = (start or datetime.now(UTC)) if frozen else None
        if start and not frozen:
            self._offset = start - datetime.now(UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            if self._frozen_at is not None:
                return self._frozen_at
            return datetime.now(UTC) + self._offset

    def advance(self, seconds: float) -> None:
        with self._lock:
            if self._frozen_at is not None:
                self._frozen_at += timedelta(seconds=seconds)
            else:
                self._offset += timedelta(seconds=seconds)


@dataclass
class SimRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def arg(self, name: str, default: str = "") -> str:
        values = self.query.get(name) or self.form().get(name)
        return values[0] if values else default

    def form(self) -> dict[str, list[str]]:
        if "application/x-www-form-urlencoded" in self.headers.get("content-type", ""):
            return parse_qs(self.body.decode("utf-8", "replace"), keep_blank_values=True)
        return {}

    def json(self) -> Any:
        return json.loads(self.body or b"null")

    def basic_auth(self) -> tuple[str, str] | None:
        header = self.headers.get("authorization", "")
        if not header.lower().startswith("basic "):
            return None
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except ValueError:
            return None
        return user, password


@dataclass
class SimResponse:
    status: int = 200
    body: Any = None  # bytes and str go out as they are; anything else as JSON
    headers: dict[str, str] = field(default_factory=dict)
    # Fault knobs, honoured by the server loop.
    delay: float = 0.0
    trickle_seconds: float = 0.0
    drop_connection: bool = False

    def encoded(self) -> bytes:
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode()
        if self.body is None:
            return b""
        return json.dumps(self.body).encode()


def json_response(body: Any, status: int = 200, **headers: str) -> SimResponse:
    return SimResponse(status, body, {"Content-Type": "application/json", **headers})


Handler = Callable[..., SimResponse]


@dataclass
class Fault:
    """A misbehaviour applied to requests whose path starts with `path`."""

    kind: str  # status | html | not_json | wrong_shape | timeout | trickle | huge | bad_utf8 | drop
    path: str = "/"
    status: int = 500
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    times: int | None = None  # None: until cleared

    def response(self) -> SimResponse:
        k = self.kind
        if k == "status":
            return SimResponse(
                self.status,
                self.body if self.body is not None else {"message": "simulated failure"},
                {"Content-Type": "application/json", **self.headers},
            )
        if k == "html":
            page = "<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1></body></html>"
            return SimResponse(self.status or 502, page, {"Content-Type": "text/html"})
        if k == "not_json":
            return SimResponse(200, "<html>maintenance</html>", {"Content-Type": "text/html"})
        if k == "wrong_shape":
            body = self.body if self.body is not None else {"unexpected": ["shape"]}
            return json_response(body)
        if k == "timeout":
            return SimResponse(200, b"{}", {"Content-Type": "application/json"}, delay=self.seconds or 30)
        if k == "trickle":
            return SimResponse(
                200,
                b'{"status": "ok"}' * 8,
                {"Content-Type": "application/json"},
                trickle_seconds=self.seconds or 30,
            )
        if k == "huge":
            filler = "x" * (10 * 1024 * 1024)
            return json_response({"status": "ok", "filler": filler})
        if k == "bad_utf8":
            return SimResponse(200, b'{"status": "ok", "x": "\xff\xfe"}', {"Content-Type": "application/json"})
        if k == "drop":
            return SimResponse(drop_connection=True)
        raise ValueError(f"unknown fault kind {k!r}")


class Simulator:
    """Routes requests to vendor handlers, after any injected fault."""

    def __init__(self, clock: Clock | None = None) -> None:
        self.clock = clock or Clock()
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = []
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        self.request_log: list[tuple[str, str]] = []
        # Seconds every vendor answer takes (a real vendor's round trip); 0 answers at once.
        self.latency = 0.0
        self.add_route("POST", r"/_sim/faults", self._control_faults)
        self.add_route("POST", r"/_sim/advance", self._control_advance)

    def add_route(self, method: str, pattern: str, handler: Handler) -> None:
        self._routes.append((method, re.compile(f"^{pattern}$"), handler))

    # Fault injection, from Python (tests) or over HTTP (bench, manual demos).
    def inject(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def _take_fault(self, path: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if path.startswith(fault.path):
                    if fault.times is not None:
                        fault.times -= 1
                        if fault.times <= 0:
                            self._faults.remove(fault)
                    return fault
        return None

    def handle(self, req: SimRequest) -> SimResponse:
        resp = self._handle(req)
        if self.latency and not resp.delay and not req.path.startswith("/_sim/"):
            resp = replace(resp, delay=self.latency)
        return resp

    def _handle(self, req: SimRequest) -> SimResponse:
        with self._lock:
            self.request_log.append((req.method, req.path))
            del self.request_log[:-1000]
        if not req.path.startswith("/_sim/") and (fault := self._take_fault(req.path)):
            return fault.response()
        allowed: list[str] = []
        for method, pattern, handler in self._routes:
            if m := pattern.match(req.path):
                if method != req.method:
                    allowed.append(method)
                    continue
                return handler(req, **m.groupdict())
        if allowed:
            return json_response({"message": "method not allowed"}, 405, Allow=", ".join(allowed))
        return json_response({"message": f"no such endpoint: {req.path}"}, 404)

    def _control_faults(self, req: SimRequest) -> SimResponse:
        spec = req.json() or {}
        if spec.get("clear"):
            self.clear_faults()
        else:
            self.inject(Fault(**spec))
        return json_response({"ok": True})

    def _control_advance(self, req: SimRequest) -> SimResponse:
        self.clock.advance(float((req.json() or {}).get("seconds", 0)))
        return json_response({"now": self.clock.now().isoformat()})


_CHUNK_SIZE = re.compile(rb"^[0-9A-Fa-f]{1,16}$")


def read_chunked(rfile: Any) -> bytes:
    """A `Transfer-Encoding: chunked` body (RFC 9112 7.1): extensions and trailers skipped."""
    parts = []
    while True:
        size_text = rfile.readline(1024).split(b";", 1)[0].strip()
        if not _CHUNK_SIZE.match(size_text):
            raise ValueError(f"chunk size {size_text[:20]!r} is not hexadecimal")
        size = int(size_text, 16)
        if size == 0:
            break
        chunk = rfile.read(size)
        if len(chunk) < size or rfile.readline(1024) != b"\r\n":
            raise ValueError("the body ended inside a chunk")
        parts.append(chunk)
    while rfile.readline(1024).strip():  # trailer fields, up to the empty line
        pass
    return b"".join(parts)


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the real vendors do
    disable_nagle_algorithm = True  # headers and body go in two writes; don't wait 40 ms
    simulator: Simulator

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the request log on the Simulator is enough; stderr noise hides test output

    def _read_body(self) -> bytes:
        """The request body, framed by Content-Length or chunked; ValueError if broken."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return read_chunked(self.rfile)
        declared = (self.headers.get("Content-Length") or "0").strip()
        if not declared.isdigit():
            raise ValueError(f"Content-Length {declared[:20]!r} is not a number")
        length = int(declared)
        body = self.rfile.read(length) if length else b""
        if len(body) < length:
            raise ValueError("the body is shorter than its Content-Length")
        return body

    def _dispatch(self) -> None:
        parts = urlsplit(self.path)
        try:
            body = self._read_body()
        except ValueError as exc:  # the rest of the stream cannot be framed: answer, then hang up
            self.close_connection = True
            self._write(json_response({"message": f"malformed request: {exc}"}, 400, Connection="close"))
            return
        req = SimRequest(
            method=self.command,
            path=parts.path,
            query=parse_qs(parts.query, keep_blank_values=True),
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
        )
        try:
            resp = self.simulator.handle(req)
        except Exception as exc:  # a simulator bug must look like a vendor 500, not hang
            resp = json_response({"message": f"simulator error: {exc}"}, 500)
        if resp.drop_connection:
            self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True
            return
        if resp.delay:
            time.sleep(resp.delay)
        self._write(resp)

    def _write(self, resp: SimResponse) -> None:
        payload = resp.encoded()
        self.send_response(resp.status)
        for name, value in resp.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if resp.trickle_seconds and payload:
            pause = resp.trickle_seconds / len(payload)
            for i in range(len(payload)):
                self.wfile.write(payload[i : i + 1])
                self.wfile.flush()
                time.sleep(pause)
        else:
            self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _dispatch


class SimServer:
    """The simulator on a TCP port, in a background thread (tests) or the foreground."""

    def __init__(self, simulator: Simulator, host: str = "127.0.0.1", port: int = 0) -> None:
        handler = type("Handler", (_RequestHandler,), {"simulator": simulator})
        self.httpd = ThreadingHTTPServer((host, port), handler)
        self.httpd.daemon_threads = True
        self.simulator = simulator
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> SimServer:
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self.httpd.serve_forever()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
