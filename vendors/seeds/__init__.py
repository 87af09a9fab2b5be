"""Verbatim copies of the vendor documents the product started from (shared/seeds/).

The simulator serves their sample responses byte for byte and the normalizer tests parse
them, so the seeds stay the contract rather than our memory of it.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path

SEED_DIR = Path(__file__).parent
_BLOCK = re.compile(r"\[block:code\]\s*(\{.*?\})\s*\[/block\]", re.S)


@cache
def readme_code_samples(filename: str) -> dict[str, str]:
    """Named JSON samples of a readme.io export: {"Sample Response - Queued Job": text}."""
    text = (SEED_DIR / filename).read_text()
    samples: dict[str, str] = {}
    for block in _BLOCK.findall(text):
        for code in json.loads(block)["codes"]:
            if code.get("language") == "json" and code.get("name"):
                samples[code["name"]] = code["code"]
    return samples
