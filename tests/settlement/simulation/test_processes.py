"""The what-if in worker processes: parts of whole person-years, merged in stream order, give
the answer of one process; a bill the candidate cannot settle is the same 422 either way."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from settlement.database import Database
from settlement.simulation import service
from settlement.simulation.replay import Figures, ReplayError, ReplayRow, replay_part
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


async def batches(rows: Sequence[ReplayRow], size: int) -> AsyncIterator[Sequence[Any]]:
    for start in range(0, len(rows), size):
        yield [tuple(r) for r in rows[start : start + size]]


async def test_parts_never_split_a_person_year(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(service, "PART_ROWS", 2)
    rows = [
        record("A1", "370305198001011237", 2026),
        record("A2", "370305198001011237", 2026),
        record("A3", "370305198001011237", 2026),
        record("B1", "370305198001011237", 2027),
        record("C1", "370305199001011235", 2026),
        record("C2", "370305199001011235", 2026),
    ]
    parts = [part async for part in service._person_years(batches(rows, 1))]
    assert [[r.setl_id for r in part] for part in parts] == [
        ["A1", "A2", "A3"],
        ["B1"],
        ["C1", "C2"],
    ]
    assert all(isinstance(r, ReplayRow) for part in parts for r in part)


@pytest.mark.parametrize("processes", [2, 3])
async def test_several_processes_give_the_answer_of_one(
    sim_svc: Service, monkeypatch: pytest.MonkeyPatch, processes: int
) -> None:
    day = await some_bills(sim_svc)
    text = raised_basic_ratio(policy_text(day))
    db = Database.from_url(sim_svc.url, pool_size=1)
    try:
        alone = await service.simulate(db, text, day, day, processes=1)
        monkeypatch.setattr(service, "PART_ROWS", 1)  # a part per person-year
        together = await service.simulate(db, text, day, day, processes=processes)
    finally:
        await db.dispose()
    assert together.model_dump() == alone.model_dump()
    assert alone.patients == 5
    assert alone.fund_pay_sumamt.difference != "0.00"


def test_a_bill_the_candidate_cannot_settle_is_named() -> None:
    text = policy_text(date(2026, 6, 1))
    rows = [record("A1", "370305198001011237", 2026), record("A2", "370305198001011237", 2026, 9)]
    result = replay_part(text, date(2026, 1, 1), date(2026, 12, 31), rows)
    assert isinstance(result, ReplayError)
    assert (result.setl_id, result.field) == ("A2", "policy.hospital_levels")
    with pytest.raises(Unprocessable) as raised:
        service._raise(result)
    assert raised.value.errors is not None
    assert raised.value.errors[0]["field"] == "policy.hospital_levels"
    assert "bill A2" in raised.value.errors[0]["message"]

    fine = replay_part(text, date(2026, 1, 1), date(2026, 12, 31), rows[:1])
    assert isinstance(fine, Figures)
    assert (fine.bills, fine.replayed) == (1, 1)
