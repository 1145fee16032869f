"""Headless Chromium (Debian's ``chromium``) driven over the Chrome DevTools Protocol, and a
uvicorn server in a thread for it to talk to. Used by the admin page and receipt tests.

Without Chromium (or, for PDF checks, poppler-utils' ``pdfinfo``/``pdftotext``) the browser
tests skip with the reason; with ``REQUIRE_BROWSER=1`` (``.ci/run`` sets it, after
installing the packages) they fail instead. ``REQUIRE_POSTGRES=1`` is about PostgreSQL and
does not change this."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from websockets.sync.client import ClientConnection, connect

from tests.support.processes import free_port

REQUIRE_BROWSER = os.environ.get("REQUIRE_BROWSER") == "1"
SYSTEM_PACKAGES = "apt-get install chromium fonts-noto-cjk poppler-utils"


def _missing(what: str) -> None:
    message = f"{what} is not installed (Debian: {SYSTEM_PACKAGES})"
    if REQUIRE_BROWSER:
        pytest.fail(message + " and REQUIRE_BROWSER=1", pytrace=False)
    pytest.skip(message + "; browser test skipped (REQUIRE_BROWSER=1 makes this a failure)")


def find_chromium() -> str | None:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None and Path("/usr/bin/chromium").exists():
        found = "/usr/bin/chromium"
    return found


def chromium_path() -> str:
    """Chromium's executable, or skip (fail under ``REQUIRE_BROWSER=1``)."""
    found = find_chromium()
    if found is None:
        _missing("Chromium")
    assert found is not None
    return found


def poppler(tool: str) -> str:
    """A poppler-utils program (``pdfinfo``, ``pdftotext``), or skip / fail as above."""
    found = shutil.which(tool)
    if found is None:
        _missing(f"poppler-utils ({tool})")
    assert found is not None
    return found


def report_header() -> str:
    """One line for pytest's header: will the browser tests run?"""
    chromium = find_chromium()
    if chromium:
        return f"medaid: Chromium {chromium}: browser tests run"
    state = "fail (REQUIRE_BROWSER=1)" if REQUIRE_BROWSER else "skip"
    return f"medaid: Chromium NOT installed: browser tests will {state}"


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
            message = json.loads(self.ws.recv(timeout=60))
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

    def viewport(self, width: int, height: int) -> None:
        """Lay the page out as a desktop window of ``width`` × ``height`` CSS pixels."""
        self.call(
            "Emulation.setDeviceMetricsOverride",
            width=width,
            height=height,
            deviceScaleFactor=1,
            mobile=False,
        )

    def set_cookie(self, url: str, name: str, value: str) -> None:
        self.call("Network.setCookie", url=url, name=name, value=value, httpOnly=True)

    def print_pdf(self) -> bytes:
        """The page printed as Chromium prints it (the page's own ``@page`` size and margins,
        no browser header or footer)."""
        result = self.call(
            "Page.printToPDF",
            preferCSSPageSize=True,
            printBackground=True,
            displayHeaderFooter=False,
        )
        return base64.b64decode(result["data"])

    def screenshot(self, path: Path) -> None:
        shot = self.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        path.write_bytes(base64.b64decode(shot["data"]))


@contextmanager
def chromium(profile: Path, *, width: int = 1280, height: int = 900) -> Iterator[DevTools]:
    """Start headless Chromium with a fresh profile and attach to its page."""
    executable = chromium_path()
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
            "--hide-scrollbars",
            f"--window-size={width},{height}",
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
            tools.call("Network.enable")
            tools.viewport(width, height)
            yield tools
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


@contextmanager
def serve_in_thread(app: Any, *, name: str = "uvicorn") -> Iterator[str]:
    """Serve an ASGI app with uvicorn on a free loopback port; yields its base URL."""
    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", ws="none", lifespan="on"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=name, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def pdf_pages(pdf: Path) -> int:
    """The number of pages, as poppler's ``pdfinfo`` reports it."""
    out = subprocess.run(
        [poppler("pdfinfo"), str(pdf)], capture_output=True, text=True, check=True
    ).stdout
    match = re.search(r"^Pages:\s+(\d+)", out, re.MULTILINE)
    assert match, out
    return int(match.group(1))


def pdf_page_text(pdf: Path, page: int) -> str:
    """The text of one page (1-based), as poppler's ``pdftotext`` extracts it."""
    return subprocess.run(
        [poppler("pdftotext"), "-f", str(page), "-l", str(page), "-layout", str(pdf), "-"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
