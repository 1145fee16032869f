"""The administrator's page in headless Chromium (Debian's ``chromium``), against a real
uvicorn server on 127.0.0.1, driven over the Chrome DevTools Protocol: the sign-in form sets
the session cookie, the page loads with its chart, a search (a GET form) finds a bill and its
link opens the receipt.

Skips when Chromium is missing, unless ``CI=true`` or ``REQUIRE_POSTGRES=1`` (then it fails:
CI installs the ``chromium`` package)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from websockets.sync.client import ClientConnection, connect

from settlement.app import create_app
from tests.conftest import DatabaseFactory
from tests.settlement.admin.conftest import (
    ADMIN_TOKEN,
    FakeRegistry,
    migrate,
    new_id_number,
    settings_for,
)
from tests.support.data import inpatient_items
from tests.support.processes import free_port

STRICT = os.environ.get("CI") == "true" or os.environ.get("REQUIRE_POSTGRES") == "1"


def chromium_path() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None and Path("/usr/bin/chromium").exists():
        found = "/usr/bin/chromium"
    if found is None:
        message = "Chromium is not installed (Debian: apt-get install chromium)"
        if STRICT:
            pytest.fail(message + " and CI=true / REQUIRE_POSTGRES=1", pytrace=False)
        pytest.skip(message + "; the browser test is skipped")
    return found


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
    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", ws="none", lifespan="on"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="admin-browser-uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield LiveServer(f"http://127.0.0.1:{port}", registry)
    finally:
        server.should_exit = True
        thread.join(timeout=30)


class DevTools:
    """A minimal Chrome DevTools Protocol client for one page."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.next_id = 0
        self.events: list[dict[str, Any]] = []

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        ident = self.next_id
        self.ws.send(json.dumps({"id": ident, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv(timeout=30))
            if message.get("id") == ident:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                result: dict[str, Any] = message.get("result", {})
                return result
            self.events.append(message)

    def wait_for(self, event: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while True:
            for index, message in enumerate(self.events):
                if message.get("method") == event:
                    del self.events[: index + 1]
                    return
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no {event} within {timeout} s")
            self.events.append(json.loads(self.ws.recv(timeout=remaining)))

    def evaluate(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def navigate(self, url: str) -> None:
        self.events.clear()
        self.call("Page.navigate", url=url)
        self.wait_for("Page.loadEventFired")

    def act_and_wait(self, expression: str) -> None:
        """Run a script that navigates (a form submit, a click) and wait for the new page."""
        self.events.clear()
        self.evaluate(expression)
        self.wait_for("Page.loadEventFired")


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[DevTools]:
    executable = chromium_path()
    profile = tmp_path / "profile"
    process = subprocess.Popen(
        [
            executable,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
            "--no-first-run",
            "--no-default-browser-check",
            "--window-size=1280,2200",
            f"--user-data-dir={profile}",
            "--remote-debugging-address=127.0.0.1",
            "--remote-debugging-port=0",
            "about:blank",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 60
        while not (port_file.exists() and port_file.read_text().strip()):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("Chromium did not open its DevTools port")
            time.sleep(0.1)
        port = int(port_file.read_text().splitlines()[0])
        targets = httpx.get(f"http://127.0.0.1:{port}/json/list", timeout=10).json()
        page = next(t for t in targets if t["type"] == "page")
        with connect(page["webSocketDebuggerUrl"], max_size=None, open_timeout=30) as ws:
            tools = DevTools(ws)
            tools.call("Page.enable")
            tools.call("Runtime.enable")
            yield tools
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


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
    shot = browser.call("Page.captureScreenshot", format="png")
    (tmp_path / "admin.png").write_bytes(__import__("base64").b64decode(shot["data"]))

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
