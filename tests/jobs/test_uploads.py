import pytest

from jobs.uploads import UploadError, parse_rows


@pytest.mark.parametrize(
    ("data", "fmt", "count"),
    [
        (b'[{"uid": "1"}, {"uid": "2"}]', "JSON array", 2),
        (b'{"uid": "1"}\n\n{"uid": "2"}\n{"uid": "3"}\n', "NDJSON", 3),
        ('\ufeff[{"x": 1}]'.encode(), "JSON array", 1),
    ],
)
def test_json_shapes(data: bytes, fmt: str, count: int) -> None:
    parsed = parse_rows(data)
    assert (parsed.format, len(parsed.rows)) == (fmt, count)


def test_csv_rows_for_micro() -> None:
    parsed = parse_rows(b"email,name\na@example.com,Ada\nb@example.com,\n", "people.csv", allow_csv=True)
    assert parsed.format == "CSV"
    assert parsed.rows == [{"email": "a@example.com", "name": "Ada"}, {"email": "b@example.com"}]


@pytest.mark.parametrize(
    ("data", "allow_csv", "message"),
    [
        (b"", False, "empty"),
        (b"\xff\xfe", False, "not UTF-8"),
        (b'{"a": 1}\n{"a": \n', False, "line 2 is not valid JSON"),
        (b'[{"a": 1}, 3]', False, "item 2 is not an object"),
        (b'{"a": 1}\n[1]\n', False, "line 2"),
        (b"[{", False, "not valid JSON at line 1"),
        (b"a,b\n1,2,3\n", True, "line 2 has more values"),
        (b"a,b\n1,2\n", False, "expected a JSON array"),
    ],
)
def test_bad_files_say_where(data: bytes, allow_csv: bool, message: str) -> None:
    with pytest.raises(UploadError, match=message):
        parse_rows(data, allow_csv=allow_csv)


def test_batches() -> None:
    parsed = parse_rows(b"[" + b",".join(b'{"i": %d}' % i for i in range(120_001)) + b"]")
    assert parsed.batches(50_000) == 3


# --- Streaming: the same rows, read a window at a time ----------------------------------

import io  # noqa: E402
import json  # noqa: E402
import tracemalloc  # noqa: E402

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from jobs import uploads  # noqa: E402
from jobs.uploads import UploadTooLarge, count_rows  # noqa: E402

values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)
objects = st.lists(st.dictionaries(st.text(max_size=8), values, max_size=4), max_size=12)


@settings(max_examples=200, deadline=None)
@given(objects, st.sampled_from([None, 0, 2]), st.sampled_from(["", "\n", "  \r\n"]))
def test_a_json_array_read_in_small_windows_gives_what_json_loads_gives(rows, indent, around) -> None:
    text = around + json.dumps(rows, indent=indent, ensure_ascii=False) + around
    old_window = uploads.READ_CHARS
    uploads.READ_CHARS = 7  # elements, strings and numbers cut at every boundary
    try:
        parsed = parse_rows(text.encode())
    finally:
        uploads.READ_CHARS = old_window
    assert parsed.rows == json.loads(text) and parsed.format == "JSON array"


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet='[]{}",:0123456789.e-tfnrul \n', max_size=40))
def test_any_broken_json_array_is_an_upload_error_never_a_crash(text) -> None:
    text = "[" + text
    try:
        expected = json.loads(text)
    except ValueError:
        expected = None
    try:
        rows = parse_rows(text.encode()).rows
    except UploadError:
        assert expected is None or not all(isinstance(r, dict) for r in expected)
    else:
        assert rows == expected


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b'[{"a": 1}] [', "line 1, column 12: Extra data"),
        (b'[{"a": 1},\n {"a": 2}', "the array is not closed"),
        (b'[{"a": 1}\n {"a": 2}]', "line 2, column 2: Expecting ',' delimiter"),
        (b'[\n  {"a": 1},\n  {"a": }\n]', "line 3, column 9"),
        (b"[1]", "item 1 is not an object"),
    ],
)
def test_json_array_errors_say_where(data: bytes, message: str) -> None:
    with pytest.raises(UploadError, match=message):
        parse_rows(data)


def test_an_empty_array_has_no_rows() -> None:
    assert parse_rows(b" [ ] ").rows == []


def test_a_csv_field_over_the_csv_module_limit_is_an_upload_error() -> None:
    """csv refuses fields over 128 KB; that used to escape as an error page (500)."""
    with pytest.raises(UploadError, match="line 2 is not valid CSV: field larger than field limit"):
        parse_rows(b"a,b\n1," + b"x" * 200_000 + b"\n", allow_csv=True)


def test_one_json_object_too_large_to_buffer_is_refused(monkeypatch) -> None:
    monkeypatch.setattr(uploads, "MAX_ROW_CHARS", 1000)
    monkeypatch.setattr(uploads, "READ_CHARS", 100)
    with pytest.raises(UploadError, match="not valid JSON"):
        parse_rows(b'[{"a": "' + b"x" * 5000)


def test_the_stream_is_cut_as_soon_as_it_passes_the_cap(settings) -> None:
    settings.UPLOAD_MAX_BYTES = 100_000
    stream = io.BytesIO(b"a\n" + b"1\n" * 1_000_000)
    with pytest.raises(UploadTooLarge, match=r"larger than 0\.0953674 MB"):
        count_rows(stream, "x.csv", allow_csv=True)
    assert stream.tell() < 300_000  # stopped near the cap, the rest never read


class Generated(io.RawIOBase):
    """`rows` NDJSON lines made as they are read: a large file that costs the test nothing."""

    def __init__(self, rows: int) -> None:
        self.lines = (
            b'{"uid": "%d", "display_name": "Person %d", "email": "p%d@example.com"}\n' % (i, i, i) for i in range(rows)
        )
        self.buf = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while len(self.buf) < len(buffer):
            line = next(self.lines, None)
            if line is None:
                break
            self.buf += line
        n = min(len(buffer), len(self.buf))
        buffer[:n], self.buf = self.buf[:n], self.buf[n:]
        return n


def test_counting_a_large_file_holds_a_few_mb(settings) -> None:
    """200,000 rows (15 MB): read whole, they took over 100 MB; streamed, the peak stays small."""
    tracemalloc.start()
    try:
        count, fmt = count_rows(Generated(200_000))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (count, fmt) == (200_000, "NDJSON")
    assert peak < 4 * 1024 * 1024, f"{peak / 1024 / 1024:.1f} MB"
