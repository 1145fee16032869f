"""The envelope: authentication (bearer, the platform's signed headers), the hospital of the
key, what a malformed envelope answers, a registry or database outage (nothing written)."""

from __future__ import annotations

import json
import time
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from settlement.admissions.models import Admission
from settlement.config import Settings
from settlement.national import auth as national_auth
from settlement.national.handlers import Outcome
from settlement.national.models import NationalMessage, NationalVisit
from tests.settlement.conftest import ADMIN_TOKEN, Service, make_id_number, problem, unique
from tests.settlement.national.conftest import (
    PATH,
    answer_of,
    body_of,
    envelope,
    his_of,
    new_msgid,
    today,
)

SIGN_IN = {"signIn": {"opter_no": "0001"}}


async def test_a_missing_or_wrong_key_is_a_401(nsvc: Service) -> None:
    his = await his_of(nsvc)
    body = body_of(envelope("9001", his.code, SIGN_IN))
    for headers in (
        {},
        {"Authorization": "Bearer not-a-key-of-any-hospital"},
        {"Authorization": f"Bearer {ADMIN_TOKEN}"},  # the admin is not a hospital
        {"Authorization": "Basic abc"},
    ):
        response = await nsvc.client.post(PATH, content=body, headers=headers)
        assert response.status_code == 401, headers
        assert problem(response)["status"] == 401
    assert (await his.ok("9001", SIGN_IN))["signinoutb"]["sign_no"]


def signed(his: Any, body: bytes, **changes: Any) -> dict[str, str]:
    headers = national_auth.signed_headers(his.hospital.key, his.code, body, nonce="n-0001")
    headers.update(changes)
    return headers


async def test_the_platforms_signed_headers(nsvc: Service) -> None:
    his = await his_of(nsvc)
    body = body_of(envelope("9001", his.code, SIGN_IN))
    good = await nsvc.client.post(PATH, content=body, headers=signed(his, body))
    assert good.status_code == 200, good.text
    assert answer_of(good.text)["infcode"] == 0

    stale = national_auth.signed_headers(
        his.hospital.key, his.code, body, nonce="n-0002", now=time.time() - 3600
    )
    other = await his_of(nsvc)
    for headers in (
        signed(his, body, **{"x-tif-signature": "0" * 64}),
        signed(his, body + b" "),  # signed another body
        stale,
        signed(his, body, **{"x-tif-paasid": other.code}),  # another hospital's code
        signed(his, body, **{"x-tif-nonce": ""}),
        signed(his, body, **{"x-tif-timestamp": "yesterday"}),
        national_auth.signed_headers(other.hospital.key, his.code, body, nonce="n-3"),
    ):
        response = await nsvc.client.post(PATH, content=body, headers=headers)
        assert response.status_code == 401, headers
    # The formula of the documentation, written out: HMAC-SHA256(SHA-256(key) hex, the four
    # lines), lower-case hex.
    import hashlib
    import hmac

    timestamp = str(int(time.time()))
    message = f"{his.code}\n{timestamp}\nabc\n{hashlib.sha256(body).hexdigest()}"
    key = hashlib.sha256(his.hospital.key.encode()).hexdigest().encode()
    by_hand = {
        "x-tif-paasid": his.code,
        "x-tif-timestamp": timestamp,
        "x-tif-nonce": "abc",
        "x-tif-signature": hmac.new(key, message.encode(), hashlib.sha256).hexdigest(),
    }
    assert (await nsvc.client.post(PATH, content=body, headers=by_hand)).status_code == 200


async def test_signed_headers_can_be_turned_off(nsvc: Service) -> None:
    his = await his_of(nsvc)
    body = body_of(envelope("9001", his.code, SIGN_IN))
    national = nsvc.app.state.ctx.national
    national.auth.signed_headers = False
    try:
        response = await nsvc.client.post(PATH, content=body, headers=signed(his, body))
    finally:
        national.auth.signed_headers = True
    assert response.status_code == 401


async def test_the_envelope_names_the_hospital_of_the_key(nsvc: Service) -> None:
    his, other = await his_of(nsvc), await his_of(nsvc)
    body = body_of(envelope("9001", other.code, SIGN_IN))
    answer, _ = await his.send("9001", SIGN_IN, raw=body)
    assert answer["infcode"] == -1
    assert answer["err_msg"].startswith("定点医药机构编号(fixmedins_code)")
    assert his.code in answer["err_msg"]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"{not json", "不是有效的JSON"),
        (b"[1, 2]", "须为JSON对象"),
        (b'{"input": ' + b"[" * 200 + b"]" * 200 + b"}", "不是有效的JSON"),
        (b'{"input": ' + b'{"a": ' * 5000 + b"1" + b"}" * 5001, "不是有效的JSON"),
        (b'"\\ud800"', "不是有效的JSON"),
        (b'{"infno": "9001", "fixmedins_code": "X", "input": {}}', "发送方报文ID(msgid)：必填"),
        (b'{"infno": "22O7", "msgid": "M1", "fixmedins_code": "X"}', "交易编号(infno)：格式不符"),
        (b'{"infno": "9001", "msgid": "M 1", "fixmedins_code": "X"}', "发送方报文ID(msgid)"),
        (
            b'{"infno": "9001", "msgid": "M1", "fixmedins_code": "X", "input": "{"}',
            "交易输入(input)",
        ),
        (
            b'{"infno": "9001", "msgid": "M1", "fixmedins_code": "X", "input": [1]}',
            "交易输入(input)",
        ),
    ],
)
async def test_a_malformed_envelope_answers_minus_one(
    sqlite_nsvc: Service, raw: bytes, expected: str
) -> None:
    his = await his_of(sqlite_nsvc)
    answer, _ = await his.send("9001", None, raw=raw)
    assert answer["infcode"] == -1
    assert expected in answer["err_msg"], answer["err_msg"]
    assert answer["output"] is None
    assert answer["inf_refmsgid"]
    assert answer["refmsg_time"]
    assert answer["respond_time"]


async def test_envelope_variants_an_hsi_sends(sqlite_nsvc: Service) -> None:
    his = await his_of(sqlite_nsvc)
    # infno as a number, input as a JSON string, unknown envelope fields: accepted.
    value = envelope("9001", his.code, json.dumps(SIGN_IN))
    value["infno"] = 9001
    value["fixmedins_soft_fcty"] = "某软件公司"
    answer, _ = await his.send("9001", None, raw=body_of(value))
    assert answer["infcode"] == 0, answer
    unsupported = await his.fail("2203", {"mdtrtinfo": {}})
    assert unsupported.startswith("交易编号(infno)：不支持的交易 2203")
    assert "2207" in unsupported


async def test_the_interface_is_off_without_its_secret(svc: Service) -> None:
    his = await his_of(svc)
    answer, _ = await his.send("9001", SIGN_IN)
    assert answer["infcode"] == -1
    assert "SETTLEMENT_NATIONAL_SECRET" in answer["err_msg"]


async def test_business_errors_name_the_national_field(nsvc: Service) -> None:
    his = await his_of(nsvc)
    person = nsvc.registry.add(make_id_number(), "dibao")
    unknown = await his.fail("2206", {"data": {"mdtrt_id": "MZ-NEVER-REGISTERED"}})
    assert unknown.startswith("就诊ID(data.mdtrt_id)：不存在")
    psn_no, mdtrt_id = await his.register(person)
    line = {
        "feedetl_sn": "1",
        "mdtrt_id": mdtrt_id,
        "psn_no": psn_no,
        "med_list_codg": "110200001",
        "pric": 12,
        "cnt": 1,
    }
    no_level = await his.fail("2204", {"feedetail": [line]})
    assert no_level.startswith("收费项目等级(feedetail[0].chrgitm_lv)：必填")
    negative = await his.fail("2204", {"feedetail": [{**line, "chrgitm_lv": "01", "cnt": -1}]})
    assert negative == "数量(feedetail[0].cnt)：不能为负数"  # a refund line: use 2302
    zero = await his.fail("2204", {"feedetail": [{**line, "chrgitm_lv": "01", "cnt": 0}]})
    assert zero == "数量(feedetail[0].cnt)：必须大于0"
    other_person = await his.fail(
        "2204", {"feedetail": [{**line, "chrgitm_lv": "01", "psn_no": "0" * 30}]}
    )
    assert other_person.startswith("人员编号(feedetail[0].psn_no)")
    bad_id = await his.fail(
        "2201",
        {
            "data": {
                "mdtrt_cert_type": "02",
                "mdtrt_cert_no": "370305198001011230",
                "begntime": today().isoformat(),
                "ipt_otp_no": "X1",
            }
        },
    )
    assert bad_id == "就诊凭证编号(data.mdtrt_cert_no)：校验位错误"
    future = await his.fail(
        "2201",
        {"data": {"psn_no": psn_no, "begntime": "2099-01-01 08:00:00", "ipt_otp_no": "X2"}},
    )
    assert future.startswith("开始时间(data.begntime)：不能晚于今天")
    bad_visit = await his.fail(
        "2201", {"data": {"psn_no": psn_no, "begntime": today().isoformat(), "ipt_otp_no": "空 格"}}
    )
    assert bad_visit.startswith("住院/门诊号(data.ipt_otp_no)：格式不符")


async def test_a_registry_outage_answers_minus_one_and_writes_nothing(nsvc: Service) -> None:
    his = await his_of(nsvc)
    person = nsvc.registry.add(make_id_number(), "registered_poor")
    nsvc.registry.mode = "down"
    looked_up = await his.fail("1101", {"data": {"mdtrt_cert_type": "02", "mdtrt_cert_no": person}})
    assert "登记系统暂时无法访问" in looked_up
    assert "秒后重试" in looked_up
    msgid = new_msgid(his.code)
    visit_id = unique("MZ")
    registered = await his.fail(
        "2201",
        {
            "data": {
                "mdtrt_cert_type": "02",
                "mdtrt_cert_no": person,
                "psn_name": "张三",
                "begntime": today().isoformat(),
                "ipt_otp_no": visit_id,
            }
        },
        msgid=msgid,
    )
    assert "未写入任何数据" in registered
    async with nsvc.app.state.ctx.db.read() as conn:
        for table, column, value in (
            (Admission.__table__, "visit_id", visit_id),  # type: ignore[attr-defined]
            (NationalVisit, "mdtrt_id", visit_id),
            (NationalMessage, "msgid", msgid),
        ):
            rows = await conn.execute(select(table).where(table.c[column] == value))
            assert rows.all() == [], table
    nsvc.registry.mode = "ok"
    answer = await his.ok(
        "2201",
        {
            "data": {
                "mdtrt_cert_type": "02",
                "mdtrt_cert_no": person,
                "psn_name": "张三",
                "begntime": today().isoformat(),
                "ipt_otp_no": visit_id,
            }
        },
        msgid=msgid,
    )
    assert answer["data"]["mdtrt_id"] == visit_id


async def test_a_database_outage_answers_minus_one(sqlite_nsvc: Service) -> None:
    his = await his_of(sqlite_nsvc)
    national = sqlite_nsvc.app.state.ctx.national

    async def down(call: Any) -> Outcome:
        raise OperationalError("SELECT 1", None, ConnectionRefusedError("refused"))

    original = national._dispatch["9001"]
    national._dispatch["9001"] = down
    try:
        message = await his.fail("9001", SIGN_IN)
    finally:
        national._dispatch["9001"] = original
    assert message.startswith("数据库暂时不可用，未写入任何数据")


def test_the_national_secret_setting() -> None:
    base = {"env": "test", "database_url": "sqlite:///x.db", "admin_token": "a" * 20}
    base["registry_token"] = "r" * 20
    base["receipt_secret"] = "c" * 20
    assert Settings(**base).national_secret is None
    assert Settings(**base, national_secret="  ").national_secret is None
    assert Settings(**base, national_secret="s" * 16).national_secret == "s" * 16
    for insecure in ("short", "dev-national-interface-secret"):
        with pytest.raises(ValueError, match="SETTLEMENT_NATIONAL_SECRET"):
            Settings(**base, national_secret=insecure)
    dev = Settings(env="dev", database_url="sqlite:///x.db")
    assert dev.national_secret == "dev-national-interface-secret"


async def test_empty_strings_are_fields_not_sent(nsvc: Service) -> None:
    """HIS send ``""`` for "no value": an optional field so sent is absent, a required one
    missing."""
    his = await his_of(nsvc)
    person = nsvc.registry.add(make_id_number(), "dibao")
    psn_no, mdtrt_id = await his.register(person)
    line = {
        "feedetl_sn": "1",
        "mdtrt_id": mdtrt_id,
        "psn_no": "",
        "chrg_bchno": "",
        "med_list_codg": "110200001",
        "med_list_name": "",
        "chrgitm_lv": "02",
        "pric": 12,
        "cnt": 1,
        "det_item_fee_sumamt": "",
        "selfpay_prop": "",
        "pric_uplmt_amt": " ",
    }
    uploaded = await his.ok("2204", {"feedetail": [line]})
    assert uploaded["result"][0]["det_item_fee_sumamt"] == Decimal("12.00")
    assert uploaded["result"][0]["memo"] == "110200001"  # no name: the code
    blank_level = await his.fail(
        "2204", {"feedetail": [{**line, "feedetl_sn": "2", "chrgitm_lv": ""}]}
    )
    assert blank_level.startswith("收费项目等级(feedetail[0].chrgitm_lv)：必填")
    data = {"mdtrt_id": mdtrt_id, "psn_no": "", "medfee_sumamt": "", "mid_setl_flag": ""}
    previewed = await his.ok("2206", {"data": data})
    assert previewed["setlinfo"]["medfee_sumamt"] == Decimal("12.00")
    missing = await his.fail("2206", {"data": {**data, "mdtrt_id": ""}})
    assert missing == "就诊ID(data.mdtrt_id)：必填"
    no_code = await his.fail("9001", SIGN_IN, raw=body_of({**envelope("9001", "", SIGN_IN)}))
    assert no_code == "定点医药机构编号(fixmedins_code)：必填"
