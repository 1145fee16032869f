"""``msgid`` is the retry key; 2601 reverses a message by its ``omsgid``."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, insert, select, update

from settlement.bills.models import BillRow
from settlement.hospitals.repository import by_code_with_key_hash
from settlement.national.models import NationalMessage
from settlement.national.schemas import Envelope
from settlement.national.service import fingerprint
from tests.settlement.conftest import Service, make_id_number
from tests.settlement.national.conftest import body_of, envelope, feedetail, his_of, new_msgid
from tests.settlement.national.test_outpatient import OUTPATIENT_LINES


async def bills_of_visit(svc: Service, mdtrt_id: str) -> int:
    table = BillRow
    async with svc.app.state.ctx.db.read() as conn:
        result = await conn.execute(
            select(func.count()).select_from(table).where(table.c.visit_id == mdtrt_id)
        )
        return int(result.scalar_one())


async def messages_of(svc: Service, hospital_code: str) -> list[tuple[str, str, str]]:
    """(msgid, infno, state) of a hospital's national messages."""
    async with svc.app.state.ctx.db.read() as conn:
        found = await by_code_with_key_hash(conn, hospital_code)
        assert found is not None
        rows = await conn.execute(
            select(NationalMessage.c.msgid, NationalMessage.c.infno, NationalMessage.c.state)
            .where(NationalMessage.c.hospital_id == found[0].id)
            .order_by(NationalMessage.c.created_at)
        )
        return [(r.msgid, r.infno, r.state) for r in rows.all()]


async def test_the_same_msgid_and_body_answer_the_stored_answer(nsvc: Service) -> None:
    his = await his_of(nsvc)
    person = nsvc.registry.add(make_id_number(), "registered_poor")
    psn_no, mdtrt_id = await his.register(person)
    await his.ok("2204", feedetail(mdtrt_id, psn_no, OUTPATIENT_LINES))
    msgid = new_msgid(his.code)
    settle = {"data": {"mdtrt_id": mdtrt_id, "psn_no": psn_no, "medfee_sumamt": 357.5}}
    first, first_text = await his.send("2207", settle, msgid=msgid)
    assert first["infcode"] == 0
    # The same message again (a retry after a lost answer), even with another inf_time and
    # operator: the stored answer, byte for byte; one bill.
    retry = envelope("2207", his.code, settle, msgid)
    retry["inf_time"] = "2026-11-30 23:59:59"
    retry["opter"] = "0002"
    again, again_text = await his.send("2207", settle, raw=body_of(retry))
    assert again_text == first_text
    assert await bills_of_visit(nsvc, mdtrt_id) == 1
    # Retries at once: the same answer each time, still one bill.
    answers = await asyncio.gather(*(his.send("2207", settle, msgid=msgid) for _ in range(4)))
    assert {text for _, text in answers} == {first_text}
    # The same msgid with another body is refused, naming the msgid.
    other = await his.fail("2207", {"data": {"mdtrt_id": mdtrt_id}}, msgid=msgid)
    assert "发送方报文ID(msgid)" in other
    assert "2207" in other
    # A new msgid for the same visit: nothing left to settle; with a new line, the native
    # rule: one settled bill per visit.
    nothing = await his.fail("2207", settle)
    assert "医疗费总额(data.medfee_sumamt)" in nothing
    await his.ok("2204", feedetail(mdtrt_id, psn_no, OUTPATIENT_LINES[:1], batch="B2"))
    second = await his.fail("2207", {"data": {"mdtrt_id": mdtrt_id}})
    assert second.startswith("业务冲突")
    assert first["output"]["setlinfo"]["setl_id"] in second
    assert await bills_of_visit(nsvc, mdtrt_id) == 1


async def test_a_failed_message_may_be_sent_again(nsvc: Service) -> None:
    his = await his_of(nsvc)
    person = nsvc.registry.add(make_id_number(), "dibao")
    psn_no, mdtrt_id = await his.register(person)
    msgid = new_msgid(his.code)
    upload = feedetail(mdtrt_id, psn_no, OUTPATIENT_LINES)
    upload["feedetail"][1]["pric"] = 18.505  # three decimals: refused, nothing kept
    refused = await his.fail("2204", upload, msgid=msgid)
    assert "单价(feedetail[1].pric)" in refused
    assert "最多两位小数" in refused
    assert msgid not in [m for m, _, _ in await messages_of(nsvc, his.code)]
    fixed = feedetail(mdtrt_id, psn_no, OUTPATIENT_LINES)
    answer = await his.ok("2204", fixed, msgid=msgid)
    assert len(answer["result"]) == 4
    assert (msgid, "2204", "done") in await messages_of(nsvc, his.code)


async def test_2601_reverses_a_settle_and_an_upload(nsvc: Service) -> None:
    his = await his_of(nsvc)
    person = nsvc.registry.add(make_id_number(), "destitute")
    psn_no, mdtrt_id = await his.register(person)
    upload_msgid = new_msgid(his.code)
    await his.ok("2204", feedetail(mdtrt_id, psn_no, OUTPATIENT_LINES), msgid=upload_msgid)
    settle_msgid = new_msgid(his.code)
    settled = await his.ok("2207", {"data": {"mdtrt_id": mdtrt_id}}, msgid=settle_msgid)
    setl_id = settled["setlinfo"]["setl_id"]

    # An upload whose lines are settled cannot be withdrawn; the settle is reversed first.
    blocked = await his.fail(
        "2601", {"data": {"psn_no": psn_no, "omsgid": upload_msgid, "oinfno": "2204"}}
    )
    assert "原发送方报文ID(data.omsgid)" in blocked
    assert "已结算" in blocked
    reversed_settle = await his.ok(
        "2601", {"data": {"psn_no": psn_no, "omsgid": settle_msgid, "oinfno": "2207"}}
    )
    assert reversed_settle["setlinfo"]["init_setl_id"] == setl_id
    assert reversed_settle["setlinfo"]["refd_setl_flag"] == "1"
    assert reversed_settle["setlinfo"]["medfee_sumamt"] == Decimal("-357.50")
    stored = await nsvc.client.get(f"/v1/settlements/{setl_id}", headers=his.hospital.headers())
    assert stored.json()["status"] == "revoked"
    # Reversing it again changes nothing and says it was done.
    twice = await his.ok("2601", {"data": {"omsgid": settle_msgid, "oinfno": "2207"}})
    assert twice["reversed_by"]
    assert await bills_of_visit(nsvc, mdtrt_id) == 2  # the bill and its reversal

    # Now the upload: its lines (open again after the revoke) are withdrawn.
    withdrawn = await his.ok("2601", {"data": {"omsgid": upload_msgid, "oinfno": "2204"}})
    assert [r["feedetl_sn"] for r in withdrawn["result"]] == [
        "B1-0001",
        "B1-0002",
        "B1-0003",
        "B1-0004",
    ]
    listing = await nsvc.client.get(
        f"/v1/visits/{mdtrt_id}/fee-details", headers=his.hospital.headers()
    )
    assert listing.json()["lines"] == []

    unknown = await his.fail("2601", {"data": {"omsgid": "NO-SUCH-MSGID", "oinfno": "2207"}})
    assert "原发送方报文ID(data.omsgid)" in unknown
    wrong_infno = await his.fail("2601", {"data": {"omsgid": settle_msgid, "oinfno": "2204"}})
    assert "原交易编号(data.oinfno)" in wrong_infno
    register_msgs = [m for m, infno, _ in await messages_of(nsvc, his.code) if infno == "2201"]
    not_reversible = await his.fail(
        "2601", {"data": {"omsgid": register_msgs[0], "oinfno": "2201"}}
    )
    assert "不支持冲正" in not_reversible


async def test_another_hospitals_msgid_is_its_own(nsvc: Service) -> None:
    """msgids are per hospital: the same msgid at two hospitals are two messages."""
    first, second = await his_of(nsvc), await his_of(nsvc)
    msgid = "SHARED-MSGID-0001"
    one = await first.ok("3201", _summary(), msgid=msgid)
    two = await second.ok("3201", _summary(), msgid=msgid)
    assert one["stmtinfo"]["reconciliation_id"] != two["stmtinfo"]["reconciliation_id"]
    unknown_elsewhere = await second.fail(
        "2601", {"data": {"omsgid": "ONLY-AT-FIRST", "oinfno": "2207"}}
    )
    assert "原发送方报文ID" in unknown_elsewhere


def _summary() -> dict[str, object]:
    return {
        "data": {
            "stmt_begndate": "2026-01-01",
            "stmt_enddate": "2026-01-01",
            "medfee_sumamt": 0,
            "fund_pay_sumamt": 0,
            "acct_pay": 0,
            "fixmedins_setl_cnt": 0,
        }
    }


async def test_a_claim_left_pending_is_taken_over_after_a_minute(nsvc: Service) -> None:
    """A process that died mid-call leaves its claim ``pending``: a retry within the minute is
    told to wait, a later one runs it."""
    his = await his_of(nsvc)
    msgid = new_msgid(his.code)
    value = envelope("3201", his.code, _summary(), msgid)
    claim = {
        "msgid": msgid,
        "infno": "3201",
        "fingerprint": fingerprint(Envelope.model_validate(value)),
        "state": "pending",
        "mdtrt_id": None,
        "subject": None,
        "answer": None,
        "reversed_by": None,
    }
    db = nsvc.app.state.ctx.db
    async with db.write() as conn:
        found = await by_code_with_key_hash(conn, his.code)
        assert found is not None
        now = datetime.now(UTC)
        await conn.execute(
            insert(NationalMessage),
            {**claim, "hospital_id": found[0].id, "created_at": now, "updated_at": now},
        )
    busy = await his.fail("3201", _summary(), msgid=msgid)
    assert busy == "发送方报文ID(msgid)：同一报文正在办理中，请稍后重试"
    async with db.write() as conn:
        await conn.execute(
            update(NationalMessage)
            .where(NationalMessage.c.msgid == msgid)
            .values(updated_at=now - timedelta(minutes=2))
        )
    answer = await his.ok("3201", _summary(), msgid=msgid)
    assert answer["stmtinfo"]["stmt_rslt"] == "0"
    assert (msgid, "3201", "done") in await messages_of(nsvc, his.code)
