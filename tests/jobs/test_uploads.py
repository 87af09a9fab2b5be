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
