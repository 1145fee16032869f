"""Property: whatever lines an HIS uploads, the national pre-settle answers every amount of the
native preview of the same lines, to the fen, and the envelope's numbers have two decimals."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.settlement.conftest import Service, check_bill, make_id_number
from tests.settlement.national.conftest import feedetail, his_of, today
from tests.settlement.national.test_outpatient import same_amounts

CATEGORIES = ("", "dibao", "low_income", "registered_poor")


@st.composite
def fee_lines(draw: st.DrawFn) -> list[dict[str, Any]]:
    lines = []
    for index in range(draw(st.integers(1, 6))):
        category = draw(st.sampled_from("ABC"))
        price = Decimal(draw(st.integers(1, 2_000_000))) / 100
        line: dict[str, Any] = {
            "code": f"X{index:04d}",
            "name": f"项目{index}",
            "category": category,
            "unit_price": str(price),
            "quantity": draw(st.integers(1, 12)),
        }
        if category == "B" and draw(st.booleans()):
            line["self_pay_ratio"] = str(Decimal(draw(st.integers(0, 100))) / 100)
        if category != "C" and draw(st.booleans()):
            line["price_cap"] = str(price - Decimal(draw(st.integers(0, int(price * 100)))) / 100)
        lines.append(line)
    return lines


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    lines=fee_lines(),
    category=st.sampled_from(CATEGORIES),
    visit_type=st.sampled_from(["outpatient", "inpatient"]),
    level=st.integers(1, 3),
)
async def test_a_national_pre_settle_is_the_native_preview(
    sqlite_nsvc: Service, lines: list[dict[str, Any]], category: str, visit_type: str, level: int
) -> None:
    svc = sqlite_nsvc
    his = await his_of(svc, level=level)
    person = svc.registry.add(make_id_number(), *([category] if category else []))
    if visit_type == "outpatient":
        psn_no, mdtrt_id = await his.register(person)
        infno, upload = "2206", "2204"
    else:
        psn_no, mdtrt_id = await his.admit(person, on=today(), diagnoses=["J18.900"])
        infno, upload = "2303", "2301"
    await his.ok(upload, feedetail(mdtrt_id, psn_no, lines))
    national = await his.ok(infno, {"data": {"mdtrt_id": mdtrt_id, "psn_no": psn_no}})
    visit = {"visit_id": mdtrt_id, "type": visit_type, "admitted_on": today().isoformat()}
    if visit_type == "inpatient":
        visit["discharged_on"] = today().isoformat()
        visit["diagnoses"] = ["J18.900"]
    native = await svc.client.post(
        "/v1/settlements/preview",
        json={"patient": {"id_number": person, "name": "张三"}, "visit": visit, "items": lines},
        headers=his.hospital.headers(),
    )
    assert native.status_code == 200, native.text
    check_bill(native.json())
    same_amounts(national, native.json())
