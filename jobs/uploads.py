"""Turn an uploaded file into the rows a create request sends: a JSON array, NDJSON, or
CSV (Micro rows). Errors say which line is wrong; nothing is sent until all of it reads.

Files are read as streams, a chunk at a time, never whole: `RowReader` yields one row
after another (CSV through csv on a text wrapper, NDJSON a line at a time, a JSON array
one element at a time), so counting or checking a 200 MB file holds a few MB, and only
a caller that keeps the rows (the vendor call needs them) pays for them.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

from django.conf import settings

READ_CHARS = 1 << 20  # text read per step of a JSON array
JSON_SPACE = " \t\n\r"
MAX_ROW_CHARS = 10 << 20  # one row (one JSON object) larger than this is refused, not buffered


class UploadError(ValueError):
    pass


class UploadTooLarge(UploadError):
    """Past UPLOAD_MAX_BYTES: answered with 413."""


def too_large_message() -> str:
    return f"the file is larger than {settings.UPLOAD_MAX_BYTES / (1024 * 1024):g} MB (UPLOAD_MAX_BYTES)"


@dataclass
class Parsed:
    rows: list[dict[str, Any]]
    format: str

    def batches(self, limit: int) -> int:
        return max(1, -(-len(self.rows) // limit)) if self.rows else 0


class _Capped(io.RawIOBase):
    """A binary stream that raises UploadTooLarge as soon as more than `limit` bytes pass,
    and counts them (progress)."""

    def __init__(self, raw: BinaryIO, limit: int) -> None:
        self.raw, self.limit, self.bytes_read = raw, limit, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.raw.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        self.bytes_read += n
        if self.bytes_read > self.limit:
            raise UploadTooLarge(too_large_message())
        return n


class RowReader:
    """The rows of an uploaded file, one at a time: `for row in RowReader(f, name): ...`.
    `format` is known once constructed; `bytes_read` grows as rows are read."""

    def __init__(self, stream: BinaryIO, filename: str = "", allow_csv: bool = False) -> None:
        self._capped = _Capped(stream, settings.UPLOAD_MAX_BYTES)
        self._text = io.TextIOWrapper(
            io.BufferedReader(self._capped, 1 << 16), encoding="utf-8-sig", errors="strict", newline=""
        )
        self._lead = self._skip_space()
        first = self._lead.lstrip()[:1]
        if not first:
            raise UploadError("the file is empty")
        if first == "[":
            self.format = "JSON array"
        elif first == "{":
            self.format = "NDJSON"
        elif allow_csv or filename.lower().endswith(".csv"):
            if not allow_csv:
                raise UploadError("CSV is not accepted here: upload a JSON array or NDJSON")
            self.format = "CSV"
        else:
            raise UploadError("expected a JSON array, NDJSON (one object per line)" + (" or CSV" if allow_csv else ""))

    @property
    def bytes_read(self) -> int:
        return self._capped.bytes_read

    def _read(self, size: int = -1) -> str:
        try:
            return self._text.read(size)
        except UnicodeDecodeError as exc:
            raise self._not_utf8(exc) from None

    def _readline(self) -> str:
        try:
            return self._text.readline()
        except UnicodeDecodeError as exc:
            raise self._not_utf8(exc) from None

    def _not_utf8(self, exc: UnicodeDecodeError) -> UploadError:
        return UploadError(f"the file is not UTF-8 text (near byte {self.bytes_read - len(exc.object) + exc.start})")

    def _lines(self) -> Iterator[str]:
        """Every line of the file (with its line end), the part already read first."""
        yield from io.StringIO(self._lead + self._readline(), newline="")
        while line := self._readline():
            yield line

    def _skip_space(self) -> str:
        """Leading whitespace and the first character after it (kept: the format starts there)."""
        lead = ""
        while chunk := self._read(1):
            lead += chunk
            if not chunk.isspace():
                break
        return lead

    def __iter__(self) -> Iterator[dict[str, Any]]:
        if self.format == "JSON array":
            return self._json_array()
        if self.format == "NDJSON":
            return self._ndjson()
        return self._csv()

    def _ndjson(self) -> Iterator[dict[str, Any]]:
        for number, line in enumerate(self._lines(), start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise UploadError(f"line {number} is not valid JSON: {exc.msg}") from None
            if not isinstance(row, dict):
                raise UploadError(f"line {number} is not a JSON object")
            yield row

    def _csv(self) -> Iterator[dict[str, Any]]:
        reader = csv.DictReader(self._lines())
        try:
            fieldnames = reader.fieldnames
            if not fieldnames or any(not (name or "").strip() for name in fieldnames):
                raise UploadError("the CSV needs a header row naming every column")
            for row in reader:
                if None in row:
                    raise UploadError(f"line {reader.line_num} has more values than the header has columns")
                yield {k.strip(): v for k, v in row.items() if v not in (None, "")}
        except csv.Error as exc:
            raise UploadError(f"line {reader.line_num + 1} is not valid CSV: {exc}") from None  # the line being read

    def _json_array(self) -> Iterator[dict[str, Any]]:
        """One element at a time: json's raw_decode on a window of the text that moves on."""
        decoder = json.JSONDecoder()
        buf, pos = self._lead, len(self._lead)  # just past the "["
        eof = False
        line, column = 1, 0  # where buf starts in the file (for messages)
        item = 0
        expect_value = True  # after "[" or ",": a value (or "]" right after "[")

        def where(offset: int) -> str:
            before = buf[:offset]
            lines = before.count("\n")
            col = offset - before.rfind("\n") if lines else column + offset + 1
            return f"line {line + lines}, column {col}"

        def fill() -> None:
            nonlocal buf, pos, eof, line, column
            gone = buf[:pos]
            newlines = gone.count("\n")
            line += newlines
            column = len(gone) - gone.rfind("\n") - 1 if newlines else column + len(gone)
            more = self._read(READ_CHARS)
            eof = not more
            buf, pos = buf[pos:] + more, 0

        while True:
            while True:  # skip whitespace, reading on as needed
                while pos < len(buf) and buf[pos] in JSON_SPACE:
                    pos += 1
                if pos < len(buf) or eof:
                    break
                fill()
            if pos >= len(buf):
                raise UploadError(f"not valid JSON at {where(pos)}: the array is not closed")
            char = buf[pos]
            if char == "]" and (not expect_value or item == 0):
                pos += 1
                break
            if not expect_value:
                if char != ",":
                    raise UploadError(f"not valid JSON at {where(pos)}: Expecting ',' delimiter")
                pos += 1
                expect_value = True
                continue
            while True:
                try:
                    value, end = decoder.raw_decode(buf, pos)
                except json.JSONDecodeError as exc:
                    if eof or len(buf) - pos > MAX_ROW_CHARS:
                        raise UploadError(f"not valid JSON at {where(exc.pos)}: {exc.msg}") from None
                    fill()  # the element may go on past what is read so far
                    continue
                if end == len(buf) and not eof:
                    fill()  # a number at the end of the window may have more digits
                    continue
                break
            item += 1
            if not isinstance(value, dict):
                raise UploadError(f"item {item} is not an object")
            pos = end
            expect_value = False
            if len(buf) - pos < READ_CHARS // 4 and not eof:
                fill()
            yield value
        while True:  # only whitespace may follow the array
            while pos < len(buf) and buf[pos] in JSON_SPACE:
                pos += 1
            if pos < len(buf):
                raise UploadError(f"not valid JSON at {where(pos)}: Extra data")
            if eof:
                return
            fill()


def parse_rows(data: bytes | BinaryIO, filename: str = "", allow_csv: bool = False) -> Parsed:
    """Every row, kept: for uploads small enough to send from the request."""
    reader = RowReader(io.BytesIO(data) if isinstance(data, bytes) else data, filename, allow_csv)
    return Parsed(list(reader), reader.format)


def count_rows(stream: BinaryIO, filename: str = "", allow_csv: bool = False) -> tuple[int, str]:
    """How many rows, every one of them checked, none kept: (count, format)."""
    reader = RowReader(stream, filename, allow_csv)
    count = sum(1 for _ in reader)
    return count, reader.format
