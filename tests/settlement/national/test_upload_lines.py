"""2204 answers each line's level, ratio, cap and split as the native upload does."""

from __future__ import annotations

from decimal import Decimal

from tests.settlement.conftest import Service, make_id_number, unique

from .conftest import feedetail, his_of

LINES = [
    {"code": "XA02BCL", "name": "奥美拉唑肠溶胶囊", "category": "B", "unit_price": "18.50",
     "quantity": "3", "self_pay_ratio": "0.1"},
    {"code": "250301", "name": "胸部CT", "category": "A", "unit_price": "280.00",
     "quantity": "1", "price_cap": "250.00"},
    {"code": "ZF001", "name": "自费项目", "category": "C", "unit_price": "10.00", "quantity": "1"},
]  # fmt: skip
FIELDS = (
    "chrgitm_lv",
    "selfpay_prop",
    "pric_uplmt_amt",
    "fulamt_ownpay_amt",
    "overlmt_amt",
    "preselfpay_amt",
    "inscp_scp_amt",
)


def _dec(value: object) -> object:
    return (
        value
        if value is None or isinstance(value, str) and len(value) == 2
        else Decimal(str(value))
    )


async def test_2204_carries_the_native_per_line_results(nsvc: Service) -> None:
    his = await his_of(nsvc)
    psn_no, mdtrt_id = await his.register(nsvc.registry.add(make_id_number(), "dibao"))
    upload = feedetail(mdtrt_id, psn_no, LINES)
    for row, sent in zip(upload["feedetail"], LINES, strict=True):
        if "self_pay_ratio" in sent:
            row["selfpay_prop"] = float(sent["self_pay_ratio"])
        if "price_cap" in sent:
            row["pric_uplmt_amt"] = float(sent["price_cap"])
    national = (await his.ok("2204", upload))["result"]
    native = await nsvc.client.post(
        f"/v1/visits/{unique('MZ')}/fee-details",
        json={"items": LINES},
        headers=his.hospital.headers(),
    )
    assert native.status_code == 201, native.text
    lines = native.json()["lines"]
    assert [tuple(_dec(r[f]) for f in FIELDS) for r in national] == [
        tuple(_dec(r[f]) for f in FIELDS) for r in lines
    ]
    assert [tuple(r[f] for f in FIELDS) for r in national][1] == (
        "01", Decimal("0"), Decimal("250.00"), Decimal("0.00"), Decimal("30.00"),
        Decimal("0.00"), Decimal("250.00"),
    )  # fmt: skip
    assert [r["preselfpay_amt"] for r in national] == [Decimal("5.55"), 0, 0]
    assert [r["fulamt_ownpay_amt"] for r in national] == [0, 0, Decimal("10.00")]
