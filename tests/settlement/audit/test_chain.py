"""The tamper-evident audit trail: every record sealed into its chain (one per person, and
``system`` for records that name nobody), ``GET /v1/audit/verify`` and ``medaid-settlement
audit verify`` recompute the chains and check every bill against its record, and report the
first break. Each test has a database of its own, so tampering touches nobody else."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from typing import Any

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import select, text, update
from typer.testing import CliRunner

from settlement.audit.chain import GENESIS, SYSTEM_CHAIN, person_chain
from settlement.audit.repository import audit_log
from settlement.audit.verify import _Breaks, _check_chains
from settlement.bills.repository import bills
from settlement.cli import MIGRATIONS
from settlement.cli import app as cli
from tests.settlement.conftest import (
    ADMIN_TOKEN,
    BACKENDS,
    REGISTRY_TOKEN,
    REGISTRY_URL,
    Service,
    admin_headers,
    local_today,
    make_id_number,
    migrate,
    start_service,
    unique,
)
from tests.settlement.supervision.conftest import days_ago, outpatient, settled, stay

TODAY = local_today()  # the books' today (setl_date)


@pytest.fixture(params=BACKENDS)
async def own(
    request: pytest.FixtureRequest, database_factory: Callable[[str, str], str]
) -> AsyncIterator[Service]:
    """The app on a fresh database of this test's."""
    backend: str = request.param
    url = database_factory(backend, unique("audit_"))
    await asyncio.to_thread(migrate, url)
    service, lifespan = await start_service(url, backend, supervision_refresh_s=0)
    try:
        yield service
    finally:
        await service.client.aclose()
        await lifespan.__aexit__(None, None, None)


async def verify(svc: Service, **params: str) -> dict[str, Any]:
    response = await svc.client.get("/v1/audit/verify", params=params, headers=admin_headers())
    assert response.status_code == 200, response.text
    return dict(response.json())


async def activity(svc: Service) -> dict[str, Any]:
    """A hospital, a region, an admission, three bills of one patient (one revoked, one
    flagged and reviewed), a grant and another patient's outpatient bill."""
    hospital = await svc.hospital()
    regions = await svc.client.post(
        "/v1/regions",
        json={"regions": [{"code": "370305", "name": "淄博市临淄区"}]},
        headers=admin_headers(),
    )
    assert regions.status_code == 200, regions.text
    patient = svc.registry.add(make_id_number(), "dibao")
    admitted = await svc.client.post(
        "/v1/admissions",
        json={
            "patient": {"id_number": patient, "name": "张三"},
            "visit": {"visit_id": "ZY-AUDIT-1", "type": "inpatient", "admitted_on": days_ago(40)},
        },
        headers=hospital.headers(),
    )
    assert admitted.status_code == 201, admitted.text
    first = await settled(
        svc, hospital, stay(patient, days_ago(40), days_ago(35), visit_id="ZY-AUDIT-1")
    )
    second = await settled(svc, hospital, stay(patient, days_ago(33), days_ago(30)))
    third = await settled(
        svc, hospital, stay(patient, days_ago(20), days_ago(18), diagnosis="K35.8")
    )
    revoked = await svc.client.post(
        f"/v1/settlements/{third['setl_id']}/revoke", headers=hospital.headers()
    )
    assert revoked.status_code == 200
    grant = await svc.client.post(
        "/v1/grants",
        json={"id_number": patient, "amount": "500.00", "reference": unique("MZ-"),
              "valid_from": days_ago(10), "valid_to": TODAY.isoformat()},
        headers=admin_headers(),
    )  # fmt: skip
    assert grant.status_code == 201, grant.text
    flag = second["flags"][0]
    assert flag["rule"] == "READMIT-15"
    flag_id = (
        await svc.client.get(
            "/v1/supervision/flags",
            params={"from": days_ago(1), "to": TODAY.isoformat()},
            headers=admin_headers(),
        )
    ).json()["items"][0]["id"]
    reviewed = await svc.client.post(
        f"/v1/supervision/flags/{flag_id}/review",
        json={"status": "reviewed-ok", "reviewer": "王审核", "note": "转诊后复发，属实"},
        headers=admin_headers(),
    )
    assert reviewed.status_code == 200
    other = svc.registry.add(make_id_number())
    fourth = await settled(svc, hospital, outpatient(other, days_ago(2)))
    return {"patient": patient, "other": other, "bills": [first, second, third, fourth]}


async def records(svc: Service) -> list[Any]:
    async with svc.app.state.ctx.db.read() as conn:
        return list((await conn.execute(select(audit_log).order_by(audit_log.c.id))).all())


async def test_every_record_is_sealed_into_its_chain_and_verify_holds(own: Service) -> None:
    done = await activity(own)
    log = await records(own)
    by_chain: dict[str, list[Any]] = {}
    for record in log:
        by_chain.setdefault(record.chain, []).append(record)
    mine = by_chain[person_chain(done["patient"])]
    assert [r.action for r in mine] == [
        "admission", "settle", "settle", "settle", "revoke", "grant.create", "flag.review",
    ]  # fmt: skip
    assert [r.seq for r in mine] == list(range(1, len(mine) + 1))
    assert mine[0].prev_hash == GENESIS
    assert all(b.prev_hash == a.hash for a, b in zip(mine, mine[1:], strict=False))
    assert [r.action for r in by_chain[SYSTEM_CHAIN]] == ["hospital.create", "region.save"]
    assert [r.action for r in by_chain[person_chain(done["other"])]] == ["settle"]
    # No ID number in clear in the log.
    assert all(done["patient"] not in (r.chain + r.detail) for r in log)

    report = await verify(own)
    assert report["ok"] is True
    assert report["first_break"] is None
    assert report["records_checked"] == len(log)
    assert report["chains_checked"] == 3
    assert report["bills_checked"] == 5  # four bills and one reversal
    # A period: today's records and bills.
    today = await verify(own, **{"from": TODAY.isoformat(), "to": TODAY.isoformat()})
    assert today["ok"] is True
    assert today["records_checked"] == len(log)
    yesterday = await verify(own, **{"from": days_ago(1), "to": days_ago(1)})
    assert (yesterday["records_checked"], yesterday["bills_checked"]) == (0, 0)
    bad = await own.client.get(
        "/v1/audit/verify", params={"from": TODAY.isoformat(), "to": days_ago(1)},
        headers=admin_headers(),
    )  # fmt: skip
    assert bad.status_code == 422
    hospital = await own.hospital()
    assert (await own.client.get("/v1/audit/verify", headers=hospital.headers())).status_code == 403


async def lift_append_only(svc: Service) -> None:
    """What someone with the database's owner rights could do."""
    async with svc.app.state.ctx.db.write() as conn:
        if conn.dialect == "postgresql":
            await conn.execute(text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only"))
        else:
            await conn.execute(text("DROP TRIGGER audit_log_no_update"))
            await conn.execute(text("DROP TRIGGER audit_log_no_delete"))


def run_cli(svc: Service, *args: str) -> Any:
    env = {
        "SETTLEMENT_ENV": "test",
        "SETTLEMENT_DATABASE_URL": svc.url,
        "SETTLEMENT_ADMIN_TOKEN": ADMIN_TOKEN,
        "SETTLEMENT_REGISTRY_URL": REGISTRY_URL,
        "SETTLEMENT_REGISTRY_TOKEN": REGISTRY_TOKEN,
        "SETTLEMENT_RECEIPT_SECRET": "receipt-secret-for-the-audit-tests",
    }
    return CliRunner().invoke(cli, ["audit", "verify", *args], env=env)


async def test_verify_fails_at_the_record_of_a_bill_whose_amount_was_altered(own: Service) -> None:
    done = await activity(own)
    target = done["bills"][1]["setl_id"]
    result = await asyncio.to_thread(run_cli, own, "--from", TODAY.isoformat())
    assert result.exit_code == 0, result.output
    assert "ok:" in result.output

    # The patient's cash share and the total raised by 100 yuan, straight in the database
    # (the bill's own checks still hold: total = funds + cash).
    db = own.app.state.ctx.db
    async with db.write() as conn:
        await conn.execute(
            update(bills)
            .where(bills.c.setl_id == target)
            .values(
                medfee_sumamt=bills.c.medfee_sumamt + Decimal(100),
                psn_cash_pay=bills.c.psn_cash_pay + Decimal(100),
            )
        )
    settle_record = next(
        r for r in await records(own) if r.action == "settle" and r.subject == target
    )
    report = await verify(own)
    assert report["ok"] is False
    assert report["break_count"] == 1
    first = report["first_break"]
    assert first["kind"] == "bill"
    assert first["record_id"] == settle_record.id
    assert first["setl_id"] == target
    assert "medfee_sumamt" in first["message"]
    assert "psn_cash_pay" in first["message"]
    result = await asyncio.to_thread(run_cli, own)
    assert result.exit_code == 1
    assert f"record {settle_record.id} " in result.output
    assert target in result.output

    # A reversal altered the same way is caught too: it must be its bill's exact negative.
    async with db.write() as conn:
        await conn.execute(
            update(bills)
            .where(bills.c.init_setl_id == done["bills"][2]["setl_id"])
            .values(
                hifp_pay=bills.c.hifp_pay - Decimal("0.01"),
                maf_pay=bills.c.maf_pay + Decimal("0.01"),
            )
        )
    report = await verify(own)
    assert report["break_count"] == 2
    assert {b["kind"] for b in report["breaks"]} == {"bill"}
    assert any("reversal" in b["message"] and "hifp_pay" in b["message"] for b in report["breaks"])


async def test_verify_fails_at_an_altered_or_removed_record(own: Service) -> None:
    done = await activity(own)
    await lift_append_only(own)
    log = await records(own)
    mine = [r for r in log if r.chain == person_chain(done["patient"])]
    altered = mine[2]  # the second settle
    db = own.app.state.ctx.db
    async with db.write() as conn:
        await conn.execute(
            update(audit_log).where(audit_log.c.id == altered.id).values(actor="hospital:OTHER")
        )
    report = await verify(own)
    assert report["ok"] is False
    first = report["first_break"]
    assert (first["record_id"], first["kind"]) == (altered.id, "hash")
    assert (first["chain"], first["seq"]) == (altered.chain, altered.seq)
    result = await asyncio.to_thread(run_cli, own)
    assert result.exit_code == 1
    assert f"record {altered.id} " in result.output

    # Its amounts rewritten to match a forged bill: still caught at that record.
    async with db.write() as conn:
        await conn.execute(
            update(audit_log).where(audit_log.c.id == altered.id).values(actor=altered.actor)
        )
    assert (await verify(own))["ok"] is True
    forged = altered.detail.replace('"psn_cash_pay":"', '"psn_cash_pay":"1')
    assert forged != altered.detail
    async with db.write() as conn:
        await conn.execute(
            update(audit_log).where(audit_log.c.id == altered.id).values(detail=forged)
        )
    report = await verify(own)
    assert report["first_break"]["record_id"] == altered.id
    assert {b["kind"] for b in report["breaks"]} == {"hash", "bill"}
    async with db.write() as conn:
        await conn.execute(
            update(audit_log).where(audit_log.c.id == altered.id).values(detail=altered.detail)
        )

    # A record removed from the middle of a chain: the next one shows the gap.
    removed = mine[3]
    async with db.write() as conn:
        await conn.execute(audit_log.delete().where(audit_log.c.id == removed.id))
    report = await verify(own)
    assert report["ok"] is False
    kinds = {(b["record_id"], b["kind"]) for b in report["breaks"]}
    assert (mine[4].id, "sequence") in kinds
    # The bill it settled has no record any more.
    assert any(b["kind"] == "missing" and b["setl_id"] == removed.subject for b in report["breaks"])


async def test_a_period_is_tied_to_the_record_before_it(own: Service) -> None:
    done = await activity(own)
    log = await records(own)
    mine = [r for r in log if r.chain == person_chain(done["patient"])]
    since = mine[3].at  # the check starts inside the chain, at its 4th record

    async def check() -> tuple[int, list[Any]]:
        breaks = _Breaks()
        async with own.app.state.ctx.db.snapshot() as conn:
            checker = await _check_chains(conn, since, None, breaks)
        return checker.records, breaks.earliest()

    count, found = await check()
    assert count == len([r for r in log if r.at >= since])
    assert found == []
    # The stored hash of the record before the period no longer ties in.
    await lift_append_only(own)
    async with own.app.state.ctx.db.write() as conn:
        await conn.execute(
            update(audit_log).where(audit_log.c.id == mine[2].id).values(hash="f" * 64)
        )
    _, found = await check()
    assert [(b.record_id, b.kind) for b in found] == [(mine[3].id, "link")]


async def test_appends_stay_in_order_under_concurrency(own: Service) -> None:
    hospitals = await asyncio.gather(*(own.hospital() for _ in range(6)))
    patient = own.registry.add(make_id_number(), "dibao")
    hospital = hospitals[0]

    async def admission(n: int) -> None:
        visit = {"visit_id": f"ZY-RACE-{n}", "type": "outpatient", "admitted_on": days_ago(n + 1)}
        response = await own.client.post(
            "/v1/admissions",
            json={"patient": {"id_number": patient, "name": "张三"}, "visit": visit},
            headers=hospital.headers(),
        )
        assert response.status_code == 201, response.text

    async def bill(n: int) -> None:
        await settled(own, hospitals[n % 6], outpatient(patient, days_ago(n + 1)))

    await asyncio.gather(*(admission(n) for n in range(12)), *(bill(n) for n in range(12)))
    log = await records(own)
    mine = sorted((r for r in log if r.chain == person_chain(patient)), key=lambda r: r.seq)
    assert len(mine) == 24
    assert [r.seq for r in mine] == list(range(1, 25))
    system = [r for r in log if r.chain == SYSTEM_CHAIN]
    assert sorted(r.seq for r in system) == list(range(1, 7))
    assert (await verify(own))["ok"] is True


async def test_the_migration_seals_the_records_made_before_it(own: Service) -> None:
    done = await activity(own)
    before = {r.id: r for r in await records(own)}
    await own.client.aclose()

    def downgrade_and_upgrade() -> None:
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        cfg.set_main_option("sqlalchemy.url", own.url.replace("%", "%%"))
        cfg.attributes["configure_logger"] = False
        command.downgrade(cfg, "0005")
        command.upgrade(cfg, "head")

    await asyncio.to_thread(downgrade_and_upgrade)
    from httpx import ASGITransport, AsyncClient

    own.client = AsyncClient(
        transport=ASGITransport(app=own.app), base_url="http://settlement.test"
    )
    after = {r.id: r for r in await records(own)}
    assert after.keys() == before.keys()
    # The same chains and hashes as when the records were appended one by one (flag
    # reviews, which cannot predate the revision, go to the system chain).
    assert {i: (r.chain, r.seq, r.hash) for i, r in after.items() if r.action != "flag.review"} == {
        i: (r.chain, r.seq, r.hash) for i, r in before.items() if r.action != "flag.review"
    }
    report = await verify(own)
    assert report["ok"] is True, report
    # New records continue the sealed chains.
    await settled(own, await own.hospital(), outpatient(done["patient"], days_ago(1)))
    assert (await verify(own))["ok"] is True


async def test_a_settle_appends_after_the_chain_moved_since_its_locked_read(own: Service) -> None:
    """The settle's locked read brings the end of the person's chain along; when another
    record lands on the chain before the settle's own (here in the same transaction, the
    way an admission's append can land between the two), the append finds the new end and
    seals after it, and the chain still verifies."""
    from settlement.audit.repository import append, append_row, audit_row
    from settlement.inputs import person_year

    patient = own.registry.add(make_id_number(), "dibao")
    first = await settled(own, await own.hospital(), outpatient(patient, days_ago(3)))
    async with own.app.state.ctx.db.write() as conn:
        inputs = await person_year(conn, patient, TODAY.year, on=TODAY, lock=True)
        assert inputs.chain_head is not None
        assert inputs.chain_head.seq == 1
        await append(
            conn, actor="test", action="admission", subject="ZY-MOVED", request_id=None,
            detail={}, person=patient,
        )  # fmt: skip
        row = audit_row(
            actor="test", action="note", subject=first["setl_id"], request_id=None,
            detail={}, person=patient,
        )  # fmt: skip
        await append_row(conn, row, inputs.chain_head)
    mine = [r for r in await records(own) if r.chain == person_chain(patient)]
    assert [(r.seq, r.action) for r in mine] == [(1, "settle"), (2, "admission"), (3, "note")]
    assert mine[2].prev_hash == mine[1].hash
    assert mine[1].prev_hash == mine[0].hash
    assert (await verify(own))["ok"] is True


async def test_a_settle_whose_chain_moved_appends_its_record_after_the_new_end(
    own: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The settle carries its audit record in the bill's statement, sealed after the chain's
    end its locked read saw. When that end is stale (here forced: the read is told the chain
    is empty), the carried insert is refused by ``(chain, seq)`` and the record is appended
    after the real end instead, in the same transaction."""
    import settlement.settlements.service as settle_module
    from settlement.audit.repository import ChainHead

    carried = settle_module.sealed_insert
    stale: list[int] = []

    def from_the_start(dialect: str, row: dict[str, Any], head: ChainHead) -> Any:
        stale.append(head.seq)
        return carried(dialect, row, ChainHead.of(None, None))

    hospital = await own.hospital()
    patient = own.registry.add(make_id_number(), "dibao")
    await settled(own, hospital, outpatient(patient, days_ago(5)))
    monkeypatch.setattr(settle_module, "sealed_insert", from_the_start)
    await settled(own, hospital, outpatient(patient, days_ago(3)))
    assert stale == [1]  # the second settle's read saw one record; it was told none
    mine = [r for r in await records(own) if r.chain == person_chain(patient)]
    assert [(r.seq, r.action) for r in mine] == [(1, "settle"), (2, "settle")]
    assert mine[1].prev_hash == mine[0].hash
    assert (await verify(own))["ok"] is True
