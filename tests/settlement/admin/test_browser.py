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
from tests.conftest import DatabaseFactory
from tests.settlement.admin.conftest import (
    ADMIN_TOKEN,
    FakeRegistry,
    local_day,
    migrate,
    new_id_number,
    settings_for,
)
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


# --- Layout at desktop widths -------------------------------------------------------------

LONG_NAMES = ("淄博市临淄区中西医结合医院", "山东省淄博市中心医院西院区", "临淄区金山镇卫生院")
CJK = r"[\u3400-\u9fff]"


@dataclass
class Pages:
    month_search: str  # a year's period (per-month chart) with a search that finds many bills
    last_month: str  # the chart's last month (the settlement date's)
    days: str  # the default period (per-day chart)
    detail: str  # a mismatching detail reconciliation
    summary: str  # a mismatching summary reconciliation


@pytest.fixture(scope="module")
def busy_pages(live_server: LiveServer) -> Pages:
    """Three hospitals with long names in two regions (one named), a dozen bills with large
    amounts, and reconciliations with every result code."""
    import random
    from datetime import date, timedelta

    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    today = date.today()
    with httpx.Client(base_url=live_server.base_url, timeout=60) as client:
        named = client.post(
            "/v1/regions",
            json={"regions": [{"code": "370305", "name": "淄博市临淄区"}]},
            headers=admin,
        )
        assert named.status_code == 200, named.text
        keys: list[tuple[str, str]] = []
        for n, name in enumerate(LONG_NAMES):
            code = f"H37030{5 + n % 2}{n:04d}"
            created = client.post(
                "/v1/hospitals",
                json={"code": code, "name": name, "level": 3, "region_code": f"37030{5 + n % 2}"},
                headers=admin,
            )
            assert created.status_code == 201, created.text
            keys.append((code, created.json()["api_key"]))
        bills: list[dict[str, Any]] = []
        for n in range(12):
            code, key = keys[n % len(keys)]
            patient = new_id_number()
            live_server.registry.persons[patient] = ["registered_poor"]
            items = inpatient_items(random.Random(100 + n), 20)
            items.append(
                {"code": "331001001", "name": "冠状动脉搭桥术", "category": "A",
                 "unit_price": "186000.00", "quantity": 1}
            )  # fmt: skip
            settled = client.post(
                "/v1/settlements",
                json={
                    "patient": {"id_number": patient, "name": "欧阳建国"},
                    "visit": {
                        "visit_id": f"ZY-LAYOUT-{n:04d}",
                        "type": "inpatient",
                        "admitted_on": (today - timedelta(days=20)).isoformat(),
                        "discharged_on": today.isoformat(),
                        "diagnoses": ["I21.9"],
                    },
                    "items": items,
                },
                headers={"Authorization": f"Bearer {key}", "Idempotency-Key": f"layout-{n}"},
            )
            assert settled.status_code == 201, settled.text
            bills.append({**settled.json(), "id_number": patient, "key": key})
        mine = [b for b in bills if b["key"] == keys[0][1]]
        books = [
            {c: str(b[c]) for c in ("setl_id", "visit_id", "id_number", "medfee_sumamt",
                                    "fund_pay_sumamt", "status")}
            for b in mine[1:]
        ]  # fmt: skip
        books[0]["medfee_sumamt"] = "1.00"  # 3 数据不一致
        books.append({**books[-1], "setl_id": "S-ONLY-IN-THE-HOSPITAL", "visit_id": "ZY-X"})  # 2
        hospital = {"Authorization": f"Bearer {keys[0][1]}"}
        local = local_day(bills[0]).isoformat()  # the settlement date (UTC+8)
        detail = client.post(
            "/v1/reconciliations/detail",
            json={"begin_date": local, "end_date": local, "bills": books},
            headers=hospital,
        )
        assert detail.status_code == 200, detail.text
        counts = detail.json()["counts"]
        assert (counts["2"], counts["3"]) == (1, 1), counts
        assert counts["1"] >= 1, counts
        summary = client.post(
            "/v1/reconciliations/summary",
            json={"begin_date": local, "end_date": local, "medfee_sumamt": "1.00",
                  "fund_pay_sumamt": "0.00", "psn_cash_pay": "1.00", "setl_cnt": 1},
            headers=hospital,
        )  # fmt: skip
        assert summary.status_code == 200, summary.text
    last = date.fromisoformat(local)
    year = f"from={(last - timedelta(days=330)).isoformat()}&to={last.isoformat()}"
    base = live_server.base_url
    return Pages(
        month_search=f"{base}/admin?{year}&q=370305",
        last_month=last.strftime("%Y-%m"),
        days=f"{base}/admin",
        detail=f"{base}/admin/reconciliations/{detail.json()['reconciliation_id']}",
        summary=f"{base}/admin/reconciliations/{summary.json()['reconciliation_id']}",
    )


LAYOUT = """(() => {
  const cjk = new RegExp(__CJK__);
  const cards = Array.from(document.querySelectorAll('section')).map(s => ({
    id: s.id || s.querySelector('h2')?.innerText || '?',
    scroll: s.scrollWidth, client: s.clientWidth}));
  const headers = Array.from(document.querySelectorAll('th, h2')).map(e => e.innerText.trim());
  const svg = document.querySelector('svg#fund-chart');
  let labels = [], chart = null;
  if (svg) {
    const box = svg.getBoundingClientRect();
    const card = svg.closest('section');
    const style = getComputedStyle(card);
    const inner = card.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
    chart = {width: box.width, card: inner};
    labels = Array.from(svg.querySelectorAll('text')).map(t => {
      const r = t.getBoundingClientRect();
      return {text: t.textContent, inside: r.left >= box.left - 0.5 && r.right <= box.right + 0.5
              && r.top >= box.top - 0.5 && r.bottom <= box.bottom + 0.5};
    });
  }
  return {cards, englishOnly: headers.filter(h => h && !cjk.test(h)), labels, chart,
          page: document.documentElement.scrollWidth <= window.innerWidth};
})()""".replace("__CJK__", json.dumps(CJK))


@pytest.mark.parametrize("width", [1280, 1920])
def test_admin_pages_fit_their_cards_at_desktop_widths(
    live_server: LiveServer, busy_pages: Pages, width: int, tmp_path: Path
) -> None:
    from settlement.admin.service import COOKIE_NAME, new_session

    with chromium(tmp_path / "profile", width=width, height=1000) as browser:
        browser.set_cookie(f"{live_server.base_url}/admin", COOKIE_NAME, new_session(ADMIN_TOKEN))
        for name in ("month_search", "days", "detail", "summary"):
            browser.navigate(getattr(busy_pages, name))
            assert browser.evaluate("location.pathname").startswith("/admin"), name
            assert browser.evaluate("location.pathname") != "/admin/login"
            layout = browser.evaluate(LAYOUT)
            browser.screenshot(tmp_path / f"{name}-{width}.png")
            overflowing = [c for c in layout["cards"] if c["scroll"] > c["client"]]
            assert overflowing == [], (name, width, overflowing)
            assert layout["page"], (name, width)
            assert layout["englishOnly"] == [], (name, width)
            if layout["chart"] is not None:
                clipped = [label["text"] for label in layout["labels"] if not label["inside"]]
                assert clipped == [], (name, width, clipped)
                # The chart spans its card.
                assert layout["chart"]["width"] >= 0.97 * layout["chart"]["card"], layout["chart"]
        # The month chart, the search with every amount column, names for regions and codes.
        browser.navigate(busy_pages.month_search)
        months = browser.evaluate(
            "Array.from(document.querySelectorAll('svg#fund-chart text.axis.x'))"
            ".map(t => t.textContent)"
        )
        assert months[-1] == busy_pages.last_month
        headers = browser.evaluate(
            "Array.from(document.querySelectorAll('#results th')).map(th => th.innerText)"
        )
        assert headers[-3:] == ["医疗费用总额", "基金支付", "个人现金支付"]
        assert browser.evaluate("document.querySelectorAll('#results tbody tr').length") >= 8
        regions = browser.evaluate("document.getElementById('by-region').innerText")
        assert "淄博市临淄区" in regions
        assert "370306" in regions  # no name known: the code
        detail_row = f"#reconciliations tr[data-id='{busy_pages.detail.rsplit('/', 1)[1]}']"
        codes = browser.evaluate(f'document.querySelector("{detail_row} .codes").innerText')
        for words in ("0 对平", "1 中心多", "2 医药机构多", "3 数据不一致"):
            assert words in codes
        browser.act_and_wait(f'document.querySelector("{detail_row} a.bills").click()')
        assert browser.evaluate("location.href") == busy_pages.detail
        results = browser.evaluate(
            "Array.from(document.querySelectorAll('#mismatches tr.mismatch'))"
            ".map(tr => [tr.dataset.result, !!tr.querySelector('a.receipt')])"
        )
        assert sorted(results) == [["1", True], ["2", False], ["3", True]]
