"""The cashier's browser opens a bill's ``receipt_url`` as it is (no Bearer header, no
cookie) and prints it: headless Chromium loads the link, prints it to PDF and poppler reads
the page. An altered link shows the refusal page."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from settlement.app import create_app
from tests.conftest import DatabaseFactory
from tests.settlement.conftest import (
    ADMIN_TOKEN,
    FakeRegistry,
    make_id_number,
    migrate,
    settings_for,
    standard_items,
)
from tests.support.browser import (
    chromium,
    chromium_path,
    pdf_page_text,
    pdf_pages,
    poppler,
    serve_in_thread,
)


@dataclass
class Served:
    base_url: str
    bill: dict[str, Any]


@pytest.fixture(scope="module")
def served(database_factory: DatabaseFactory) -> Iterator[Served]:
    chromium_path()  # skip (or fail under REQUIRE_BROWSER=1) before setting anything up
    poppler("pdfinfo")
    poppler("pdftotext")
    url = database_factory("sqlite", "receipt_link")
    migrate(url)
    registry = FakeRegistry()
    person = registry.add(make_id_number(), "registered_poor")
    app = create_app(settings_for(url), registry_transport=registry.transport())
    with serve_in_thread(app, name="receipt-link-uvicorn") as base_url:
        with httpx.Client(base_url=base_url, timeout=60) as client:
            created = client.post(
                "/v1/hospitals",
                json={
                    "code": "LINK01",
                    "name": "临淄区人民医院",
                    "level": 2,
                    "region_code": "370305",
                },
                headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
            )
            assert created.status_code == 201, created.text
            today = date.today()
            settled = client.post(
                "/v1/settlements",
                json={
                    "patient": {"id_number": person, "name": "张建国"},
                    "visit": {
                        "visit_id": "ZY-LINK-1",
                        "type": "inpatient",
                        "admitted_on": (today - timedelta(days=5)).isoformat(),
                        "discharged_on": today.isoformat(),
                        "diagnoses": [{"code": "I21.9", "name": "急性心肌梗死"}, "E11.900"],
                    },
                    "items": standard_items(),
                },
                headers={
                    "Authorization": f"Bearer {created.json()['api_key']}",
                    "Idempotency-Key": "link-1",
                },
            )
            assert settled.status_code == 201, settled.text
        yield Served(base_url, settled.json())


def test_the_cashiers_browser_opens_and_prints_the_receipt_link(
    served: Served, tmp_path: Path
) -> None:
    link = served.base_url + served.bill["receipt_url"]
    with chromium(tmp_path / "profile") as browser:  # a fresh profile: no cookie, no key
        browser.call("Emulation.setEmulatedMedia", media="print")
        browser.navigate(link)
        status = browser.evaluate("performance.getEntriesByType('navigation')[0].responseStatus")
        assert status == 200
        assert browser.evaluate("document.title").startswith("一站式结算单")
        pdf = tmp_path / "receipt.pdf"
        pdf.write_bytes(browser.print_pdf())
        assert pdf_pages(pdf) == 1
        text = pdf_page_text(pdf, 1)
        for words in ("一站式结算单", "急性心肌梗死", "E11.900", "个人现金支付", "收款人"):
            assert words in text, words
        assert served.bill["psn_cash_pay"] in text

        altered = link[:-1] + ("A" if link[-1] != "A" else "B")
        browser.navigate(altered)
        status = browser.evaluate("performance.getEntriesByType('navigation')[0].responseStatus")
        assert status == 403
        body = browser.evaluate("document.body.innerText")
        assert "结算单链接无效或已过期" in body
        assert served.bill["psn_cash_pay"] not in body
