"""CSV that is safe to open in a spreadsheet. Every CSV the server writes goes through
`SafeWriter`, which passes every cell through `safe_cell` (OWASP "CSV injection"): vendor text
that a spreadsheet would run as a formula is prefixed with a quote, in whichever column."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from typing import Any

# What starts a formula, also after leading whitespace (spreadsheets skip it), and the
# full-width forms some of them read as the same characters.
FORMULA_STARTS = frozenset("=+-@\uff1d\uff0b\uff0d\uff20")
# Tab and carriage return start a formula-like cell on their own (OWASP).
CONTROL_STARTS = ("\t", "\r")


def safe_cell(value: Any) -> Any:
    """The cell as written: numbers as they are, None empty, text that could run prefixed with '."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value  # a number cannot carry a formula
    text = "" if value is None else str(value)
    if text[:1] in CONTROL_STARTS or text.lstrip()[:1] in FORMULA_STARTS:
        return "'" + text
    return text


class _Echo:
    """A file that hands back what is written: rows become strings a response can stream."""

    def write(self, value: str) -> str:
        return value


class SafeWriter:
    """csv.writer whose every cell goes through `safe_cell`. Without a file, `writerow`
    returns the encoded line (for a streaming response)."""

    def __init__(self, file: Any = None) -> None:
        self._writer = csv.writer(_Echo() if file is None else file)

    def writerow(self, cells: Iterable[Any]) -> Any:
        return self._writer.writerow([safe_cell(cell) for cell in cells])
