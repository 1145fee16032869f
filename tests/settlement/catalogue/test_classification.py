"""The catalogue classifies every line at settle and preview; the answer, the stored bill and
the receipt show each line's level, ratio, cap and split."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from settlement.engine import FeeItem, PolicySet, compute, default_policy_dir
from tests.settlement.conftest import (
    MONEY_FIELDS,
    Service,
    bill_body,
    check_bill,
    make_id_number,
    settle,
    unique,
)

from .conftest import catalogue_csv, code, import_catalogue, import_mapping, line, lines_of

POLICIES = PolicySet.from_dir(default_policy_dir())
SPLIT = ("fulamt_ownpay_amt", "overlmt_amt", "preselfpay_amt", "inscp_scp_amt")


def split_of(line_out: dict[str, Any]) -> tuple[str, ...]:
    return tuple(line_out[name] for name in SPLIT)


def outpatient(person: str, on: str, items: list[dict[str, Any]]) -> dict[str, Any]:
    return bill_body(
        person, visit_type="outpatient", admitted_on=on, discharged_on=None, items=items
    )


async def test_declared_categories_that_disagree_get_the_catalogue_amounts(
    cat_svc: Service,
) -> None:
    bed, drug, ct, thymus = code("BED"), code("DRG"), code("CT"), code("THY")
    await import_catalogue(
        cat_svc,
        catalogue_csv(
            [
                (bed, "床位费（三人间）", "01", "", "60.00", "2020-01-01", ""),
                (drug, "头孢呋辛钠注射剂", "02", "0.20", "", "2020-01-01", ""),
                (ct, "胸部CT平扫", "02", "0.10", "250.00", "2020-01-01", ""),
                (thymus, "注射用胸腺法新", "03", "", "", "2020-01-01", ""),
            ]
        ),
    )
    hospital = await cat_svc.hospital(level=2)
    await import_mapping(
        cat_svc, hospital, [("H-BED", bed), ("H-DRUG", drug), ("H-CT", ct), ("H-THY", thymus)]
    )
    person = cat_svc.registry.add(make_id_number(), "registered_poor")
    # Everything declared A, no ratio, no cap: as if the funds paid it all in scope.
    items = [
        line("H-BED", "床位费", "A", "80.00", 10),
        line("H-DRUG", "头孢呋辛", "A", "50.00", 4, self_pay_ratio="0"),
        line("H-CT", "CT", "A", "280.00", 1, price_cap="500.00"),
        line("H-THY", "胸腺法新", "A", "120.00", 5),
    ]
    body = bill_body(person, items=items)
    preview = await cat_svc.client.post(
        "/v1/settlements/preview", json=body, headers=hospital.headers()
    )
    assert preview.status_code == 200, preview.text
    response = await settle(cat_svc, hospital, body)
    assert response.status_code == 201, response.text
    bill = response.json()
    amounts = check_bill(bill)

    lines = bill["lines"]
    assert [x["source"] for x in lines] == ["catalogue"] * 4
    assert [x["declared_category"] for x in lines] == ["A"] * 4
    assert [x["med_list_codg"] for x in lines] == [bed, drug, ct, thymus]
    assert [x["chrgitm_lv"] for x in lines] == ["01", "02", "02", "03"]
    assert [x["selfpay_prop"] for x in lines] == ["0", "0.2", "0.1", "1"]
    assert [x["pric_uplmt_amt"] for x in lines] == ["60.00", None, "250.00", None]
    assert [x["det_item_fee_sumamt"] for x in lines] == ["800.00", "200.00", "280.00", "600.00"]
    assert [split_of(x) for x in lines] == [
        ("0.00", "200.00", "0.00", "600.00"),
        ("0.00", "0.00", "40.00", "160.00"),
        ("0.00", "30.00", "25.00", "225.00"),
        ("600.00", "0.00", "0.00", "0.00"),
    ]
    assert amounts["medfee_sumamt"] == Decimal("1880.00")
    assert amounts["fulamt_ownpay_amt"] == Decimal("600.00")
    assert amounts["overlmt_selfpay"] == Decimal("230.00")
    assert amounts["preselfpay_amt"] == Decimal("65.00")
    assert amounts["inscp_scp_amt"] == Decimal("985.00")

    # To the fen, the bill the engine makes of the lines as the catalogue has them.
    expected = compute(
        POLICIES.for_date(date(2026, 3, 12)),
        hospital_level=2,
        visit_type="inpatient",
        aid_class="key",
        items=[
            FeeItem("H-BED", "床位费", "A", Decimal("80.00"), Decimal(10), price_cap=Decimal(60)),
            FeeItem(
                "H-DRUG", "头孢呋辛", "B", Decimal(50), Decimal(4), self_pay_ratio=Decimal("0.2")
            ),
            FeeItem(
                "H-CT",
                "CT",
                "B",
                Decimal(280),
                Decimal(1),
                self_pay_ratio=Decimal("0.1"),
                price_cap=Decimal(250),
            ),
            FeeItem("H-THY", "胸腺法新", "C", Decimal(120), Decimal(5)),
        ],
        totals={},
    )
    assert amounts == {name: getattr(expected, name) for name in MONEY_FIELDS}
    assert [(d["fund_pay_type"], Decimal(d["fund_payamt"])) for d in bill["setldetail"]] == [
        (d.fund_pay_type, d.fund_payamt) for d in expected.setldetail
    ]
    # Preview = settle; the stored bill answers the same lines.
    assert preview.json()["lines"] == lines
    assert {n: preview.json()[n] for n in MONEY_FIELDS} == {n: bill[n] for n in MONEY_FIELDS}
    assert await lines_of(cat_svc.client, hospital, bill["setl_id"]) == lines


async def test_a_code_whose_level_changes_on_a_date(cat_svc: Service) -> None:
    statin = code("ATV")
    first = await import_catalogue(
        cat_svc,
        catalogue_csv([(statin, "阿托伐他汀钙片", "02", "0.10", "", "2020-01-01", "")]),
    )
    assert first["added"] == 1
    hospital = await cat_svc.hospital(level=1)
    items = [line(statin, "阿托伐他汀", "C", "30.00", 2)]
    before = await settle(
        cat_svc, hospital, outpatient(cat_svc.registry.add(make_id_number()), "2025-12-31", items)
    )
    assert before.status_code == 201, before.text
    # From 2026-01-01 the statin is 甲类: the new version closes the old one the day before.
    second = await import_catalogue(
        cat_svc,
        catalogue_csv([(statin, "阿托伐他汀钙片", "01", "", "", "2026-01-01", "")]),
    )
    assert (second["added"], second["closed"], second["replaced"]) == (1, 1, 0)
    versions = await cat_svc.client.get(
        f"/v1/catalogue/entries/{statin}", headers=hospital.headers()
    )
    assert [
        (v["chrgitm_lv"], v["begndate"], v["enddate"]) for v in versions.json()["versions"]
    ] == [
        ("02", "2020-01-01", "2025-12-31"),
        ("01", "2026-01-01", None),
    ]
    on_last_day = await cat_svc.client.post(
        "/v1/settlements/preview",
        json=outpatient(cat_svc.registry.add(make_id_number()), "2025-12-31", items),
        headers=hospital.headers(),
    )
    on_first_day = await cat_svc.client.post(
        "/v1/settlements/preview",
        json=outpatient(cat_svc.registry.add(make_id_number()), "2026-01-01", items),
        headers=hospital.headers(),
    )
    old, new = on_last_day.json()["lines"][0], on_first_day.json()["lines"][0]
    assert (old["chrgitm_lv"], old["selfpay_prop"], split_of(old)) == (
        "02",
        "0.1",
        ("0.00", "0.00", "6.00", "54.00"),
    )
    assert (new["chrgitm_lv"], new["selfpay_prop"], split_of(new)) == (
        "01",
        "0",
        ("0.00", "0.00", "0.00", "60.00"),
    )
    # The bill settled before the new version keeps its lines and amounts.
    stored = await lines_of(cat_svc.client, hospital, before.json()["setl_id"])
    assert stored == before.json()["lines"]
    assert stored[0]["chrgitm_lv"] == "02"


async def test_the_catalogue_price_cap_counts_not_the_declared_one(cat_svc: Service) -> None:
    mri, gauze = code("MRI"), code("GZE")
    await import_catalogue(
        cat_svc,
        catalogue_csv(
            [
                (mri, "颅脑磁共振平扫", "01", "", "600.00", "2020-01-01", "2025-12-31"),
                (mri, "颅脑磁共振平扫", "01", "", "550.00", "2026-01-01", ""),
                (gauze, "医用纱布", "01", "", "", "2020-01-01", ""),
            ]
        ),
    )
    hospital = await cat_svc.hospital(level=2)
    person = cat_svc.registry.add(make_id_number())
    items = [
        # Declared without a cap, and with a cap the catalogue does not have.
        line(mri, "MRI", "A", "700.00", 1),
        line(gauze, "纱布", "A", "12.50", 4, price_cap="10.00"),
    ]
    response = await settle(cat_svc, hospital, outpatient(person, "2026-02-01", items))
    assert response.status_code == 201, response.text
    mri_line, gauze_line = response.json()["lines"]
    assert mri_line["pric_uplmt_amt"] == "550.00"
    assert split_of(mri_line) == ("0.00", "150.00", "0.00", "550.00")
    assert gauze_line["pric_uplmt_amt"] is None
    assert split_of(gauze_line) == ("0.00", "0.00", "0.00", "50.00")
    assert response.json()["overlmt_selfpay"] == "150.00"
    # In 2025 the cap was 600.
    older = await cat_svc.client.post(
        "/v1/settlements/preview",
        json=outpatient(cat_svc.registry.add(make_id_number()), "2025-06-01", items[:1]),
        headers=hospital.headers(),
    )
    assert split_of(older.json()["lines"][0]) == ("0.00", "100.00", "0.00", "600.00")


async def test_a_code_in_neither_is_fully_self_paid_and_says_so(cat_svc: Service) -> None:
    known, withdrawn = code("KNW"), code("WDR")
    await import_catalogue(
        cat_svc,
        catalogue_csv(
            [
                (known, "血常规", "01", "", "", "2020-01-01", ""),
                (withdrawn, "已调出目录的药品", "02", "", "", "2020-01-01", "2025-06-30"),
            ]
        ),
    )
    hospital = await cat_svc.hospital(level=2)
    await import_mapping(cat_svc, hospital, [("OLD-DRUG", withdrawn)])
    items = [
        line(known, "血常规", "A", "25.00"),  # a national code, sent as it is
        line("NOT-ANYWHERE", "自制项目", "A", "99.00"),
        line("OLD-DRUG", "调出药品", "B", "40.00", 2),  # mapped, no version on the date
    ]
    response = await settle(
        cat_svc, hospital, outpatient(cat_svc.registry.add(make_id_number()), "2026-02-02", items)
    )
    assert response.status_code == 201, response.text
    bill = response.json()
    listed, unknown, expired = bill["lines"]
    assert (listed["source"], listed["med_list_codg"], listed["chrgitm_lv"]) == (
        "catalogue",
        known,
        "01",
    )
    assert (unknown["source"], unknown["med_list_codg"], unknown["chrgitm_lv"]) == (
        "unlisted",
        None,
        "03",
    )
    assert split_of(unknown) == ("99.00", "0.00", "0.00", "0.00")
    assert "NOT-ANYWHERE" in unknown["note"]
    assert "全自费" in unknown["note"]
    assert (expired["source"], expired["med_list_codg"], expired["chrgitm_lv"]) == (
        "unlisted",
        withdrawn,
        "03",
    )
    assert "2026-02-02" in expired["note"]
    assert split_of(expired) == ("80.00", "0.00", "0.00", "0.00")
    assert bill["fulamt_ownpay_amt"] == "179.00"
    assert listed["note"] is None


async def test_a_hospitals_mapping_is_its_own(cat_svc: Service) -> None:
    class_a, class_c = code("MPA"), code("MPC")
    await import_catalogue(
        cat_svc,
        catalogue_csv(
            [
                (class_a, "甲类项目", "01", "", "", "2020-01-01", ""),
                (class_c, "丙类项目", "03", "", "", "2020-01-01", ""),
            ]
        ),
    )
    first = await cat_svc.hospital(level=2)
    second = await cat_svc.hospital(level=2)
    own = unique("OWN")
    await import_mapping(cat_svc, first, [(own, class_a)])
    items = [line(own, "项目", "A", "100.00")]

    async def level_at(hospital: Any) -> tuple[str, str]:
        person = cat_svc.registry.add(make_id_number())
        response = await cat_svc.client.post(
            "/v1/settlements/preview",
            json=outpatient(person, "2026-03-01", items),
            headers=hospital.headers(),
        )
        assert response.status_code == 200, response.text
        found = response.json()["lines"][0]
        return found["source"], found["chrgitm_lv"]

    assert await level_at(first) == ("catalogue", "01")
    assert await level_at(second) == ("unlisted", "03")  # the first hospital's mapping
    await import_mapping(cat_svc, second, [(own, class_c)])
    assert await level_at(second) == ("catalogue", "03")
    assert await level_at(first) == ("catalogue", "01")
    # A hospital's key reads and writes its own mapping only.
    listing = await cat_svc.client.get("/v1/catalogue/mappings", headers=second.headers())
    assert listing.json()["items"] == [{"medins_list_codg": own, "med_list_codg": class_c}]
    other = await cat_svc.client.get(
        "/v1/catalogue/mappings", params={"hospital_code": first.code}, headers=second.headers()
    )
    assert other.status_code == 403


async def test_receipt_and_stored_bill_show_the_classified_levels(cat_svc: Service) -> None:
    a, b, c = code("RA"), code("RB"), code("RC")
    await import_catalogue(
        cat_svc,
        catalogue_csv(
            [
                (a, "甲", "01", "", "", "2020-01-01", ""),
                (b, "乙", "02", "0.05", "", "2020-01-01", ""),
                (c, "丙", "03", "", "", "2020-01-01", ""),
            ]
        ),
    )
    hospital = await cat_svc.hospital(level=2)
    items = [
        line(c, "项目丙", "A", "10.00"),
        line(a, "项目甲", "C", "20.00"),
        line(b, "项目乙", "A", "30.00"),
    ]
    person = cat_svc.registry.add(make_id_number(), "dibao")
    response = await settle(cat_svc, hospital, outpatient(person, "2026-03-03", items))
    assert response.status_code == 201, response.text
    setl_id = response.json()["setl_id"]
    receipt = await cat_svc.client.get(
        f"/v1/settlements/{setl_id}/receipt", headers=hospital.headers()
    )
    assert receipt.status_code == 200
    html = receipt.text
    rows = [html.index(name) for name in ("项目丙", "项目甲", "项目乙")]
    levels = [
        html.index(label, at) for label, at in zip(("丙类", "甲类", "乙类"), rows, strict=True)
    ]
    assert rows[0] < levels[0] < rows[1] < levels[1] < rows[2] < levels[2]
    # Listed by day, each bill carries its lines too.
    listing = await cat_svc.client.get(
        "/v1/settlements", params={"status": "settled"}, headers=hospital.headers()
    )
    mine = [x for x in listing.json()["items"] if x["setl_id"] == setl_id]
    assert [x["chrgitm_lv"] for x in mine[0]["lines"]] == ["03", "01", "02"]


async def test_uploaded_fee_details_are_classified_at_settle(cat_svc: Service) -> None:
    c_code = code("UPC")
    await import_catalogue(
        cat_svc, catalogue_csv([(c_code, "营养餐", "03", "", "", "2020-01-01", "")])
    )
    hospital = await cat_svc.hospital(level=2)
    person = cat_svc.registry.add(make_id_number(), "registered_poor")
    visit_id = unique("ZY")
    uploaded = await cat_svc.client.post(
        f"/v1/visits/{visit_id}/fee-details",
        json={"items": [line(c_code, "营养餐", "A", "25.00", 10)]},
        headers=hospital.headers(),
    )
    assert uploaded.status_code == 201, uploaded.text
    body = bill_body(person, visit_id=visit_id)
    del body["items"]
    response = await settle(cat_svc, hospital, body)
    assert response.status_code == 201, response.text
    bill = response.json()
    assert bill["fulamt_ownpay_amt"] == "250.00"
    assert [(x["source"], x["chrgitm_lv"]) for x in bill["lines"]] == [("catalogue", "03")]


async def test_interim_parts_keep_their_lines_as_settled(cat_svc: Service) -> None:
    drug = code("INT")
    await import_catalogue(
        cat_svc, catalogue_csv([(drug, "某药", "02", "0.10", "", "2020-01-01", "")])
    )
    hospital = await cat_svc.hospital(level=2)
    person = cat_svc.registry.add(make_id_number(), "registered_poor")
    visit_id = unique("ZY")
    first = bill_body(
        person,
        visit_id=visit_id,
        admitted_on="2026-06-01",
        discharged_on="2026-06-10",
        items=[line(drug, "某药", "A", "100.00", 3)],
    )
    first["visit"]["interim"] = True
    part = await settle(cat_svc, hospital, first)
    assert part.status_code == 201, part.text
    assert [x["chrgitm_lv"] for x in part.json()["lines"]] == ["02"]
    # The drug becomes 甲类 for the rest of the stay; the first part's lines stay 乙类.
    await import_catalogue(cat_svc, catalogue_csv([(drug, "某药", "01", "", "", "2026-06-15", "")]))
    last = bill_body(
        person,
        visit_id=visit_id,
        admitted_on="2026-06-01",
        discharged_on="2026-06-20",
        items=[line(drug, "某药", "A", "100.00", 2)],
    )
    final = await settle(cat_svc, hospital, last)
    assert final.status_code == 201, final.text
    assert [(x["chrgitm_lv"], x["det_item_fee_sumamt"]) for x in final.json()["lines"]] == [
        ("01", "200.00")
    ]
    assert final.json()["preselfpay_amt"] == "0.00"
    parts = [part.json(), final.json()]
    assert sum(Decimal(p["preselfpay_amt"]) for p in parts) == Decimal("30.00")
    check_bill(final.json())


async def test_without_a_catalogue_the_hospital_declares_then_the_catalogue_decides(
    fresh_svc: Service,
) -> None:
    hospital = await fresh_svc.hospital(level=2)
    items = [
        line("310100001", "床位费", "A", "60.00", 10),
        line("XJ01CAA", "头孢呋辛", "B", "38.50", 20, self_pay_ratio="0.10"),
        line("Z0001", "营养餐", "C", "25.00", 10),
    ]
    status = await fresh_svc.client.get("/v1/catalogue", headers=hospital.headers())
    assert status.json()["loaded"] is False
    person = fresh_svc.registry.add(make_id_number(), "registered_poor")
    declared = await fresh_svc.client.post(
        "/v1/settlements/preview",
        json=outpatient(person, "2026-03-01", items),
        headers=hospital.headers(),
    )
    lines = declared.json()["lines"]
    assert [(x["source"], x["chrgitm_lv"], x["selfpay_prop"]) for x in lines] == [
        ("declared", "01", "0"),
        ("declared", "02", "0.1"),
        ("declared", "03", "1"),
    ]
    assert [split_of(x) for x in lines] == [
        ("0.00", "0.00", "0.00", "600.00"),
        ("0.00", "0.00", "77.00", "693.00"),
        ("250.00", "0.00", "0.00", "0.00"),
    ]
    # Once a catalogue is loaded, what the hospital declares no longer counts.
    await import_catalogue(
        fresh_svc,
        catalogue_csv(
            [("XJ01DCF173B002010101445", "头孢呋辛钠注射剂", "02", "0.05", "", "2020-01-01", "")]
        ),
    )
    await import_mapping(fresh_svc, hospital, [("XJ01CAA", "XJ01DCF173B002010101445")])
    after = await fresh_svc.client.post(
        "/v1/settlements/preview",
        json=outpatient(person, "2026-03-01", items),
        headers=hospital.headers(),
    )
    assert [(x["source"], x["chrgitm_lv"]) for x in after.json()["lines"]] == [
        ("unlisted", "03"),
        ("catalogue", "02"),
        ("unlisted", "03"),
    ]
    assert split_of(after.json()["lines"][1]) == ("0.00", "0.00", "38.50", "731.50")


async def test_a_bill_stored_before_per_line_results_answers_without_lines(
    cat_svc: Service,
) -> None:
    from sqlalchemy import update

    from settlement.bills.repository import bills

    hospital = await cat_svc.hospital(level=2)
    person = cat_svc.registry.add(make_id_number())
    items = [line(unique("OLD"), "旧账单项目", "A", "10.00", 3)]
    response = await settle(cat_svc, hospital, outpatient(person, "2026-03-05", items))
    assert response.status_code == 201, response.text
    setl_id = response.json()["setl_id"]
    # The lines as bills stored them before: the request's fields only.
    legacy = (
        '[{"code":"OLD1","name":"旧账单项目","category":"A","unit_price":"10.00","quantity":"3"}]'
    )
    async with cat_svc.app.state.ctx.db.write() as conn:
        await conn.execute(update(bills).where(bills.c.setl_id == setl_id).values(items=legacy))
    stored = await cat_svc.client.get(f"/v1/settlements/{setl_id}", headers=hospital.headers())
    assert stored.status_code == 200
    assert stored.json()["lines"] is None
    assert stored.json()["medfee_sumamt"] == "30.00"
    receipt = await cat_svc.client.get(
        f"/v1/settlements/{setl_id}/receipt", headers=hospital.headers()
    )
    assert receipt.status_code == 200
    assert "旧账单项目" in receipt.text
