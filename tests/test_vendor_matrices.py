"""Every registered vendor is in every cross-vendor matrix: a vendor added to the registry
(vendors/packages.py) fails here until it has its fault matrix case, its secret-fragment
case and its connection-check case, so the next vendor cannot be forgotten."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from vendors.registry import VENDORS

from .jobs import test_fault_matrix, test_secret_fragments
from .vendors import test_connection_checks

MATRICES: dict[str, Callable[[], list[str]]] = {
    "tests/jobs/test_fault_matrix.py CASES": lambda: [c.vendor for c in test_fault_matrix.CASES],
    "tests/jobs/test_secret_fragments.py VENDORS": lambda: list(test_secret_fragments.VENDORS),
    "tests/vendors/test_connection_checks.py VENDORS": lambda: [v.name for v in test_connection_checks.VENDORS],
}


@pytest.mark.parametrize("matrix", sorted(MATRICES))
def test_every_registered_vendor_is_in_the_matrix(matrix: str) -> None:
    listed = MATRICES[matrix]()
    missing = sorted(set(VENDORS) - set(listed))
    assert not missing, f"{matrix} has no case for {', '.join(missing)}: add one (docs/adding-a-vendor.md)"
    assert len(listed) == len(set(listed)), f"{matrix} lists a vendor twice"


def test_the_matrices_list_only_registered_vendors() -> None:
    """A misspelt vendor is a case that tests nothing (the fault matrix drops unregistered ones)."""
    for matrix, cases in MATRICES.items():
        listed = cases()
        assert set(listed) <= set(VENDORS), f"{matrix}: {sorted(set(listed) - set(VENDORS))} not registered"
