"""No Python module of the product over MAX_LINES lines, migrations aside (issue 16): a module
that grows past it is split along its seams (jobs/models/, jobs/config/ show how)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("dashboard", "jobs", "vendors", "demo", "devtools", "bench")
MAX_LINES = 400


def oversized(root: Path, packages: tuple[str, ...] = PACKAGES, limit: int = MAX_LINES) -> list[tuple[str, int]]:
    """(path, lines) of each module under `packages` longer than `limit`, migrations left out."""
    found = []
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            relative = path.relative_to(root)
            if "migrations" in relative.parts:
                continue
            lines = len(path.read_text(encoding="utf-8").splitlines())
            if lines > limit:
                found.append((relative.as_posix(), lines))
    return found


def test_no_module_is_over_the_limit() -> None:
    missing = [p for p in PACKAGES if not (ROOT / p).is_dir()]
    assert not missing, f"packages gone or renamed, update PACKAGES: {missing}"
    found = oversized(ROOT)
    assert not found, f"modules over {MAX_LINES} lines (split them along their seams): " + ", ".join(
        f"{path} ({lines})" for path, lines in found
    )


def test_the_check_names_a_long_module_and_leaves_migrations_out(tmp_path: Path) -> None:
    (tmp_path / "jobs" / "migrations").mkdir(parents=True)
    (tmp_path / "jobs" / "long.py").write_text("x = 1\n" * (MAX_LINES + 1))
    (tmp_path / "jobs" / "at_limit.py").write_text("x = 1\n" * MAX_LINES)
    (tmp_path / "jobs" / "migrations" / "0001_initial.py").write_text("x = 1\n" * 3 * MAX_LINES)
    assert oversized(tmp_path, ("jobs",)) == [("jobs/long.py", MAX_LINES + 1)]
