"""Medians, percentiles, the table and the JSON file."""

from __future__ import annotations

import json
import math
import platform
import statistics
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


def median(values: list[float]) -> float:
    return statistics.median(values) if values else math.nan


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


@dataclass
class Row:
    measurement: str
    value: float
    unit: str = ""
    baseline: float | None = None
    ratio: float | None = None
    target: str = ""
    met: bool | None = None
    note: str = ""


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)

    def add(self, row: Row) -> Row:
        self.rows.append(row)
        return row

    def table(self) -> str:
        header = ("measurement", "baseline", "value", "ratio", "target", "met?")
        lines = [
            (
                r.measurement,
                _num(r.baseline, r.unit),
                _num(r.value, r.unit),
                "" if r.ratio is None else f"{r.ratio:.2f}",
                r.target,
                {True: "yes", False: "NO", None: "-"}[r.met],
            )
            for r in self.rows
        ]
        widths = [max(len(h), *(len(line[i]) for line in lines)) if lines else len(h) for i, h in enumerate(header)]
        fmt = " | ".join(f"{{:{'<' if i == 0 else '>'}{w}}}" for i, w in enumerate(widths))
        out = [fmt.format(*header), "-+-".join("-" * w for w in widths)]
        out += [fmt.format(*line) for line in lines]
        notes = [f"  {r.measurement}: {r.note}" for r in self.rows if r.note]
        if notes:
            out += ["", "notes:", *notes]
        return "\n".join(out)

    def write(self, path: Path, sizes: dict[str, Any], quick: bool, seconds: float) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        doc = {
            "when": datetime.now(UTC).isoformat(timespec="seconds"),
            "quick": quick,
            "seconds": round(seconds, 1),
            "machine": {"python": platform.python_version(), "cpus": _cpus(), "platform": platform.platform()},
            "sizes": sizes,
            "results": [
                {
                    "measurement": r.measurement,
                    "unit": r.unit,
                    "baseline": _clean(r.baseline),
                    "value": _clean(r.value),
                    "ratio": _clean(r.ratio),
                    "target": r.target,
                    "met": r.met,
                    "note": r.note,
                }
                for r in self.rows
            ],
            "details": self.details,
        }
        path.write_text(json.dumps(doc, indent=2, default=str) + "\n")


def _cpus() -> int:
    import os

    return os.cpu_count() or 0


def _clean(value: float | None) -> float | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return round(value, 4)


def _num(value: float | None, unit: str) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and math.isnan(value):
        return "n/a"
    if unit in ("ms", "s"):
        text = f"{value:,.1f}" if value < 100 else f"{value:,.0f}"
    elif unit == "polls/s" or unit == "MB":
        text = f"{value:,.0f}"
    elif isinstance(value, float) and not value.is_integer():
        text = f"{value:,.1f}"
    else:
        text = f"{int(value):,}"
    return f"{text} {unit}".strip()
