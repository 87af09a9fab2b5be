"""The shared readers (dashboard/inputs.py) on their own: what they take, what they refuse
and that every refusal names the field."""

from __future__ import annotations

import pytest
from django.http import QueryDict
from django.test import RequestFactory

from dashboard.inputs import MAX_JSON_DEPTH, BadInput, Fields, read_json


def _json(body: bytes, content_type: str = "application/json"):
    return read_json(RequestFactory().post("/api/v1/x/", body, content_type=content_type))


def test_read_json_takes_an_object_and_an_empty_body() -> None:
    assert _json(b'{"a": [1, {"b": "c"}]}').data == {"a": [1, {"b": "c"}]}
    assert _json(b"").data == {} and _json(b"  ").data == {}


@pytest.mark.parametrize(
    "body",
    [
        b"[" * (MAX_JSON_DEPTH + 1) + b"]" * (MAX_JSON_DEPTH + 1),
        b"[" * 5000 + b"]" * 5000,
        b'{"a": "\\u0000"}',
        b'{"\\u0000": 1}',
        b'{"a": ["\\udc00"]}',
        b'{"a": NaN}',
        b'{"a": -Infinity}',
        b'{"a": 1e999}',
        b'{"a": ' + b"9" * 5000 + b"}",
        b"\xff",
        b"[1]",
        b"null",
    ],
)
def test_read_json_refuses(body: bytes) -> None:
    with pytest.raises(BadInput) as refused:
        _json(body)
    assert refused.value.status == 400 and str(refused.value)


def test_read_json_refuses_a_multipart_form() -> None:
    request = RequestFactory().post("/api/v1/x/", {"a": "b"})
    assert request.POST["a"] == "b"  # parsed, as the CSRF check does: its body can no longer be read
    with pytest.raises(BadInput, match="multipart"):
        read_json(request)


def test_read_json_refuses_a_body_over_djangos_limit_with_413(settings) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10
    with pytest.raises(BadInput) as refused:
        _json(b'{"note": "far more than ten bytes"}')
    assert refused.value.status == 413


@pytest.mark.parametrize(
    ("value", "expected"),
    [(5, 5), ("5", 5), (" 7 ", 7), (5.0, 5), (None, 0), ("", 0)],
)
def test_integer_takes_whole_numbers(value, expected) -> None:
    assert Fields({"n": value}).integer("n", 0, minimum=0, maximum=10) == expected


@pytest.mark.parametrize("value", [True, [1], {}, "1e3", "١٢", "1_000", "5.5", 5.5, 11, -1, "99999999999999999999"])
def test_integer_refuses_anything_else_naming_the_field(value) -> None:
    with pytest.raises(BadInput) as refused:
        Fields({"n": value}).integer("n", 0, minimum=0, maximum=10)
    assert refused.value.field == "n" and str(refused.value).startswith("n: ")


def test_integer_clamps_when_asked_and_reads_only_text_from_a_query() -> None:
    assert Fields({"n": 10**30}).integer("n", 1, minimum=1, maximum=200, clamp=True) == 200
    assert Fields(QueryDict("n=99999999999999999999")).integer("n", 1, minimum=1, maximum=200, clamp=True) == 200
    assert Fields(QueryDict("n=-5")).integer("n", 1, minimum=1, maximum=200, clamp=True) == 1


@pytest.mark.parametrize("value", [None, [], {}, True, 5])
def test_text_refuses_other_types(value) -> None:
    if value is None:
        assert Fields({"s": None}).text("s", "d") == "d"
        with pytest.raises(BadInput, match="s: is required"):
            Fields({"s": None}).text("s", required=True)
        return
    with pytest.raises(BadInput, match="s: must be a string"):
        Fields({"s": value}).text("s")


def test_text_bounds_and_characters() -> None:
    assert Fields({"s": "job-1"}).text("s", max_length=5) == "job-1"
    for bad, message in [("x" * 6, "at most 5"), ("a\x00", "cannot be stored"), ("\ud800", "cannot be stored")]:
        with pytest.raises(BadInput, match=message):
            Fields({"s": bad}).text("s", max_length=5)
    with pytest.raises(BadInput, match="is required"):
        Fields({"s": "   "}).text("s", required=True)


def test_boolean_and_mapping() -> None:
    assert Fields({"b": True}).boolean("b") is True and Fields(QueryDict("b=off")).boolean("b", True) is False
    assert Fields({}).boolean("b", True) is True
    for bad in ("maybe", 1, [], {}):
        with pytest.raises(BadInput, match="b: must be true or false"):
            Fields({"b": bad}).boolean("b")
    assert Fields({"m": {"k": 1}}).mapping("m") == {"k": 1} and Fields({}).mapping("m") == {}
    for bad in ("x", [1], 5, True):
        with pytest.raises(BadInput, match="m: must be an object"):
            Fields({"m": bad}).mapping("m")
