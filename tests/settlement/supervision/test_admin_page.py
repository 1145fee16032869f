"""The supervision section of the administrator's page: counts per rule and per hospital, the
open flags to work through with a review form, the monthly changes. Over HTTP (both
backends) and in headless Chromium against a real uvicorn server (skipped without Chromium,
a failure with ``REQUIRE_BROWSER=1``)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from settlement.admin.service import COOKIE_NAME, new_session
from settlement.app import create_app
from tests.conftest import DatabaseFactory
from tests.settlement.conftest import (
    ADMIN_TOKEN,
    FakeRegistry,
    Service,
    admin_headers,
    local_today,
    make_id_number,
    migrate,
    settings_for,
    unique,
)
from tests.settlement.supervision.conftest import days_ago, person, settled, stay
from tests.support.browser import chromium, serve_in_thread

BED = {"code": "110200001", "name": "床位费", "category": "A", "unit_price": "60.00"}


async def test_the_section_counts_lists_and_takes_a_review(svc: Service) -> None:
    one, two = await svc.hospital(), await svc.hospital()
    patient = person(svc, "dibao")
    await settled(svc, one, stay(patient, days_ago(80), days_ago(75)))
    readmitted = await settled(
        svc, two, stay(patient, days_ago(73), days_ago(71), items=[{**BED, "quantity": 9}])
    )
    assert sorted(f["rule"] for f in readmitted["flags"]) == ["QTY-STAY", "READMIT-15"]
    page = await svc.client.get("/admin", headers=admin_headers())
    assert page.status_code == 200
    section = page.text[page.text.index('<section id="supervision">') :]
    section = section[: section.index("</section>")]
    assert "基金监管 · 智能审核" in section
    assert "同一主诊断 15 日内再次住院（疑似分解住院）" in section
    assert f'data-key="{two.code}"' in section
    ids = re.findall(r'<tr class="flag" data-id="(\d+)" data-rule="READMIT-15"', section)
    flag_id = max(int(i) for i in ids)

    # The form posts back; the page then says so and the flag is no longer open.
    form = {"from": days_ago(29), "to": local_today().isoformat(), "status": "reviewed-recover",
            "reviewer": "王审核", "note": "分解住院"}  # fmt: skip
    response = await svc.client.post(
        f"/admin/supervision/flags/{flag_id}/review", data=form, headers=admin_headers()
    )
    assert response.status_code == 303
    assert response.headers["location"].endswith(f"reviewed={flag_id}#supervision")
    after = await svc.client.get(response.headers["location"], headers=admin_headers())
    assert f"提示 {flag_id} 已审核。" in after.text
    assert f'data-id="{flag_id}"' not in after.text
    again = await svc.client.post(
        f"/admin/supervision/flags/{flag_id}/review", data=form, headers=admin_headers()
    )
    assert "review_error=done" in again.headers["location"]
    empty = await svc.client.post(
        f"/admin/supervision/flags/{flag_id}/review",
        data={**form, "note": ""},
        headers=admin_headers(),
    )
    assert "review_error=missing" in empty.headers["location"]
    unknown = await svc.client.post(
        "/admin/supervision/flags/x1/review", data=form, headers=admin_headers()
    )
    assert "review_error=unknown" in unknown.headers["location"]
    # Without a session the form does nothing but send the browser to the sign-in page.
    anonymous = await svc.client.post(f"/admin/supervision/flags/{flag_id}/review", data=form)
    assert anonymous.headers["location"] == "/admin/login"

    exported = await svc.client.get(
        "/admin/supervision/flags.csv",
        params={"from": days_ago(1), "to": local_today().isoformat()},
        headers=admin_headers(),
    )
    assert exported.status_code == 200
    assert exported.text.startswith("\ufeffid,setl_date,hospital_code")
    assert readmitted["setl_id"] in exported.text


# --- in headless Chromium ------------------------------------------------------------------


@pytest.fixture(scope="module")
def live(database_factory: DatabaseFactory) -> Iterator[tuple[str, FakeRegistry]]:
    url = database_factory("sqlite", "supervision_browser")
    migrate(url)
    registry = FakeRegistry()
    app = create_app(
        settings_for(url, supervision_refresh_s=0), registry_transport=registry.transport()
    )
    with serve_in_thread(app, name="supervision-browser-uvicorn") as base_url:
        yield base_url, registry


def seed(base_url: str, registry: FakeRegistry) -> dict[str, Any]:
    """Two hospitals with long names; a readmission at the second, with bed-days beyond its
    stay."""
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    today = local_today()
    keys = []
    with httpx.Client(base_url=base_url, timeout=30) as client:
        for name in ("淄博市临淄区中西医结合医院", "山东省淄博市中心医院西院区"):
            created = client.post(
                "/v1/hospitals",
                json={"code": unique("SUP"), "name": name, "level": 2, "region_code": "370305"},
                headers=admin,
            )
            assert created.status_code == 201, created.text
            keys.append(created.json()["api_key"])
        patient = registry.add(make_id_number(), "dibao")
        bills = []
        for n, (key, admitted, discharged, quantity) in enumerate(
            ((keys[0], 30, 25, 5), (keys[1], 22, 20, 12))
        ):
            body = {
                "patient": {"id_number": patient, "name": "欧阳建国"},
                "visit": {
                    "visit_id": f"ZY-SUP-{n}",
                    "type": "inpatient",
                    "admitted_on": (today - timedelta(days=admitted)).isoformat(),
                    "discharged_on": (today - timedelta(days=discharged)).isoformat(),
                    "diagnoses": ["I21.9"],
                },
                "items": [{**BED, "quantity": quantity}],
            }
            settled = client.post(
                "/v1/settlements",
                json=body,
                headers={"Authorization": f"Bearer {key}", "Idempotency-Key": f"sup-{n}"},
            )
            assert settled.status_code == 201, settled.text
            bills.append(settled.json())
    assert sorted(f["rule"] for f in bills[1]["flags"]) == ["QTY-STAY", "READMIT-15"]
    return bills[1]


@pytest.mark.parametrize("width", [1280, 1920])
def test_working_the_flags_in_headless_chromium(
    live: tuple[str, FakeRegistry], width: int, tmp_path: Path
) -> None:
    base_url, registry = live
    bill = seed(base_url, registry)
    with chromium(tmp_path / "profile", width=width, height=1400) as browser:
        browser.set_cookie(f"{base_url}/admin", COOKIE_NAME, new_session(ADMIN_TOKEN))
        browser.navigate(f"{base_url}/admin")
        assert browser.evaluate("location.pathname") == "/admin"
        by_rule = browser.evaluate(
            "Array.from(document.querySelectorAll('#flags-by-rule tbody tr'))"
            ".map(tr => [tr.dataset.key, tr.querySelector('.open-count').innerText])"
        )
        assert dict(by_rule)["READMIT-15"] >= "1"
        assert "QTY-STAY" in dict(by_rule)
        hospitals = browser.evaluate("document.getElementById('flags-by-hospital').innerText")
        assert "山东省淄博市中心医院西院区" in hospitals
        # The section fits its card; every heading has Chinese.
        fits = browser.evaluate(
            "(() => { const s = document.getElementById('supervision');"
            " return [s.scrollWidth, s.clientWidth]; })()"
        )
        assert fits[0] <= fits[1], fits
        headers = browser.evaluate(
            "Array.from(document.querySelectorAll('#supervision th, #supervision h2, "
            "#supervision h3')).map(e => e.innerText.trim())"
        )
        assert headers
        assert all(re.search(r"[\u3400-\u9fff]", h) for h in headers), headers
        browser.screenshot(tmp_path / f"supervision-{width}.png")

        # Work one flag: the readmission of this bill, 审核追回 with who and why.
        row = (
            f"#open-flags tr.flag[data-rule='READMIT-15']"
            f":has(a.receipt[href='/admin/bills/{bill['setl_id']}/receipt'])"
        )
        flag_id = browser.evaluate(f'document.querySelector("{row}").dataset.id')
        browser.act_and_wait(
            f'(() => {{ const f = document.querySelector("{row} form.review");'
            f" f.querySelector('[name=reviewer]').value = {json.dumps('王审核')};"
            f" f.querySelector('[name=note]').value = {json.dumps('分解住院，追回')};"
            " f.querySelector('button.recover').click(); })()"
        )
        assert browser.evaluate("location.pathname") == "/admin"
        assert browser.evaluate("location.hash") == "#supervision"
        assert f"提示 {flag_id} 已审核" in browser.evaluate(
            "document.getElementById('review-note').innerText"
        )
        still_open = browser.evaluate(
            "Array.from(document.querySelectorAll('#open-flags tr.flag')).map(tr => tr.dataset.id)"
        )
        assert flag_id not in still_open
        recovered = browser.evaluate(
            "document.querySelector(\"#flags-by-rule tr[data-key='READMIT-15']\")"
            ".querySelectorAll('td')[3].innerText"
        )
        assert int(recovered) >= 1
        # The receipt the list links to shows the flag, reviewed.
        browser.navigate(f"{base_url}/admin/bills/{bill['setl_id']}/receipt")
        text = browser.evaluate("document.getElementById('flags').innerText")
        assert "审核追回" in text
        assert "按日计费项目数量超过住院天数" in text
