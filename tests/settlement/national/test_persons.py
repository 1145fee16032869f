"""1101 (who the person is: a pseudonymous psn_no, the ID number's facts, the registry's
categories as identity records) and 5206 (the person's running totals)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from settlement.national import mapping
from settlement.national.identity import age_on, birth_date, gender, psn_no_of
from tests.settlement.conftest import Service, make_id_number
from tests.settlement.national.conftest import NATIONAL_SECRET, feedetail, his_of, today
from tests.settlement.national.test_outpatient import OUTPATIENT_LINES


async def test_1101_answers_a_pseudonym_and_the_identity_records(nsvc: Service) -> None:
    his, other = await his_of(nsvc), await his_of(nsvc)
    person = nsvc.registry.add(make_id_number("19650312"), "registered_poor", "poor_disabled")
    output = await his.person(person)
    base = output["baseinfo"]
    # Stable, the same at every hospital, never the ID number.
    assert base["psn_no"] == psn_no_of(NATIONAL_SECRET, person)
    assert base["psn_no"] == (await other.person(person))["baseinfo"]["psn_no"]
    assert person not in str(output)
    assert base["certno"] == f"{person[:6]}********{person[-4:]}"
    assert base["brdy"] == "1965-03-" + person[12:14]
    assert base["gend"] == ("1" if int(person[16]) % 2 else "2")
    assert base["age"] == age_on(person, today())
    assert base["psn_name"] == "测试"  # the registry's name
    assert base["exp_content"]["aid_class"] == "key"
    assert base["exp_content"]["deposit_free"] is True
    # The sample policy's [identity_types]: 建档立卡 2305, 贫困残疾人 2307.
    assert [(r["psn_idet_type"], r["memo"]) for r in output["idetinfo"]] == [
        ("2305", "建档立卡贫困户"),
        ("2307", "贫困残疾人"),
    ]
    assert output["insuinfo"][0]["insutype"] == "390"
    assert output["insuinfo"][0]["balc"] == Decimal("0.00")


async def test_1101_of_a_person_the_registry_does_not_know(nsvc: Service) -> None:
    his = await his_of(nsvc)
    person = make_id_number()
    output = await his.ok(
        "1101", {"data": {"psn_cert_type": "01", "certno": person, "psn_name": "李四"}}
    )
    assert output["baseinfo"]["psn_name"] == "李四"
    assert output["baseinfo"]["exp_content"]["aid_class"] == "none"
    assert output["idetinfo"] == []
    # Other credentials need the platform.
    card = await his.fail("1101", {"data": {"mdtrt_cert_type": "03", "mdtrt_cert_no": "A123"}})
    assert card.startswith("就诊凭证类型(data.mdtrt_cert_type)")
    # A visit registered with psn_no alone finds the person 1101 recorded, name included.
    psn_no = output["baseinfo"]["psn_no"]
    registered = await his.ok(
        "2201",
        {"data": {"psn_no": psn_no, "begntime": today().isoformat(), "ipt_otp_no": "MZ-LS-1"}},
    )
    assert registered["data"]["psn_no"] == psn_no
    # At another hospital that psn_no means nothing until it asks 1101 itself.
    elsewhere = await (await his_of(nsvc)).fail(
        "2201",
        {"data": {"psn_no": psn_no, "begntime": today().isoformat(), "ipt_otp_no": "MZ-LS-2"}},
    )
    assert elsewhere.startswith("人员编号(data.psn_no)：未知")


async def test_5206_answers_the_running_totals_of_the_native_api(nsvc: Service) -> None:
    his = await his_of(nsvc)
    person = nsvc.registry.add(make_id_number(), "dibao")
    psn_no, mdtrt_id = await his.register(person)
    unbilled = await his.fail("5206", {"data": {"psn_no": psn_no}})
    assert unbilled.startswith("无权办理")
    await his.ok("2204", feedetail(mdtrt_id, psn_no, OUTPATIENT_LINES))
    await his.ok("2207", {"data": {"mdtrt_id": mdtrt_id}})
    output = await his.ok("5206", {"data": {"psn_no": psn_no, "cum_ym": f"{today():%Y%m}"}})
    native = await nsvc.client.get(
        f"/v1/persons/{person}/accumulators", headers=his.hospital.headers()
    )
    totals = native.json()["totals"]
    assert {r["cum_type_code"]: r["cum"] for r in output["cuminfo"]} == {
        key: Decimal(value) for key, value in totals.items()
    }
    basic = next(r for r in output["cuminfo"] if r["cum_type_code"] == "390100.outpatient")
    assert basic["cum_type_name"] == "城乡居民基本医疗保险基金（门诊）"
    assert basic["lmt_amt"] == Decimal("300.00")
    assert basic["balc"] == Decimal("300.00") - basic["cum"]
    assert all(r["year"] == str(today().year) for r in output["cuminfo"])
    unknown = await his.fail("5206", {"data": {"psn_no": "f" * 30}})
    assert unknown.startswith("人员编号(data.psn_no)：未知")
    future = await his.fail("5206", {"data": {"psn_no": psn_no, "cum_ym": "209901"}})
    assert future.startswith("累计年月(data.cum_ym)")


def test_the_id_numbers_facts() -> None:
    assert birth_date("370305196503120119") == date(1965, 3, 12)
    assert gender("370305196503120119") == "1"  # 17th character 1: odd
    assert gender("370305195810062882") == "2"
    assert age_on("370305196503120119", date(2026, 3, 11)) == 60
    assert age_on("370305196503120119", date(2026, 3, 12)) == 61
    assert psn_no_of("one-secret-0123456789", "370305196503120119") != psn_no_of(
        "another-secret-0123456789", "370305196503120119"
    )


def test_identity_records_carry_the_registrys_span() -> None:
    rows = mapping.idetinfo(
        ["dibao", "low_income", "unmapped"],
        {"dibao": "2302", "low_income": "2304"},
        date(2020, 1, 1),
        None,
    )
    assert rows == [
        {
            "psn_idet_type": "2302",
            "psn_type_lv": None,
            "memo": "低保",
            "begntime": "2020-01-01 00:00:00",
            "endtime": None,
        },
        {
            "psn_idet_type": "2304",
            "psn_type_lv": None,
            "memo": "低收入家庭",
            "begntime": "2020-01-01 00:00:00",
            "endtime": None,
        },
    ]
