"""The browser tests' system packages are optional: without Chromium or poppler-utils they
skip with the reason (also under REQUIRE_POSTGRES=1, which is about PostgreSQL); with
REQUIRE_BROWSER=1, as ``.ci/run`` sets after installing them, they fail instead."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import browser

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def no_packages(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(browser.shutil, "which", lambda name: None)
    monkeypatch.setattr(browser, "find_chromium", lambda: None)


@pytest.mark.parametrize("require_postgres", ["", "1"])
def test_missing_packages_skip_with_the_reason(
    no_packages: None, monkeypatch: pytest.MonkeyPatch, require_postgres: str
) -> None:
    monkeypatch.setenv("REQUIRE_POSTGRES", require_postgres)
    monkeypatch.setattr(browser, "REQUIRE_BROWSER", False)
    with pytest.raises(pytest.skip.Exception, match="Chromium is not installed.*chromium"):
        browser.chromium_path()
    with pytest.raises(pytest.skip.Exception, match="poppler-utils"):
        browser.poppler("pdfinfo")
    assert "will skip" in browser.report_header()


def test_require_browser_turns_the_skip_into_a_failure(
    no_packages: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(browser, "REQUIRE_BROWSER", True)
    with pytest.raises(pytest.fail.Exception, match="REQUIRE_BROWSER=1"):
        browser.chromium_path()
    assert "will fail" in browser.report_header()


def test_ci_installs_the_packages_and_requires_them() -> None:
    script = (ROOT / ".ci" / "run").read_text()
    for package in ("chromium", "fonts-noto-cjk", "poppler-utils"):
        assert package in script
    assert "export REQUIRE_BROWSER=1" in script
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for package in ("`chromium`", "`fonts-noto-cjk`", "`poppler-utils`"):
        assert package in readme
