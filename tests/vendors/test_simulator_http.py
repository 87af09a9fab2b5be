"""The simulator's HTTP server reads request bodies as real clients send them: with a
Content-Length, or chunked (FullStory's official Node SDK never sends a length)."""

import socket
from collections.abc import Iterator

import pytest
import requests

from vendors.simulator.core import SimRequest, SimServer, Simulator, json_response


@pytest.fixture
def echo() -> Iterator[tuple[SimServer, list[SimRequest]]]:
    sim = Simulator()
    seen: list[SimRequest] = []

    def handler(req: SimRequest) -> object:
        seen.append(req)
        return json_response({"bytes": len(req.body), "json": req.json()})

    sim.add_route("POST", r"/echo", handler)
    server = SimServer(sim).start()
    try:
        yield server, seen
    finally:
        server.stop()


def _raw(server: SimServer, payload: bytes) -> bytes:
    """Send bytes on one connection and read everything until the server closes it."""
    with socket.create_connection(server.httpd.server_address, timeout=2) as sock:
        sock.sendall(payload)
        sock.shutdown(socket.SHUT_WR)  # nothing more to send: the server sees the end
        sock.settimeout(2)
        received = b""
        try:
            while chunk := sock.recv(65536):
                received += chunk
        except TimeoutError:
            pass
    return received


def test_a_chunked_body_is_read_whole(echo) -> None:
    server, seen = echo

    def parts() -> Iterator[bytes]:  # requests sends a generator chunked, without Content-Length
        yield b'{"requests": ['
        yield b'{"name": "Signed Up"}, '
        yield b'{"name": "Upgraded"}]}'

    resp = requests.post(server.url + "/echo", data=parts(), timeout=5)
    assert resp.status_code == 200
    assert resp.json()["json"] == {"requests": [{"name": "Signed Up"}, {"name": "Upgraded"}]}
    assert seen[0].headers["transfer-encoding"] == "chunked"


def test_chunk_extensions_and_trailers_are_consumed_and_the_connection_stays_usable(echo) -> None:
    server, seen = echo
    body = b'{"a": 1}'
    rest = b"%x\r\n" % (len(body) - 3) + body[3:]
    chunked = b"3;ext=1\r\n" + body[:3] + b"\r\n" + rest + b"\r\n0\r\nX-Trailer: t\r\n\r\n"
    first = b"POST /echo HTTP/1.1\r\nHost: sim\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked
    second = b"POST /echo HTTP/1.1\r\nHost: sim\r\nContent-Length: 8\r\nConnection: close\r\n\r\n" + body
    answer = _raw(server, first + second)
    # Two answers, both 200: the chunk framing was not mistaken for a second request.
    assert answer.count(b"HTTP/1.1 200 OK") == 2 and b"400" not in answer
    assert [r.json() for r in seen] == [{"a": 1}, {"a": 1}]


@pytest.mark.parametrize(
    "framing",
    [
        b"Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",  # a chunk size that is not hex
        b"Transfer-Encoding: chunked\r\n\r\n5\r\n{}",  # the body stops inside a chunk
        b"Content-Length: lots\r\n\r\n{}",
    ],
)
def test_broken_framing_is_a_400_and_the_connection_closes(echo, framing) -> None:
    server, seen = echo
    answer = _raw(server, b"POST /echo HTTP/1.1\r\nHost: sim\r\n" + framing)
    assert answer.startswith(b"HTTP/1.1 400") and answer.count(b"HTTP/1.1") == 1
    assert seen == []
