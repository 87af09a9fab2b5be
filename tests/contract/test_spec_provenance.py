"""The vendors' spec files are theirs, byte for byte: each is listed with its hash in the
PROVENANCE.md beside it, and nothing reads ../shared at run time."""

import hashlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SPEC_DIRS = sorted(p for p in (ROOT / "vendors").glob("*/spec") if p.is_dir())


def test_fullstory_and_statsig_ship_their_specs() -> None:
    assert {p.parent.name for p in SPEC_DIRS} >= {"fullstory", "statsig"}


@pytest.mark.parametrize("spec_dir", SPEC_DIRS, ids=lambda p: p.parent.name)
def test_every_spec_file_is_listed_with_its_hash(spec_dir: Path) -> None:
    listed = dict(re.findall(r"^\| `([^`]+)` \| `([0-9a-f]{64})` \|", (spec_dir / "PROVENANCE.md").read_text(), re.M))
    files = {str(p.relative_to(spec_dir)) for p in spec_dir.rglob("*") if p.is_file() and p.name != "PROVENANCE.md"}
    assert set(listed) == files
    for name, digest in listed.items():
        assert hashlib.sha256((spec_dir / name).read_bytes()).hexdigest() == digest, f"{name} changed"


def test_nothing_reads_the_shared_folder() -> None:
    offenders = [
        str(path.relative_to(ROOT))
        for folder in ("vendors", "jobs", "dashboard")
        for path in (ROOT / folder).rglob("*.py")
        if "shared/specs" in path.read_text() or "../shared" in path.read_text()
    ]
    assert offenders == []
