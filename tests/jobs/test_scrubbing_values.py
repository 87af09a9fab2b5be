"""`Scrubber.scrub_value` over a vendor client's answer: every text at any depth, nothing else
touched, unchanged parts kept as the same objects, and remembered texts never shared between
scrubbers (accounts)."""

from __future__ import annotations

from dataclasses import dataclass, field

from jobs.scrubbing import REDACTED, SEEN_LENGTH, SEEN_TEXTS, Scrubber

SECRET = "Zq8vLm3xTp9Rk2Wd"


@dataclass(frozen=True)
class Answer:
    run_key: str
    message: str
    progress: float | None = None
    raw: dict = field(default_factory=dict)


def test_texts_at_any_depth_are_scrubbed_and_nothing_else_moves() -> None:
    s = Scrubber.of([SECRET])
    value = {
        "n": 3,
        "ok": True,
        "none": None,
        "ratio": 0.5,
        "list": ["plain", f"token {SECRET}", 7, ("t", f"x{SECRET[2:9]}y")],
        "nested": {"deep": [{"error": f"bad key {SECRET}"}]},
    }
    out = s.scrub_value(value)
    assert out["list"][1] == f"token {REDACTED}" and out["list"][3][1] == f"x{REDACTED}y"
    assert isinstance(out["list"][3], tuple)
    assert out["nested"]["deep"][0]["error"] == f"bad key {REDACTED}"
    assert (out["n"], out["ok"], out["none"], out["ratio"], out["list"][0], out["list"][2]) == (
        3,
        True,
        None,
        0.5,
        "plain",
        7,
    )
    assert value["list"][1] == f"token {SECRET}"  # the answer itself is not changed in place


def test_an_answer_without_secrets_is_returned_as_the_same_objects() -> None:
    s = Scrubber.of([SECRET])
    value = {"a": ["x", {"b": "words of no secret", "c": 1.5}], "d": ("e",)}
    assert s.scrub_value(value) is value
    answer = Answer("run-1", "fine", 0.5, {"k": "v"})
    assert s.scrub_value(answer) is answer
    # again, with the same texts in new objects (a new poll's answer): remembered, still the same objects
    again = Answer("run-1", "".join(["fi", "ne"]), 0.5, {"k": "".join(["v"])})
    assert s.scrub_value(again) is again


def test_a_dataclass_keeps_its_identities_and_loses_the_secret_in_what_it_says() -> None:
    s = Scrubber.of([SECRET])
    answer = Answer(f"run-{SECRET}", f"failed: {SECRET}", 0.25, {"echo": SECRET})
    out = s.scrub_value(answer)
    assert out.run_key == f"run-{SECRET}"  # sent back to the vendor as it came
    assert (out.message, out.raw, out.progress) == (f"failed: {REDACTED}", {"echo": REDACTED}, 0.25)


def test_remembered_texts_belong_to_one_scrubber_and_long_texts_are_still_scrubbed() -> None:
    mine, theirs = Scrubber.of([SECRET]), Scrubber.of(["Other-Secret-42"])
    text = f"key {SECRET}"
    assert mine.scrub(text) == f"key {REDACTED}" and mine.scrub(text) == f"key {REDACTED}"
    assert theirs.scrub(text) == text
    long = "x" * (SEEN_LENGTH + 10) + SECRET
    assert mine.scrub(long) == "x" * (SEEN_LENGTH + 10) + REDACTED
    for i in range(SEEN_TEXTS + 5):  # a full memory starts over rather than growing
        assert mine.scrub(f"text {i} {SECRET}") == f"text {i} {REDACTED}"
    assert mine.scrub(text) == f"key {REDACTED}"
