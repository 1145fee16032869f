"""Policy what-if (政策测算): re-run the books of a period under a candidate policy.

Each patient's records are re-run in the order they were made: a bill with the engine, from
the stored fee items, visit type, hospital level and diagnoses with the patient's age on the
admission date (so the candidate's disease programmes and chronic-disease groups apply; the
aid class comes from the stored registry categories through the candidate's
``[aid_classes]`` map, the same class as stored unless the candidate changes the map; a
temporary-assistance grant pays at most what it paid on the stored bill); a reversal takes
the candidate's bill back out of the running totals, as the revoke did, and books the
negative of what the candidate paid on it. Running totals start from zero at the start of
each person's year, and the person's earlier records of that year are re-run too (only
records inside the period are counted), so the period starts from the totals the candidate
would have produced. "In force" is what the stored records paid (net),
so a period's figures, like its books, never change once it is over. Nothing is stored.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, cast

from settlement.database import AnyRow, Database
from settlement.engine import (
    TEMPORARY_ASSISTANCE_KEY,
    Bill,
    BillInputError,
    FeeItem,
    Policy,
    PolicyError,
    apply_deltas,
    compute,
    load_policy,
)
from settlement.engine.policy import check_plan
from settlement.reports import repository as reports
from settlement.simulation import repository
from settlement.simulation.schemas import (
    MAX_SIMULATION_DAYS,
    START_RULE,
    Comparison,
    FundComparison,
    SimulationResult,
)
from shared.errors import Unprocessable
from shared.idnumber import age_on
from shared.money import signed_money_str

ZERO = Decimal("0.00")


def parse_candidate(text: str) -> Policy:
    """The candidate policy; an invalid one, or one that departs from the plan's fixed numbers
    (``check_plan``, as at start-up), is a 422 naming the key (``policy.funds[1].ratio``)."""
    try:
        candidate = load_policy(text, source="candidate policy")
        check_plan(candidate)
        return candidate
    except PolicyError as exc:
        field_name = f"policy.{exc.key}" if exc.key else "policy"
        raise Unprocessable(
            f"The candidate policy is invalid: {exc}",
            errors=[{"field": field_name, "message": exc.detail}],
        ) from None


def _items(raw: str) -> list[FeeItem]:
    def dec(value: Any) -> Decimal | None:
        return None if value is None else Decimal(str(value))

    out = []
    for item in json.loads(raw):
        out.append(
            FeeItem(
                code=item["code"],
                name=item["name"],
                category=item["category"],
                unit_price=Decimal(str(item["unit_price"])),
                quantity=Decimal(str(item["quantity"])),
                amount=dec(item.get("amount")),
                self_pay_ratio=dec(item.get("self_pay_ratio")),
                price_cap=dec(item.get("price_cap")),
            )
        )
    return out


@dataclass
class Replay:
    """The state of a simulation as the ordered bills stream through it."""

    candidate: Policy
    begin: date
    end: date
    person: tuple[str, int] | None = None
    totals: dict[str, Decimal] = field(default_factory=dict)
    replayed: int = 0
    bills: int = 0
    versions: set[str] = field(default_factory=set)
    paid: dict[str, Decimal] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)
    fund_sum: tuple[Decimal, Decimal] = (ZERO, ZERO)
    cash_sum: tuple[Decimal, Decimal] = (ZERO, ZERO)
    cash_by_patient: dict[str, tuple[Decimal, Decimal]] = field(default_factory=dict)
    reversals: int = 0
    made: dict[str, Bill] = field(default_factory=dict)
    """The candidate's bills of the current person-year, by ``setl_id`` (for their reversals)."""

    def _count(self, row: AnyRow, bill: Bill, reversal: bool) -> None:
        """A record of the period: the stored amounts beside the candidate's (negated for a
        reversal)."""

        def signed(amount: Decimal) -> Decimal:
            return ZERO - amount if reversal else amount

        self.bills += 1
        self.reversals += int(reversal)
        self.versions.add(row.policy_version)
        for detail in bill.setldetail:
            code = detail.fund_pay_type
            self.paid[code] = self.paid.get(code, ZERO) + signed(detail.fund_payamt)
            self.names.setdefault(code, detail.fund_pay_type_name)
        self.fund_sum = (
            self.fund_sum[0] + row.fund_pay_sumamt,
            self.fund_sum[1] + signed(bill.fund_pay_sumamt),
        )
        self.cash_sum = (
            self.cash_sum[0] + row.psn_cash_pay,
            self.cash_sum[1] + signed(bill.psn_cash_pay),
        )
        before, after = self.cash_by_patient.get(row.id_number, (ZERO, ZERO))
        self.cash_by_patient[row.id_number] = (
            before + row.psn_cash_pay,
            after + signed(bill.psn_cash_pay),
        )

    def feed(self, rows: Sequence[AnyRow]) -> None:
        candidate = self.candidate
        for row in rows:
            person = (row.id_number, row.acc_year)
            if person != self.person:
                self.person = person
                self.totals = {}
                self.made = {}
            if row.refd_setl_flag:
                # The bill is earlier in the same person-year's stream (settled before it was
                # revoked); the revoke took its deltas back out of the running totals.
                reversed_bill = self.made.pop(row.init_setl_id, None)
                if reversed_bill is None:  # pragma: no cover - a reversal names a stored bill
                    continue
                self.totals = apply_deltas(self.totals, reversed_bill.deltas, -1)
                self.replayed += 1
                if row.setl_date >= self.begin:
                    self._count(row, reversed_bill, reversal=True)
                continue
            deltas = json.loads(row.deltas)
            grant = Decimal(str(deltas.get(TEMPORARY_ASSISTANCE_KEY, "0")))
            try:
                bill = compute(
                    candidate,
                    hospital_level=row.hospital_level,
                    visit_type=row.visit_type,
                    aid_class=candidate.aid_class_for(json.loads(row.categories)),
                    items=_items(row.items),
                    totals=self.totals,
                    grant_balance=grant,
                    diagnoses=json.loads(row.diagnoses),
                    age=age_on(row.id_number, row.admitted_on),
                )
            except BillInputError as exc:
                field_name = "policy.hospital_levels" if exc.field == "hospital_level" else "policy"
                raise Unprocessable(
                    f"The candidate policy cannot settle bill {row.setl_id}: {exc}",
                    errors=[{"field": field_name, "message": f"bill {row.setl_id}: {exc}"}],
                ) from None
            self.totals = apply_deltas(self.totals, bill.deltas)
            self.made[row.setl_id] = bill
            self.replayed += 1
            if row.setl_date >= self.begin:
                self._count(row, bill, reversal=False)


def _comparison(in_force: Decimal, candidate: Decimal) -> dict[str, Any]:
    return {
        "in_force": in_force,
        "candidate": candidate,
        "difference": signed_money_str(candidate - in_force),
    }


async def simulate(db: Database, policy_text: str, begin: date, end: date) -> SimulationResult:
    if end < begin:
        raise Unprocessable.field("to", "must not be before from")
    if (end - begin).days + 1 > MAX_SIMULATION_DAYS:
        raise Unprocessable.field(
            "to", f"the period must not be longer than {MAX_SIMULATION_DAYS} days"
        )
    candidate = parse_candidate(policy_text)
    replay = Replay(candidate, begin, end)
    async with db.read() as conn:
        in_force_rows = await reports.by_fund(conn, begin, end)
        async for batch in repository.stream_replay(conn, begin, end):
            # The engine is CPU work: run each batch off the event loop.
            await asyncio.to_thread(replay.feed, batch)
    in_force = {cast(str, r.key): r.fund_payamt or ZERO for r in in_force_rows}
    names = {cast(str, r.key): cast(str, r.name) for r in in_force_rows}
    names.update(replay.names)
    funds = [
        FundComparison(
            fund_pay_type=code,
            fund_pay_type_name=names.get(code, code),
            **_comparison(in_force.get(code, ZERO), replay.paid.get(code, ZERO)),
        )
        for code in sorted(set(in_force) | set(replay.paid))
    ]
    more = sum(1 for a, b in replay.cash_by_patient.values() if b > a)
    less = sum(1 for a, b in replay.cash_by_patient.values() if b < a)
    return SimulationResult(
        from_=begin,
        to=end,
        candidate_version=candidate.version,
        policies_in_force=sorted(replay.versions),
        bills=replay.bills,
        reversals=replay.reversals,
        replayed_bills=replay.replayed,
        patients=len(replay.cash_by_patient),
        funds=funds,
        fund_pay_sumamt=Comparison(**_comparison(*replay.fund_sum)),
        psn_cash_pay=Comparison(**_comparison(*replay.cash_sum)),
        patients_paying_more=more,
        patients_paying_less=less,
        patients_paying_same=len(replay.cash_by_patient) - more - less,
        start=START_RULE,
    )
