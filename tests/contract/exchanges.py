"""Every request the simulator answered and its answer, recorded for the contract checks.

Wraps `Simulator.handle` of one simulator instance, so it sees exactly what went over the
wire (after the HTTP server framed the body) and nothing of the simulator is changed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from vendors.simulator.core import SimRequest, SimResponse, Simulator


@dataclass(frozen=True)
class Exchange:
    request: SimRequest
    response: SimResponse

    @property
    def status(self) -> int:
        return self.response.status

    @property
    def body(self) -> bytes:
        return self.response.encoded()

    def json(self) -> Any:
        return json.loads(self.body) if self.body.strip() else None

    def header(self, name: str) -> str:
        lowered = {k.lower(): v for k, v in self.response.headers.items()}
        return lowered.get(name.lower(), "")

    def __str__(self) -> str:
        query = "&".join(f"{k}={v}" for k, values in self.request.query.items() for v in values)
        return f"{self.request.method} {self.request.path}{'?' + query if query else ''} -> {self.status}"


class Recorder:
    """Records the exchanges of one simulator; `/_sim/` control calls are left out."""

    def __init__(self, simulator: Simulator) -> None:
        self.exchanges: list[Exchange] = []
        inner = simulator.handle

        def handle(req: SimRequest) -> SimResponse:
            resp = inner(req)
            if not req.path.startswith("/_sim/"):
                self.exchanges.append(Exchange(req, resp))
            return resp

        simulator.handle = handle  # type: ignore[method-assign]

    def take(self) -> list[Exchange]:
        """What was recorded since the last take."""
        taken, self.exchanges = self.exchanges, []
        return taken
