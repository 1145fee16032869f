"""The printable receipt of a settled bill, on SQLite and PostgreSQL."""

from __future__ import annotations

from tests.settlement.conftest import Service, bill_body, make_id_number, settle, standard_items


async def test_receipt_is_printable_and_self_contained(svc: Service) -> None:
    hospital = await svc.hospital()
    person = svc.registry.add(make_id_number(), "registered_poor")
    bill = (await settle(svc, hospital, bill_body(person, items=standard_items()))).json()
    response = await svc.client.get(
        f"/v1/settlements/{bill['setl_id']}/receipt", headers=hospital.headers()
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    html = response.text
    assert "一站式结算单" in html
    assert f"医院 {hospital.code}" in html
    assert bill["patient"]["id_number_masked"] in html
    assert person not in html
    assert "重点救助对象" in html
    assert "建档立卡贫困户" in html
    for name in ("medfee_sumamt", "fund_pay_sumamt", "psn_cash_pay", "hifp_pay", "maf_pay"):
        assert bill[name] in html
    for row in bill["setldetail"]:
        assert row["fund_pay_type_name"] in html
    assert "@page" in html
    assert "A4" in html
    assert "http://" not in html
    assert "https://" not in html
    assert "<script" not in html
    assert "头孢呋辛注射液" in html
