"""Turn an uploaded file into the rows a create request sends: a JSON array, NDJSON, or
CSV (Micro rows). Errors say which line is wrong; nothing is sent until all of it reads."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from typing import Any

MAX_UPLOAD_BYTES = 200 * 1024 * 1024


class UploadError(ValueError):
    pass


@dataclass
class Parsed:
    rows: list[dict[str, Any]]
    format: str

    def batches(self, limit: int) -> int:
        return max(1, -(-len(self.rows) // limit)) if self.rows else 0


def parse_rows(data: bytes, filename: str = "", allow_csv: bool = False) -> Parsed:
    if len(data) > MAX_UPLOAD_BYTES:
        raise UploadError(f"the file is larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MB")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UploadError(f"the file is not UTF-8 text (byte {exc.start})") from None
    stripped = text.lstrip()
    if not stripped:
        raise UploadError("the file is empty")
    if stripped[0] == "[":
        return Parsed(_json_array(text), "JSON array")
    if stripped[0] == "{":
        return Parsed(_ndjson(text), "NDJSON")
    if allow_csv or filename.lower().endswith(".csv"):
        if not allow_csv:
            raise UploadError("CSV is not accepted here: upload a JSON array or NDJSON")
        return Parsed(_csv(text), "CSV")
    raise UploadError("expected a JSON array, NDJSON (one object per line)" + (" or CSV" if allow_csv else ""))


def _json_array(text: str) -> list[dict[str, Any]]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UploadError(f"not valid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
    if not isinstance(value, list):
        raise UploadError("expected a JSON array of objects")
    for i, row in enumerate(value):
        if not isinstance(row, dict):
            raise UploadError(f"item {i + 1} is not an object")
    return value


def _ndjson(text: str) -> list[dict[str, Any]]:
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise UploadError(f"line {number} is not valid JSON: {exc.msg}") from None
        if not isinstance(row, dict):
            raise UploadError(f"line {number} is not a JSON object")
        rows.append(row)
    return rows


def _csv(text: str) -> list[dict[str, Any]]:
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames or any(not (name or "").strip() for name in reader.fieldnames):
        raise UploadError("the CSV needs a header row naming every column")
    rows = []
    for number, row in enumerate(reader, start=2):
        if None in row:
            raise UploadError(f"line {number} has more values than the header has columns")
        rows.append({k.strip(): v for k, v in row.items() if v not in (None, "")})
    return rows
