"""The administrator's page: sign-in with the admin token (cookie), the chart, the totals,
the reconciliations, the bill search and the receipt of any hospital's bill."""

from __future__ import annotations

import csv
import io
import re
import time

import httpx
import pytest

from settlement.admin.service import new_session, valid_session
from tests.settlement.admin.conftest import ADMIN_TOKEN, Service, local_day


def page_client(svc: Service) -> httpx.AsyncClient:
    """A browser-like client of the same app with its own cookie jar."""
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=svc.app), base_url="http://settlement.test", timeout=60
    )


async def sign_in(client: httpx.AsyncClient) -> httpx.Response:
    return await client.post(
        "/admin/login",
        content=f"token={ADMIN_TOKEN}".encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )


async def test_sign_in_sets_a_strict_http_only_cookie(svc: Service) -> None:
    async with page_client(svc) as client:
        first = await client.get("/admin")
        assert first.status_code == 303
        assert first.headers["location"] == "/admin/login"
        form = await client.get("/admin/login")
        assert form.status_code == 200
        assert 'name="token"' in form.text
        assert 'type="password"' in form.text

        wrong = await client.post(
            "/admin/login",
            content=b"token=not-the-token",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert wrong.status_code == 401
        assert "not the admin token" in wrong.text
        assert "set-cookie" not in wrong.headers

        signed = await sign_in(client)
        assert signed.status_code == 303
        assert signed.headers["location"] == "/admin"
        cookie = signed.headers["set-cookie"]
        assert cookie.startswith("medaid_admin=")
        assert "HttpOnly" in cookie
        assert "SameSite=strict" in cookie or "samesite=strict" in cookie.lower()
        assert "Path=/admin" in cookie
        assert ADMIN_TOKEN not in cookie  # the cookie is a signed session, not the token

        page = await client.get("/admin")
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        csp = page.headers["content-security-policy"]
        assert "default-src 'none'" in csp
        assert "<script" not in page.text
        assert re.search(r"(src|href)=\"https?://", page.text) is None  # no external URL

        out = await client.post("/admin/logout")
        assert out.status_code == 303
        assert out.headers["location"] == "/admin/login"
        assert (
            'medaid_admin=""' in out.headers["set-cookie"]
            or "Max-Age=0" in out.headers["set-cookie"]
        )
        assert (await client.get("/admin")).status_code == 303


async def test_forged_or_expired_sessions_are_refused(svc: Service) -> None:
    now = time.time()
    assert valid_session(new_session(ADMIN_TOKEN, now), ADMIN_TOKEN, now)
    expired = new_session(ADMIN_TOKEN, now - 9 * 3600)
    assert not valid_session(expired, ADMIN_TOKEN, now)
    assert not valid_session(new_session("another-token-0123456789", now), ADMIN_TOKEN, now)
    forged = new_session(ADMIN_TOKEN, now).rsplit(".", 1)[0] + "." + "0" * 64
    for cookie in (expired, forged, "v1.99999999999.abc", "garbage"):
        async with page_client(svc) as client:
            client.cookies.set("medaid_admin", cookie, path="/admin")
            response = await client.get("/admin")
            assert response.status_code == 303, cookie
    # Scripts may send the admin token as a bearer token instead.
    async with page_client(svc) as client:
        response = await client.get("/admin", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
        assert response.status_code == 200


async def test_page_shows_chart_totals_reconciliations_and_finds_bills(svc: Service) -> None:
    hospital = await svc.hospital()
    patient = svc.patient("dibao")
    bill = await svc.settle(hospital, patient)
    other = await svc.hospital()
    foreign = await svc.settle(other, svc.patient())
    day = local_day(bill).isoformat()
    reconciled = await svc.client.post(
        "/v1/reconciliations/detail",
        json={"begin_date": day, "end_date": day, "bills": []},
        headers=hospital.headers(),
    )
    reconciliation_id = reconciled.json()["reconciliation_id"]
    summary = await svc.client.post(
        "/v1/reconciliations/summary",
        json={
            "begin_date": day,
            "end_date": day,
            "medfee_sumamt": "1.00",
            "fund_pay_sumamt": "0.00",
            "psn_cash_pay": "1.00",
            "setl_cnt": 1,
        },
        headers=hospital.headers(),
    )
    summary_id = summary.json()["reconciliation_id"]
    async with page_client(svc) as client:
        assert (await sign_in(client)).status_code == 303
        page = await client.get("/admin", params={"from": day, "to": day})
        assert page.status_code == 200, page.text
        html = page.text
        svg = re.search(r'<svg id="fund-chart".*?</svg>', html, re.S)
        assert svg is not None
        assert svg.group(0).count("<polyline") == 4
        assert 'data-fund="hifp_pay"' in svg.group(0)
        assert hospital.code in html  # totals by hospital
        assert "重点救助对象" in html  # totals by aid class
        section = html[html.index('id="reconciliations"') : html.index('id="search"')]
        row = re.search(
            rf'<tr class="reconciliation mismatched" data-id="{reconciliation_id}">.*?</tr>',
            section,
            re.S,
        )
        assert row is not None
        assert "不平" in row.group(0)
        assert "1 中心多 1" in row.group(0)  # the national name of each result code
        assert "0 对平 0" in row.group(0)
        assert f'href="/admin/reconciliations/{reconciliation_id}"' in row.group(0)

        # The mismatching reconciliation's page lists its bills, each opening its receipt.
        detail = await client.get(f"/admin/reconciliations/{reconciliation_id}")
        assert detail.status_code == 200
        mismatches = detail.text[detail.text.index('id="mismatches"') :]
        assert f'href="/admin/bills/{bill["setl_id"]}/receipt"' in mismatches
        assert "1 中心多" in mismatches
        # A summary has no bill list of its own: its page lists the period's bills.
        totals = await client.get(f"/admin/reconciliations/{summary_id}")
        assert totals.status_code == 200
        assert f'href="/admin/bills/{bill["setl_id"]}/receipt"' in totals.text
        assert foreign["setl_id"] not in totals.text  # another hospital's bill
        assert "总额对账（3201）" in totals.text
        for unknown in ("999999", "99999999999999999999", "x1", "-1", "٣"):
            response = await client.get(f"/admin/reconciliations/{unknown}")
            assert response.status_code == 404, unknown

        for query in (
            bill["setl_id"],
            bill["visit_id"],
            patient[:6] + "********" + patient[-4:],
            patient[-4:],
        ):
            found = await client.get("/admin", params={"q": query})
            assert found.status_code == 200
            assert f'href="/admin/bills/{bill["setl_id"]}/receipt"' in found.text, query
            assert patient not in found.text  # the ID number is shown masked
        nothing = await client.get("/admin", params={"q": "NO-SUCH-BILL"})
        assert 'id="no-results"' in nothing.text

        receipt = await client.get(f"/admin/bills/{foreign['setl_id']}/receipt")
        assert receipt.status_code == 200
        assert foreign["setl_id"] in receipt.text
        assert "一站式结算单" in receipt.text
        missing = await client.get("/admin/bills/S-NOPE/receipt")
        assert missing.status_code == 404

        exported = await client.get(
            "/admin/reports/funds.csv", params={"from": day, "to": day, "group_by": "hospital"}
        )
        assert exported.status_code == 200
        assert exported.content.startswith(b"\xef\xbb\xbf")
        rows = list(csv.DictReader(io.StringIO(exported.content.decode("utf-8-sig"))))
        assert hospital.code in {r["hospital"] for r in rows}

        odd = await client.get("/admin", params={"from": "yesterday", "q": "x" * 500})
        assert odd.status_code == 200
        assert "YYYY-MM-DD" in odd.text

    async with page_client(svc) as anonymous:
        receipt = await anonymous.get(f"/admin/bills/{bill['setl_id']}/receipt")
        assert receipt.status_code == 303
        csv_file = await anonymous.get("/admin/reports/funds.csv")
        assert csv_file.status_code == 303


@pytest.mark.parametrize(
    ("days", "peak"), [(30, "1234.56"), (92, "98765432.10"), (330, "250000.00"), (1096, "7.00")]
)
def test_chart_margins_hold_every_axis_label(days: int, peak: str) -> None:
    """Labels centred on the first and last points and right-aligned amounts stay inside the
    chart's box (the browser test measures the same in Chromium)."""
    from datetime import date, timedelta
    from decimal import Decimal

    from settlement.admin.service import CHAR_WIDTH, fund_chart
    from settlement.reports.schemas import BILL_AMOUNTS, FundReport, ReportRow

    end = date(2026, 11, 30)
    begin = end - timedelta(days=days - 1)
    amounts = {c: Decimal(peak) for c in BILL_AMOUNTS}
    rows = [
        ReportRow(key=d.isoformat(), name="", bill_count=1, amounts=amounts) for d in (begin, end)
    ]
    total = ReportRow(key="TOTAL", name="合计", bill_count=2, amounts=amounts)
    report = FundReport.model_validate(
        {"from": begin, "to": end, "group_by": "day", "columns": list(BILL_AMOUNTS),
         "rows": rows, "total": total}
    )  # fmt: skip
    chart = fund_chart(report)
    assert chart.x_ticks[-1][1] == ("2026-11" if days > 92 else "11-30")
    for x, label in chart.x_ticks:
        assert x - len(label) * CHAR_WIDTH / 2 >= 0
        assert x + len(label) * CHAR_WIDTH / 2 <= chart.width, label
    for _, label in chart.y_ticks:
        assert chart.left - 6 - len(label) * CHAR_WIDTH >= 0, label
    positions = [x for x, _ in chart.x_ticks]
    assert all(b - a >= 40 for a, b in zip(positions, positions[1:], strict=False))  # no overlap
