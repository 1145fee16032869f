"""The receipt (一站式结算单) as a cashier prints it: headless Chromium prints the page to PDF
(A4, the page's own margins) and poppler counts and reads the pages.

A 4-line and a 30-line bill fit one page; an 80-line bill runs over several pages, each
starting with the fee table's header, and what the patient pays stays on one page with the
signatures. The hospital's name stays on one line."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from settlement.admin.service import COOKIE_NAME, new_session
from settlement.app import create_app
from tests.conftest import DatabaseFactory
from tests.settlement.admin.conftest import (
    ADMIN_TOKEN,
    FakeRegistry,
    migrate,
    new_id_number,
    settings_for,
)
from tests.support.browser import (
    DevTools,
    chromium,
    chromium_path,
    pdf_page_text,
    pdf_pages,
    poppler,
    serve_in_thread,
)
from tests.support.data import inpatient_items

HOSPITAL_NAME = "淄博市临淄区中西医结合医院"
"""A long but ordinary name (13 characters); names of 8 to 16 characters are typical."""


@dataclass
class Printed:
    pages: int
    pdf: Path
    name_lines: float
    name_inside: bool


@dataclass
class Receipts:
    base_url: str
    key: str
    registry: FakeRegistry
    bills: dict[int, str]  # number of fee lines → setl_id


@pytest.fixture(scope="module")
def receipts(database_factory: DatabaseFactory) -> Iterator[Receipts]:
    chromium_path()  # skip (or fail under REQUIRE_BROWSER=1) before setting anything up
    poppler("pdfinfo")
    poppler("pdftotext")
    url = database_factory("sqlite", "receipt_print")
    migrate(url)
    registry = FakeRegistry()
    app = create_app(settings_for(url), registry_transport=registry.transport())
    with serve_in_thread(app, name="receipt-uvicorn") as base_url:
        with httpx.Client(base_url=base_url, timeout=60) as client:
            created = client.post(
                "/v1/hospitals",
                json={
                    "code": "PRINT01",
                    "name": HOSPITAL_NAME,
                    "level": 2,
                    "region_code": "370305",
                },
                headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
            )
            assert created.status_code == 201, created.text
            key = created.json()["api_key"]
            bills: dict[int, str] = {}
            today = date.today()
            for lines in (4, 30, 80):
                patient = new_id_number()
                registry.persons[patient] = ["registered_poor"]  # every fund takes part
                body: dict[str, Any] = {
                    "patient": {"id_number": patient, "name": "欧阳建国"},
                    "visit": {
                        "visit_id": f"ZY-PRINT-{lines:04d}",
                        "type": "inpatient",
                        "admitted_on": (today - timedelta(days=9)).isoformat(),
                        "discharged_on": today.isoformat(),
                        "diagnoses": ["I21.9", "E11.900"],
                    },
                    "items": inpatient_items(random.Random(lines), lines),
                }
                settled = client.post(
                    "/v1/settlements",
                    json=body,
                    headers={"Authorization": f"Bearer {key}", "Idempotency-Key": f"p-{lines}"},
                )
                assert settled.status_code == 201, settled.text
                bill = settled.json()
                assert len(bill["setldetail"]) >= 3  # a realistic fund section
                bills[lines] = bill["setl_id"]
        yield Receipts(base_url, key, registry, bills)


@pytest.fixture(scope="module")
def printed(receipts: Receipts, tmp_path_factory: pytest.TempPathFactory) -> dict[int, Printed]:
    """Each bill's receipt printed to PDF by Chromium."""
    folder = tmp_path_factory.mktemp("receipts")
    out: dict[int, Printed] = {}
    with chromium(folder / "profile") as browser:
        browser.set_cookie(f"{receipts.base_url}/admin", COOKIE_NAME, new_session(ADMIN_TOKEN))
        browser.call("Emulation.setEmulatedMedia", media="print")
        for lines, setl_id in receipts.bills.items():
            browser.navigate(f"{receipts.base_url}/admin/bills/{setl_id}/receipt")
            assert browser.evaluate("document.title").startswith("一站式结算单")
            pdf = folder / f"receipt-{lines}.pdf"
            pdf.write_bytes(browser.print_pdf())
            out[lines] = Printed(pdf_pages(pdf), pdf, *_name_layout(browser))
    return out


def _name_layout(browser: DevTools) -> tuple[float, bool]:
    """(lines the hospital's name takes, whether it stays inside the sheet)."""
    lines, inside = browser.evaluate(
        """(() => {
          const name = document.getElementById('hospital-name');
          const sheet = document.querySelector('.sheet').getBoundingClientRect();
          const box = name.getBoundingClientRect();
          const line = parseFloat(getComputedStyle(name).lineHeight)
                       || 1.25 * parseFloat(getComputedStyle(name).fontSize);
          const inside = box.left >= sheet.left - 0.5 && box.right <= sheet.right + 0.5;
          return [box.height / line, inside];
        })()"""
    )
    return float(lines), bool(inside)


def test_a_short_bill_prints_on_one_page_with_its_signatures(printed: dict[int, Printed]) -> None:
    receipt = printed[4]
    assert receipt.pages == 1
    text = pdf_page_text(receipt.pdf, 1)
    for words in ("一站式结算单", HOSPITAL_NAME, "个人现金支付", "大写", "收款人", "签字"):
        assert words in text, words


def test_a_thirty_line_bill_still_fits_one_page(printed: dict[int, Printed]) -> None:
    receipt = printed[30]
    assert receipt.pages == 1
    text = pdf_page_text(receipt.pdf, 1)
    assert "费用明细（30 项）" in text
    assert "收款人" in text


def test_a_long_bill_repeats_the_header_and_keeps_totals_with_signatures(
    printed: dict[int, Printed],
) -> None:
    receipt = printed[80]
    assert receipt.pages >= 2
    texts = [pdf_page_text(receipt.pdf, page) for page in range(1, receipt.pages + 1)]
    # The fee table runs onto page 2 (page 1 holds about 40 lines): its header row is
    # repeated there and on every page in between.
    for number, text in enumerate(texts[1:-1] or texts[1:], start=2):
        assert "项目名称" in text, f"page {number} has no table header"
    for number, text in enumerate(texts, start=1):
        assert f"第{number}页/共{receipt.pages}页" in "".join(text.split())
    closing = [n for n, text in enumerate(texts, start=1) if "收款人" in text]
    assert closing == [receipt.pages]
    last = texts[-1]
    for words in ("个人现金支付", "大写", "患者（家属）签字", "医院（盖章）"):
        assert words in last, words
    assert all("收款人" not in t for t in texts[:-1])


def test_the_hospital_name_keeps_one_line(printed: dict[int, Printed]) -> None:
    for lines, receipt in printed.items():
        assert receipt.name_lines < 1.5, (lines, receipt.name_lines)
        assert receipt.name_inside, lines
