"""Names for what people create here, from what they asked for: "Statsig backfill Events
2026-11-01..2026-11-07", not "backfills". The vendor's own id stays beside the name."""

from __future__ import annotations

from typing import Any

MAX_LENGTH = 200
# What the job moves, first found wins: Statsig's dataset, a table, Micro's object type,
# FullStory's kind of batch, nessie's data source.
SUBJECT_KEYS = ("dataset", "table", "table_name", "object_type", "data_source")
DAY_PAIRS = (("datestamp_start", "datestamp_end"), ("from_date", "to_date"))
# Where it lands, when the spec says: Statsig's warehouse ("type"), nessie's pipeline type.
PLACE_KEYS = {"statsig": "type", "mixpanel": "type"}


def _days(spec: dict[str, Any]) -> str:
    for start_key, end_key in DAY_PAIRS:
        start, end = str(spec.get(start_key) or ""), str(spec.get(end_key) or "")
        if start and end:
            return start if start == end else f"{start}..{end}"
        if start:
            return f"from {start}"
    return ""


def default_name(vendor: str, vendor_label: str, kind: str, spec: dict[str, Any]) -> str:
    """Vendor, kind, what it moves and which days, plus where it lands: readable and specific."""
    parts = [vendor_label, kind.replace("_", " ")]
    subject = next((str(spec[k]) for k in SUBJECT_KEYS if isinstance(spec.get(k), str) and spec[k]), "")
    if subject:
        parts.append(subject)
    if days := _days(spec):
        parts.append(days)
    place = spec.get(PLACE_KEYS.get(vendor, ""))
    if isinstance(place, str) and place and place != subject:
        parts.append(f"({place})")
    return " ".join(parts)[:MAX_LENGTH]


def stream_name(vendor_label: str, kind: str) -> str:
    """The pipeline every job of one kind joins (Statsig backfills, Micro imports)."""
    noun = kind.replace("_", " ")
    return f"{vendor_label} {noun if noun.endswith('s') else noun + 's'}"
