"""The administrator's page in headless Chromium (Debian's ``chromium``), against a real
uvicorn server on 127.0.0.1, driven over the Chrome DevTools Protocol: the sign-in form sets
the session cookie, the page loads with its chart, a search (a GET form) finds a bill and its
link opens the receipt.

Skips when Chromium is missing, with the reason (``REQUIRE_BROWSER=1`` makes it a failure;
see ``tests/support/browser.py``)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from settlement.app import create_app
from tests.admin.conftest import ADMIN_TOKEN, FakeRegistry, migrate, new_id_number, settings_for
from tests.conftest import DatabaseFactory
from tests.support.browser import DevTools, chromium, serve_in_thread
from tests.support.data import inpatient_items


@dataclass
class LiveServer:
    base_url: str
    registry: FakeRegistry


@pytest.fixture(scope="module")
def live_server(database_factory: DatabaseFactory) -> Iterator[LiveServer]:
    """The settlement app served by uvicorn on a free loopback port (in a thread)."""
    url = database_factory("sqlite", "browser")
    migrate(url)
    registry = FakeRegistry()
    app = create_app(settings_for(url), registry_transport=registry.transport())
    with serve_in_thread(app, name="admin-browser-uvicorn") as base_url:
        yield LiveServer(base_url, registry)


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[DevTools]:
    with chromium(tmp_path / "profile", width=1280, height=2200) as tools:
        yield tools


def settle_a_bill(server: LiveServer) -> dict[str, Any]:
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        created = client.post(
            "/v1/hospitals",
            json={
                "code": "BROWSER01",
                "name": "浏览器测试医院",
                "level": 2,
                "region_code": "370305",
            },
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        )
        assert created.status_code == 201, created.text
        key = created.json()["api_key"]
        patient = new_id_number()
        server.registry.persons[patient] = ["dibao"]
        import random
        from datetime import date, timedelta

        today = date.today()
        body = {
            "patient": {"id_number": patient, "name": "王芳"},
            "visit": {
                "visit_id": "ZY-BROWSER-0001",
                "type": "inpatient",
                "admitted_on": (today - timedelta(days=3)).isoformat(),
                "discharged_on": today.isoformat(),
                "diagnoses": ["J18.900"],
            },
            "items": inpatient_items(random.Random(3), 10),
        }
        settled = client.post(
            "/v1/settlements",
            json=body,
            headers={"Authorization": f"Bearer {key}", "Idempotency-Key": "browser-1"},
        )
        assert settled.status_code == 201, settled.text
        return dict(settled.json())


def test_admin_page_in_headless_chromium(
    live_server: LiveServer, browser: DevTools, tmp_path: Path
) -> None:
    bill = settle_a_bill(live_server)
    base = live_server.base_url

    # Not signed in: the page sends the browser to the sign-in form.
    browser.navigate(f"{base}/admin")
    assert browser.evaluate("location.pathname") == "/admin/login"
    assert browser.evaluate("!!document.querySelector('form#login-form input[type=password]')")

    browser.act_and_wait(
        f"document.getElementById('token').value = {json.dumps(ADMIN_TOKEN)};"
        "document.getElementById('login-form').submit();"
    )
    assert browser.evaluate("location.pathname") == "/admin"
    # The session cookie is HttpOnly: page scripts cannot read it.
    assert "medaid_admin" not in browser.evaluate("document.cookie")

    # The chart is there, drawn on the server: an <svg> with a line per fund.
    assert browser.evaluate("document.querySelectorAll('svg#fund-chart polyline').length") == 4
    width = browser.evaluate(
        "document.querySelector('svg#fund-chart').getBoundingClientRect().width"
    )
    assert width > 100
    assert "BROWSER01" in browser.evaluate("document.getElementById('by-hospital').innerText")

    # A search is a GET form: the query lands in the URL and the bill is found.
    browser.act_and_wait(
        f"document.getElementById('q').value = {json.dumps(bill['visit_id'])};"
        "document.getElementById('search-form').submit();"
    )
    assert "q=ZY-BROWSER-0001" in browser.evaluate("location.search")
    links = browser.evaluate(
        "Array.from(document.querySelectorAll('#results a.receipt')).map(a => a.textContent)"
    )
    assert links == [bill["setl_id"]]
    browser.screenshot(tmp_path / "admin.png")

    # The result opens the bill's receipt.
    browser.act_and_wait("document.querySelector('#results a.receipt').click();")
    assert browser.evaluate("location.pathname") == f"/admin/bills/{bill['setl_id']}/receipt"
    text = browser.evaluate("document.body.innerText")
    assert "一站式结算单" in text
    assert bill["setl_id"] in text

    # Signing out ends the session in the browser.
    browser.navigate(f"{base}/admin")
    browser.act_and_wait("document.querySelector('#logout').click();")
    assert browser.evaluate("location.pathname") == "/admin/login"
    browser.navigate(f"{base}/admin")
    assert browser.evaluate("location.pathname") == "/admin/login"
