"""One PostHog project in the simulator: its batch exports and its warehouse sources."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from .sim_exports import SimExport
from .sim_tables import SimSchema, SimSource


@dataclass
class SimProject:
    id: int
    exports: dict[str, SimExport] = field(default_factory=dict)
    sources: dict[str, SimSource] = field(default_factory=dict)

    def advance(self, now: datetime) -> None:
        for export in self.exports.values():
            export.advance(now)
        for source in self.sources.values():
            for schema in source.schemas:
                schema.advance(now)

    def schema(self, schema_id: str) -> SimSchema | None:
        return next((s for src in self.sources.values() for s in src.schemas if s.id == schema_id), None)
