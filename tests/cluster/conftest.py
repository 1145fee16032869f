"""Figures the cluster tests measure (failover time, PgBouncer load), shown in a section of
the terminal summary and attached to the JUnit report as test properties."""

from __future__ import annotations

from collections.abc import Callable

import pytest

FIGURES: list[str] = []

Figure = Callable[[str, float, str], None]


@pytest.fixture
def figure(record_property: Callable[[str, object], None]) -> Figure:
    """``figure(name, value, unit)``: record a measured figure of this test."""

    def record(name: str, value: float, unit: str) -> None:
        record_property(name, f"{value:.3f} {unit}")
        FIGURES.append(f"{name}: {value:.3f} {unit}")

    return record


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if FIGURES:
        terminalreporter.section("medaid cluster figures")
        for line in FIGURES:
            terminalreporter.write_line(line)
