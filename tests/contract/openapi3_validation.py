"""Recorded exchanges checked against an OpenAPI 3 description with openapi-core.

The recorded request is replayed onto the description's own server URL (the simulator
answers on 127.0.0.1), so the path is checked under the vendor's real base. Problems come
back as text lines, with the schema errors openapi-core found underneath.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from openapi_core import OpenAPI
from openapi_core.datatypes import RequestParameters
from werkzeug.datastructures import Headers, ImmutableMultiDict

from vendors.simulator.core import SimRequest

from .exchanges import Exchange
from .openapi_recorder import TALLY


@cache
def load(path: Path) -> OpenAPI:
    """The description, read and checked once per test session (a large file takes seconds)."""
    return OpenAPI.from_file_path(str(path))


@dataclass
class RecordedRequest:
    """A request as it reached the simulator, in the shape openapi-core reads."""

    host_url: str
    path: str
    method: str
    body: bytes | None
    content_type: str
    parameters: RequestParameters = field(default_factory=RequestParameters)

    @classmethod
    def of(cls, req: SimRequest, host_url: str) -> RecordedRequest:
        headers = Headers(list(req.headers.items()))
        query = ImmutableMultiDict([(k, v) for k, values in req.query.items() for v in values])
        return cls(
            host_url=host_url,
            path=req.path,
            method=req.method.lower(),
            body=req.body or None,
            content_type=req.headers.get("content-type", "").lower(),
            parameters=RequestParameters(query=query, header=headers),
        )


@dataclass
class RecordedResponse:
    status_code: int
    data: bytes | None
    headers: Headers
    content_type: str


def _server(openapi: OpenAPI) -> str:
    return (openapi.spec / "servers" / 0 / "url").read_value()


def _describe(errors: list[Exception]) -> list[str]:
    lines = []
    for error in errors:
        causes = [error, *([error.__cause__] if error.__cause__ else [])]
        details = [str(e) for c in causes for e in getattr(c, "schema_errors", ())]
        lines.append(f"{type(error).__name__}: {error}" + "".join(f"\n    {d}" for d in details[:5]))
    return lines


def _name(openapi: OpenAPI) -> str:
    """The end-of-run summary's label: the description's title and its server's host."""
    return f"{(openapi.spec / 'info' / 'title').read_str()} ({urlsplit(_server(openapi)).hostname})"


def request_problems(openapi: OpenAPI, req: SimRequest) -> list[str]:
    TALLY[(_name(openapi), "requests")] += 1
    result = openapi.unmarshal_request(RecordedRequest.of(req, _server(openapi)))
    return [f"{req.method} {req.path}: {line}" for line in _describe(result.errors)]


def response_problems(openapi: OpenAPI, exchange: Exchange) -> list[str]:
    TALLY[(_name(openapi), "responses")] += 1
    request = RecordedRequest.of(exchange.request, _server(openapi))
    ctype = exchange.header("Content-Type").lower()
    headers = Headers(list(exchange.response.headers.items()))
    response = RecordedResponse(exchange.status, exchange.body or None, headers, ctype)
    result = openapi.unmarshal_response(request, response)
    return [f"{exchange}: {line}" for line in _describe(result.errors)]


def schema(openapi: OpenAPI, name: str) -> dict[str, Any]:
    """A component schema (`IngestionBackfillContractDto`) as plain data."""
    return (openapi.spec / "components" / "schemas" / name).read_value()
