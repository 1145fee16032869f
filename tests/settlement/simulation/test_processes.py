"""The what-if in worker processes: shares of whole persons, each read by its worker in the
request's snapshot, give the answer of one process; a bill the candidate cannot settle is the
same 422 either way."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

import pytest

from settlement.database import Database
from settlement.simulation import repository, service
from settlement.simulation.replay import Figures, Replay, ReplayError, ReplayRow, candidate_policy
from shared.db import export_snapshot
from shared.errors import Unprocessable
from tests.settlement.admin.conftest import Service
from tests.settlement.simulation.test_endpoints import policy_text, raised_basic_ratio, some_bills


def record(setl_id: str, id_number: str, year: int, level: int = 2) -> ReplayRow:
    return ReplayRow(
        setl_id=setl_id,
        id_number=id_number,
        acc_year=year,
        setl_date=date(year, 6, 1),
        visit_type="inpatient",
        hospital_level=level,
        admitted_on=date(year, 5, 30),
        diagnoses="[]",
        categories='["dibao"]',
        items='[{"code": "X", "name": "床位费", "category": "A", "unit_price": "900.00", '
        '"quantity": 1}]',
        deltas="{}",
        policy_version="2020",
        fund_pay_sumamt=Decimal("0.00"),
        psn_cash_pay=Decimal("0.00"),
        refd_setl_flag=0,
        init_setl_id=None,
    )


@pytest.mark.parametrize("processes", [2, 3])
async def test_several_processes_give_the_answer_of_one(sim_svc: Service, processes: int) -> None:
    day = await some_bills(sim_svc)
    text = raised_basic_ratio(policy_text(day))
    service.close_workers()  # those an earlier what-if of the app started
    db = Database.from_url(sim_svc.url, pool_size=1)
    try:
        alone = await service.simulate(db, text, day, day, processes=1)
        together = await service.simulate(db, text, day, day, processes=processes)
    finally:
        await db.dispose()
    assert together.model_dump() == alone.model_dump()
    assert alone.patients == 5
    assert alone.fund_pay_sumamt.difference != "0.00"
    # The worker processes stay for the next what-if (PostgreSQL), until the service stops.
    assert (processes in service._pools) == (sim_svc.backend != "sqlite")
    service.close_workers()
    assert not service._pools


async def test_workers_that_cannot_read_the_snapshot_leave_the_replay_to_one_process(
    sim_svc: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker that cannot import the request's snapshot (a multi-host URL that took it to
    another server) fails with a database error; the what-if then replays in the service's
    process, in the same snapshot, with the same answer (not a 500)."""
    from sqlalchemy.exc import DBAPIError

    if sim_svc.backend == "sqlite":
        pytest.skip("worker processes are PostgreSQL's")
    day = await some_bills(sim_svc)
    text = raised_basic_ratio(policy_text(day))
    attempts: list[str] = []

    async def cannot_import(url: str, snapshot: str, *args: object) -> Figures:
        attempts.append(snapshot)
        raise DBAPIError("SET TRANSACTION SNAPSHOT", None, Exception("invalid snapshot identifier"))

    db = Database.from_url(sim_svc.url, pool_size=1)
    try:
        alone = await service.simulate(db, text, day, day, processes=1)
        monkeypatch.setattr(service, "_replay_in_shares", cannot_import)
        fallen_back = await service.simulate(db, text, day, day, processes=2)
    finally:
        await db.dispose()
    assert len(attempts) == 1
    assert fallen_back.model_dump() == alone.model_dump()


def replay(text: str, rows: list[ReplayRow]) -> Figures | ReplayError:
    run = Replay(candidate_policy(text), date(2026, 1, 1), date(2026, 12, 31))
    try:
        run.feed(rows)
    except ReplayError as error:
        return error
    return run.figures()


def test_a_bill_the_candidate_cannot_settle_is_named() -> None:
    text = policy_text(date(2026, 6, 1))
    rows = [record("A1", "370305198001011237", 2026), record("A2", "370305198001011237", 2026, 9)]
    result = replay(text, rows)
    assert isinstance(result, ReplayError)
    assert (result.setl_id, result.field) == ("A2", "policy.hospital_levels")
    with pytest.raises(Unprocessable) as raised:
        service._raise(result)
    assert raised.value.errors is not None
    assert raised.value.errors[0]["field"] == "policy.hospital_levels"
    assert "bill A2" in raised.value.errors[0]["message"]

    fine = replay(text, rows[:1])
    assert isinstance(fine, Figures)
    assert (fine.bills, fine.replayed) == (1, 1)


@pytest.mark.parametrize("processes", [2, 3])
async def test_several_processes_name_the_bill_one_process_stops_at(
    sim_svc: Service, processes: int
) -> None:
    """A candidate without level-3 hospitals cannot settle the bills of four patients: every
    share stops at its own first one, and the 422 names the first in the records' order."""
    day = await some_bills(sim_svc)
    text = re.sub(
        r", 3 = [0-9.]+",
        "",
        raised_basic_ratio(policy_text(day)).replace(
            "hospital_levels = [1, 2, 3]", "hospital_levels = [1, 2]"
        ),
    )
    db = Database.from_url(sim_svc.url, pool_size=1)
    try:
        with pytest.raises(Unprocessable) as alone:
            await service.simulate(db, text, day, day, processes=1)
        with pytest.raises(Unprocessable) as together:
            await service.simulate(db, text, day, day, processes=processes)
    finally:
        await db.dispose()
    assert alone.value.errors is not None
    assert alone.value.errors[0]["field"] == "policy.hospital_levels"
    assert together.value.errors == alone.value.errors


@pytest.mark.parametrize("shares", [2, 3, 7])
async def test_the_shares_together_are_the_records_in_order(sim_svc: Service, shares: int) -> None:
    """The workers' shares of the persons, read one after the other in one exported snapshot,
    are exactly the records one stream reads, in the same order."""
    if sim_svc.backend == "sqlite":
        pytest.skip("shares are read in worker processes on PostgreSQL only")
    day = await some_bills(sim_svc)
    db = Database.from_url(sim_svc.url, pool_size=3)
    try:
        async with db.snapshot() as conn:
            whole = [
                tuple(row)
                async for batch in repository.stream_replay(conn, day, day)
                for row in batch
            ]
            bounds = await repository.share_bounds(conn, day, day, shares)
            snapshot = await export_snapshot(conn)
            parts = []
            for persons in bounds:
                async with db.snapshot(shared=snapshot) as own:
                    parts += [
                        tuple(row)
                        async for batch in repository.stream_replay(own, day, day, persons)
                        for row in batch
                    ]
        with pytest.raises(ValueError, match="not a snapshot id"):
            async with db.snapshot(shared="0000'; DROP TABLE bills; --"):
                pass
    finally:
        await db.dispose()
    assert len(bounds) == shares
    assert len(whole) == 14
    assert parts == whole
