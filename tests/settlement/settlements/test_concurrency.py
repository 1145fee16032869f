"""Many bills for one person at once, on PostgreSQL: the person's running-total row lock keeps
every fund inside its caps and the totals equal to the sum over the settled bills."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from settlement.bills.models import BillFundRow, BillRow
from settlement.database import table_of
from tests.settlement.conftest import (
    Service,
    bill_body,
    check_bill,
    make_id_number,
    start_service,
    unique,
)
from tests.support import ledger

bills = table_of(BillRow)
funds = table_of(BillFundRow)

# The 2020 sample policy for key assistance groups.
BASIC_INPATIENT_CAP = Decimal("200000.00")
CRITICAL_ILLNESS_CAP = Decimal("500000.00")
MEDICAL_ASSISTANCE_LIMIT = Decimal("60000.00")


@pytest.fixture(scope="module")
async def pg(database_factory: Callable[[str, str], str]) -> Any:
    """A PostgreSQL settlement app of its own (a fresh database, a real connection pool)."""
    from tests.settlement.conftest import migrate

    url = await asyncio.to_thread(database_factory, "postgres", "concurrency")
    await asyncio.to_thread(migrate, url)
    service, lifespan = await start_service(url, "postgres", db_pool_size=8)
    yield service
    await service.client.aclose()
    await lifespan.__aexit__(None, None, None)


def assert_caps(settled: list[Any]) -> None:
    hifp = sum((r.hifp_pay for r in settled), Decimal(0))
    hifmi = sum((r.hifmi_pay for r in settled), Decimal(0))
    maf = sum((r.maf_pay for r in settled), Decimal(0))
    assert hifp <= BASIC_INPATIENT_CAP
    assert hifmi <= CRITICAL_ILLNESS_CAP
    assert maf <= MEDICAL_ASSISTANCE_LIMIT


async def assert_limit_chains(svc: Service, setl_ids: list[str]) -> None:
    """Bills settled one after another: each fund's "limit before this bill" is the previous
    bill's limit minus what the fund paid on it (no two bills saw the same room)."""
    async with svc.app.state.ctx.db.read() as conn:
        rows = (await conn.execute(select(funds).where(funds.c.setl_id.in_(setl_ids)))).all()
    by_fund: dict[str, list[Any]] = {}
    for row in rows:
        if row.crt_payb_lmt_amt is not None:
            by_fund.setdefault(row.fund_pay_type, []).append(row)
    assert {"390100", "390200", "610100"} <= set(by_fund)
    for code, fund_rows in by_fund.items():
        chain = sorted(fund_rows, key=lambda r: (-r.crt_payb_lmt_amt, -r.fund_payamt))
        for before, after in zip(chain, chain[1:], strict=False):
            assert after.crt_payb_lmt_amt == before.crt_payb_lmt_amt - before.fund_payamt, code


@pytest.mark.postgres
async def test_100_concurrent_settles_cross_the_caps_exactly(pg: Service) -> None:
    hospital = await pg.hospital(level=3)
    person = pg.registry.add(make_id_number(), "registered_poor")
    bodies = [bill_body(person, total="30000.00") for _ in range(100)]
    responses = await asyncio.gather(
        *(
            pg.client.post("/v1/settlements", json=body, headers=hospital.headers(unique("K")))
            for body in bodies
        )
    )
    assert [r.status_code for r in responses] == [201] * 100, [r.text for r in responses][:3]
    for response in responses:
        check_bill(response.json())
    rows = await ledger.person_bills(pg.app.state.ctx.db, person, 2026)
    assert len(rows) == 100
    assert_caps(rows)
    # 100 bills of 30,000 exhaust each capped fund exactly.
    assert sum((r.hifp_pay for r in rows), Decimal(0)) == BASIC_INPATIENT_CAP
    assert sum((r.hifmi_pay for r in rows), Decimal(0)) == CRITICAL_ILLNESS_CAP
    assert sum((r.maf_pay for r in rows), Decimal(0)) == MEDICAL_ASSISTANCE_LIMIT
    assert await ledger.person_problems(pg.app.state.ctx.db, person, 2026) == []
    await assert_limit_chains(pg, [r.setl_id for r in rows])

    acc = await pg.client.get(f"/v1/persons/{person}/accumulators", headers=hospital.headers())
    remaining = {(f["fund_pay_type"], f["visit_type"]): f["remaining"] for f in acc.json()["funds"]}
    assert remaining[("390100", "inpatient")] == "0.00"
    assert remaining[("390200", None)] == "0.00"
    assert remaining[("610100", None)] == "0.00"
    assert acc.json()["settled_bills"] == 100


@pytest.mark.postgres
async def test_concurrent_settles_and_revokes_keep_totals_exact(pg: Service) -> None:
    hospital = await pg.hospital(level=3)
    person = pg.registry.add(make_id_number(), "dibao")
    rng = random.Random(20261128)

    def body() -> dict[str, Any]:
        return bill_body(person, total=f"{rng.randint(5000, 60000)}.{rng.randint(0, 99):02d}")

    first = await asyncio.gather(
        *(
            pg.client.post("/v1/settlements", json=body(), headers=hospital.headers(unique("K")))
            for _ in range(30)
        )
    )
    assert all(r.status_code == 201 for r in first)
    to_revoke = [r.json()["setl_id"] for r in first[:20]]

    async def revoke(setl_id: str) -> Any:
        return await pg.client.post(f"/v1/settlements/{setl_id}/revoke", headers=hospital.headers())

    async def settle() -> Any:
        return await pg.client.post(
            "/v1/settlements", json=body(), headers=hospital.headers(unique("K"))
        )

    work = [revoke(s) for s in to_revoke] + [revoke(s) for s in to_revoke[:10]]
    work += [settle() for _ in range(70)]
    rng.shuffle(work)
    results = await asyncio.gather(*work)
    assert all(r.status_code in (200, 201) for r in results), [r.text for r in results][:3]
    for r in results:
        check_bill(r.json())
    rows = await ledger.person_bills(pg.app.state.ctx.db, person, 2026)
    statuses = {r.setl_id: r.status for r in rows}
    assert len(rows) == 100
    assert sorted(s for s, status in statuses.items() if status == "revoked") == sorted(to_revoke)
    # One reversal per revoked bill, however many times it was revoked at once.
    async with pg.app.state.ctx.db.read() as conn:
        reversed_ids = (
            await conn.execute(
                select(bills.c.init_setl_id).where(
                    bills.c.id_number == person, bills.c.refd_setl_flag == 1
                )
            )
        ).scalars()
    assert sorted(reversed_ids) == sorted(to_revoke)
    settled = [r for r in rows if r.status == "settled"]
    assert len(settled) == 80
    assert_caps(settled)
    assert await ledger.person_problems(pg.app.state.ctx.db, person, 2026) == []

    # Revoking everything brings the totals back to nothing.
    await asyncio.gather(*(revoke(r.setl_id) for r in settled))
    assert await ledger.stored_totals(pg.app.state.ctx.db, person, 2026) == {}


@pytest.mark.postgres
async def test_50_concurrent_retries_of_one_key_make_one_bill(pg: Service) -> None:
    hospital = await pg.hospital()
    person = pg.registry.add(make_id_number(), "registered_poor")
    body = bill_body(person, total="12345.67")
    key = unique("retry-")
    responses = await asyncio.gather(
        *(
            pg.client.post("/v1/settlements", json=body, headers=hospital.headers(key))
            for _ in range(50)
        )
    )
    codes = sorted(r.status_code for r in responses)
    assert codes == [200] * 49 + [201], codes
    assert len({r.json()["setl_id"] for r in responses}) == 1
    rows = await ledger.person_bills(pg.app.state.ctx.db, person, 2026)
    assert len(rows) == 1
    assert await ledger.person_problems(pg.app.state.ctx.db, person, 2026) == []


@pytest.mark.postgres
async def test_concurrent_settles_of_one_visit_make_one_bill(pg: Service) -> None:
    hospital = await pg.hospital()
    person = pg.registry.add(make_id_number(), "registered_poor")
    body = bill_body(person, total="2000.00")
    responses = await asyncio.gather(
        *(
            pg.client.post("/v1/settlements", json=body, headers=hospital.headers(unique("K")))
            for _ in range(20)
        )
    )
    codes = sorted(r.status_code for r in responses)
    assert codes == [201] + [409] * 19, codes
    winner = next(r.json()["setl_id"] for r in responses if r.status_code == 201)
    assert all(r.json()["setl_id"] == winner for r in responses if r.status_code == 409)
    rows = await ledger.person_bills(pg.app.state.ctx.db, person, 2026)
    assert len(rows) == 1


async def test_sqlite_serialises_concurrent_settles_and_revokes(sqlite_svc: Service) -> None:
    """SQLite has no row locks: the service serialises its write transactions instead."""
    svc = sqlite_svc
    hospital = await svc.hospital(level=3)
    person = svc.registry.add(make_id_number(), "registered_poor")
    first = await asyncio.gather(
        *(
            svc.client.post(
                "/v1/settlements",
                json=bill_body(person, total="90000.00"),
                headers=hospital.headers(unique("K")),
            )
            for _ in range(10)
        )
    )
    assert all(r.status_code == 201 for r in first)
    more = [
        svc.client.post(
            "/v1/settlements",
            json=bill_body(person, total="90000.00"),
            headers=hospital.headers(unique("K")),
        )
        for _ in range(10)
    ]
    revokes = [
        svc.client.post(f"/v1/settlements/{r.json()['setl_id']}/revoke", headers=hospital.headers())
        for r in first[:5]
    ]
    results = await asyncio.gather(*more, *revokes)
    assert all(r.status_code in (200, 201) for r in results)
    rows = await ledger.person_bills(svc.app.state.ctx.db, person, 2026)
    settled = [r for r in rows if r.status == "settled"]
    assert len(settled) == 15
    assert_caps(settled)
    assert sum((r.hifmi_pay for r in settled), Decimal(0)) <= CRITICAL_ILLNESS_CAP
    assert await ledger.person_problems(svc.app.state.ctx.db, person, 2026) == []


@pytest.mark.postgres
async def test_a_settle_that_waited_for_the_lock_reads_what_the_holder_left(pg: Service) -> None:
    """The locked read carries the person's other facts (open grants, the audit chain's end)
    in the statement that waits for the lock. A settle that waited while another
    transaction gave a grant back and appended to the chain must see both once it holds
    the lock (it reads again), not what was there when it started waiting."""
    from datetime import date, timedelta

    from sqlalchemy import text

    from settlement.accumulators import repository as accumulators
    from settlement.audit.repository import append
    from settlement.inputs import person_year
    from tests.settlement.conftest import admin_headers

    db = pg.app.state.ctx.db
    patient = make_id_number()
    today = date.today()

    async def touch(conn: Any, action: str) -> None:
        """What a settle or revoke does to the row and the chain (totals kept)."""
        held = await person_year(conn, patient, today.year, on=today, lock=True)
        await accumulators.store(conn, patient, today.year, held.totals, 0)
        await append(
            conn, actor="test", action=action, subject="S-TEST", request_id=None, detail={},
            person=patient,
        )  # fmt: skip

    async with db.write() as conn:  # the person-year's row and the chain's first record
        await touch(conn, "settle")
    granted = await pg.client.post(
        "/v1/grants",
        json={"id_number": patient, "amount": "500.00", "reference": unique("MZ-"),
              "valid_from": (today - timedelta(days=1)).isoformat(),
              "valid_to": today.isoformat()},
        headers=admin_headers(),
    )  # fmt: skip
    assert granted.status_code == 201, granted.text
    grant_id = granted.json()["grant_id"]
    async with db.write() as conn:  # drawn to nothing, as by an earlier bill
        await conn.execute(text("UPDATE grants SET balance = 0 WHERE id = :g"), {"g": grant_id})
        before = await person_year(conn, patient, today.year, on=today, lock=True)
    assert before.open_grants == []
    assert before.chain_head is not None  # the settle's record, then the grant's

    holding, release = asyncio.Event(), asyncio.Event()

    async def holder() -> None:
        """Holds the lock, gives the grant back and appends, then commits when told."""
        async with db.write() as conn:
            await touch(conn, "revoke")
            holding.set()
            await conn.execute(
                text("UPDATE grants SET balance = 500 WHERE id = :g"), {"g": grant_id}
            )
            await release.wait()

    async def waiter() -> Any:
        await holding.wait()
        async with db.write() as conn:
            return await person_year(conn, patient, today.year, on=today, lock=True)

    held = asyncio.create_task(holder())
    waited = asyncio.create_task(waiter())
    await holding.wait()
    await asyncio.sleep(0.5)  # the waiter's statement is queued on the lock by now
    assert not waited.done()
    release.set()
    await held
    inputs = await waited
    assert inputs.open_grants == [(grant_id, Decimal("500.00"))]
    assert inputs.chain_head is not None
    assert inputs.chain_head.seq == before.chain_head.seq + 1  # and the holder's
