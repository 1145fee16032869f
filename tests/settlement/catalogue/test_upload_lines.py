"""A fee-detail upload answers each line classified and split as the bill's ``lines`` do:
by the catalogue (``catalogue`` / ``unlisted``) or, with none loaded, as declared."""

from __future__ import annotations

from typing import Any

from tests.settlement.conftest import Hospital, Service, unique

from .conftest import catalogue_csv, code, import_catalogue, line

SPLIT = ("fulamt_ownpay_amt", "overlmt_amt", "preselfpay_amt", "inscp_scp_amt")
CLASS = ("source", "chrgitm_lv", "selfpay_prop", "pric_uplmt_amt")


def of(out: dict[str, Any], names: tuple[str, ...]) -> tuple[Any, ...]:
    return tuple(out[name] for name in names)


async def upload(svc: Service, hospital: Hospital, items: list[dict[str, Any]]) -> Any:
    response = await svc.client.post(
        f"/v1/visits/{unique('MZ')}/fee-details",
        json={"items": items},
        headers=hospital.headers(),
    )
    assert response.status_code == 201, response.text
    return response.json()["lines"]


async def test_an_upload_answers_the_catalogue_split_of_each_line(cat_svc: Service) -> None:
    drug, exam = code("UPB"), code("UPA")
    await import_catalogue(
        cat_svc,
        catalogue_csv(
            [
                (drug, "奥美拉唑肠溶胶囊", "02", "0.2", "", "2020-01-01", ""),
                (exam, "胸部CT", "01", "", "250.00", "2020-01-01", ""),
            ]
        ),
    )
    hospital = await cat_svc.hospital(level=2)
    items = [
        # declared A, the catalogue says 乙类 with its own ratio 0.2
        line(drug, "奥美拉唑肠溶胶囊", "A", "18.50", 3, feedetl_sn="L1"),
        # declared without a cap: the catalogue's 250.00 counts
        line(exam, "胸部CT", "A", "280.00", feedetl_sn="L2"),
        line(unique("NOWHERE"), "自制项目", "A", "99.00", feedetl_sn="L3"),
    ]
    b_line, a_line, c_line = await upload(cat_svc, hospital, items)
    assert of(b_line, CLASS) == ("catalogue", "02", "0.2", None)
    assert (b_line["med_list_codg"], b_line["declared_category"]) == (drug, "A")
    assert of(b_line, SPLIT) == ("0.00", "0.00", "11.10", "44.40")
    assert of(a_line, CLASS) == ("catalogue", "01", "0", "250.00")
    assert of(a_line, SPLIT) == ("0.00", "30.00", "0.00", "250.00")
    assert of(c_line, CLASS) == ("unlisted", "03", "1", None)
    assert of(c_line, SPLIT) == ("99.00", "0.00", "0.00", "0.00")
    assert c_line["med_list_codg"] is None
    assert "全自费" in c_line["note"]
    assert b_line["amount"] == "55.50"


async def test_without_a_catalogue_an_upload_answers_the_declared_split(svc: Service) -> None:
    hospital = await svc.hospital(level=2)
    items = [
        line("XA02BCL", "奥美拉唑肠溶胶囊", "B", "18.50", 3, self_pay_ratio="0.1"),
        line("250301", "胸部CT", "A", "280.00", price_cap="250.00"),
        line("ZF001", "自费项目", "C", "10.00"),
    ]
    b_line, a_line, c_line = await upload(svc, hospital, items)
    assert of(b_line, CLASS) == ("declared", "02", "0.1", None)
    assert of(b_line, SPLIT) == ("0.00", "0.00", "5.55", "49.95")
    assert of(a_line, CLASS) == ("declared", "01", "0", "250.00")
    assert of(a_line, SPLIT) == ("0.00", "30.00", "0.00", "250.00")
    assert of(c_line, CLASS) == ("declared", "03", "1", None)
    assert of(c_line, SPLIT) == ("10.00", "0.00", "0.00", "0.00")


async def test_an_upload_refuses_an_amount_that_is_not_price_times_count(svc: Service) -> None:
    hospital = await svc.hospital(level=2)
    response = await svc.client.post(
        f"/v1/visits/{unique('MZ')}/fee-details",
        json={"items": [line("250301", "胸部CT", "A", "280.00", amount="281.00")]},
        headers=hospital.headers(),
    )
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == "items[0].amount"
