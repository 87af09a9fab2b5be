"""The nessie seed's samples (vendors/seeds/mixpanel-data-pipelines-api.txt) for the
simulator and the tests. Only the create example is named in the seed; the others are
found by a marker in their text."""

from __future__ import annotations

import json
import re
from typing import Any

from ..seeds import SEED_DIR

NESSIE_SEED = "mixpanel-data-pipelines-api.txt"
SEED_PROJECT_ID = "9876543210"
SEED_PIPELINE = "company-july-2016-backfill-hourly-monoschema"
_BLOCK = re.compile(r"\[block:code\]\s*(\{.*?\})\s*\[/block\]", re.S)


def seed_json_samples() -> list[str]:
    """Every JSON code sample of the nessie seed, as written (names are absent there)."""
    text = (SEED_DIR / NESSIE_SEED).read_text()
    return [
        code["code"]
        for block in _BLOCK.findall(text)
        for code in json.loads(block)["codes"]
        if code.get("language") == "json"
    ]


def seed_sample(marker: str) -> str:
    return next(s for s in seed_json_samples() if marker in s)


def seed_summary_text() -> str:
    """`{"canceled": 933, "retried": 80, "succeeded": 1}` as the seed writes it, minus its comment."""
    return seed_sample("// with summary").split("\n", 1)[1]


def seed_canceled_task() -> dict[str, Any]:
    """The first task of the seed's (truncated) status sample."""
    text = seed_sample("//no summary.")
    return json.loads(text[text.index("[") + 1 : text.index("}") + 1])


def seed_jobs_text() -> str:
    return seed_sample(f'"{SEED_PROJECT_ID}"')


# The seed's timeline JSON is malformed; this is the spec's valid version of it [M4].
SEED_TIMELINE = {
    "day_syncs": [
        {"date": "2019-08-19", "sync_times": ["2019-08-19 14:27:46.044605 -0700 PDT"], "status": "synced"},
        {"date": "2019-08-20", "sync_times": ["2019-08-20 14:33:09.315098 -0700 PDT"], "status": "synced"},
    ]
}
