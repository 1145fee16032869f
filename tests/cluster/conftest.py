"""Figures the cluster tests measure (failover time, PgBouncer load), shown in a section of
the terminal summary and attached to the JUnit report as test properties."""

from __future__ import annotations

from collections.abc import Callable

import pytest

FIGURES: list[str] = []

Figure = Callable[[str, str], None]


@pytest.fixture
def figure(record_property: Callable[[str, object], None]) -> Figure:
    """``figure(name, text)``: record a measured figure of this test (``"0.28 s"``)."""

    def record(name: str, text: str) -> None:
        record_property(name, text)
        FIGURES.append(f"{name}: {text}")

    return record


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if FIGURES:
        terminalreporter.section("medaid cluster figures")
        for line in FIGURES:
            terminalreporter.write_line(line)
