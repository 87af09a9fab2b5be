"""The contract tests' end-of-run line: how many requests and answers each spec judged."""

from __future__ import annotations

import pytest

from .openapi_recorder import TALLY


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not TALLY:
        return
    terminalreporter.section("vendor contract")
    for api in sorted({api for api, _ in TALLY}):
        counts = ", ".join(f"{TALLY[(api, what)]} {what}" for what in ("requests", "responses", "open responses"))
        terminalreporter.write_line(f"{api}: {counts} validated")
