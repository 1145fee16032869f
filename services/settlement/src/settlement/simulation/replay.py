"""The what-if's replay (pure: no I/O): stored records re-run under a candidate policy, person-
year by person-year, into figures that add up across independent runs.

A run needs each person-year's records whole and in the order they were made (the running
totals start from zero at the start of each person's year), so the records of different
person-years may be replayed in different processes and their ``Figures`` merged: every
figure is a sum, a set or a first-seen name, the same whatever the split.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from functools import lru_cache
from typing import Any, NamedTuple

from pydantic_core import from_json

from settlement.engine import (
    TEMPORARY_ASSISTANCE_KEY,
    Bill,
    BillInputError,
    FeeItem,
    Policy,
    apply_deltas,
    compute,
    load_policy,
)
from shared.idnumber import age_on

ZERO = Decimal("0.00")


class ReplayRow(NamedTuple):
    """The columns of a stored record (bill or reversal) the replay reads, in the order the
    repository selects them."""

    setl_id: str
    id_number: str
    acc_year: int
    setl_date: date
    visit_type: str
    hospital_level: int
    admitted_on: date
    diagnoses: str  # JSON list
    categories: str  # JSON list
    items: str  # JSON list
    deltas: str  # JSON object
    policy_version: str
    fund_pay_sumamt: Decimal  # yuan, to the fen
    psn_cash_pay: Decimal  # yuan, to the fen
    refd_setl_flag: int
    init_setl_id: str | None


class ReplayError(Exception):
    """The candidate cannot settle a stored bill: ``(setl_id, field, message)``, ``field``
    naming the policy key to blame (``policy.hospital_levels``) or ``policy``."""

    def __init__(self, setl_id: str, field_name: str, message: str) -> None:
        super().__init__(setl_id, field_name, message)
        self.setl_id = setl_id
        self.field = field_name
        self.message = message


def _decimal(value: Any) -> Decimal:
    """A stored number: a JSON string holds its exact decimal text, a JSON integer is exact;
    any other JSON number is read as its shortest text (``Decimal(str(value))``)."""
    kind = value.__class__
    return Decimal(value) if kind is str or kind is int else Decimal(str(value))


def _items(raw: str) -> list[FeeItem]:
    """A stored bill's fee items (JSON: amounts as strings or numbers) as the engine's."""
    items: list[FeeItem] = []
    add = items.append
    for item in from_json(raw):
        get = item.get
        amount, ratio, cap = get("amount"), get("self_pay_ratio"), get("price_cap")
        add(
            FeeItem(
                item["code"],
                item["name"],
                item["category"],
                _decimal(item["unit_price"]),
                _decimal(item["quantity"]),
                None if amount is None else _decimal(amount),
                None if ratio is None else _decimal(ratio),
                None if cap is None else _decimal(cap),
            )
        )
    return items


def _grant(raw_deltas: str) -> Decimal:
    """The temporary-assistance grant a stored bill paid (its deltas' key; zero without it)."""
    if TEMPORARY_ASSISTANCE_KEY not in raw_deltas:  # most bills: no need to read the JSON
        return ZERO
    return _decimal(from_json(raw_deltas).get(TEMPORARY_ASSISTANCE_KEY, "0"))


@dataclass(kw_only=True)
class Figures:
    """What a replay counts over the period's records (the others only move running totals):
    records, reversals, what the stored records and the candidate paid (yuan, net) per fund,
    in all and in cash per patient, the policies the records were settled under."""

    replayed: int = 0
    bills: int = 0
    reversals: int = 0
    versions: set[str] = field(default_factory=set)
    paid: dict[str, Decimal] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)
    fund_sum: tuple[Decimal, Decimal] = (ZERO, ZERO)
    cash_sum: tuple[Decimal, Decimal] = (ZERO, ZERO)
    cash_by_patient: dict[str, tuple[Decimal, Decimal]] = field(default_factory=dict)

    def merge(self, other: Figures) -> None:
        """Add the figures of a later run (its fund names count only where this run has none,
        as if its records had come after this run's)."""
        self.replayed += other.replayed
        self.bills += other.bills
        self.reversals += other.reversals
        self.versions |= other.versions
        for code, amount in other.paid.items():
            self.paid[code] = self.paid.get(code, ZERO) + amount
        for code, name in other.names.items():
            self.names.setdefault(code, name)
        self.fund_sum = _add(self.fund_sum, other.fund_sum)
        self.cash_sum = _add(self.cash_sum, other.cash_sum)
        for person, pair in other.cash_by_patient.items():
            self.cash_by_patient[person] = _add(
                self.cash_by_patient.get(person, (ZERO, ZERO)), pair
            )


def _add(a: tuple[Decimal, Decimal], b: tuple[Decimal, Decimal]) -> tuple[Decimal, Decimal]:
    return a[0] + b[0], a[1] + b[1]


@dataclass
class Replay(Figures):
    """The state of a simulation as the ordered records stream through it."""

    candidate: Policy
    begin: date
    end: date
    person: tuple[str, int] | None = None
    totals: dict[str, Decimal] = field(default_factory=dict)
    made: dict[str, Bill] = field(default_factory=dict)
    """The candidate's bills of the current person-year, by ``setl_id`` (for their reversals)."""

    def figures(self) -> Figures:
        """The counted figures alone (without the candidate and the running state)."""
        return Figures(
            replayed=self.replayed,
            bills=self.bills,
            reversals=self.reversals,
            versions=self.versions,
            paid=self.paid,
            names=self.names,
            fund_sum=self.fund_sum,
            cash_sum=self.cash_sum,
            cash_by_patient=self.cash_by_patient,
        )

    def _count(self, row: Any, bill: Bill, reversal: bool) -> None:
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

    def feed(self, rows: Sequence[Any]) -> None:
        """Re-run ``rows`` (``ReplayRow``-shaped, ordered by person, year and time); raises
        ``ReplayError`` at the first bill the candidate cannot settle."""
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
            try:
                bill = compute(
                    candidate,
                    hospital_level=row.hospital_level,
                    visit_type=row.visit_type,
                    aid_class=candidate.aid_class_for(from_json(row.categories)),
                    items=_items(row.items),
                    totals=self.totals,
                    grant_balance=_grant(row.deltas),
                    diagnoses=from_json(row.diagnoses),
                    age=age_on(row.id_number, row.admitted_on),
                )
            except BillInputError as exc:
                field_name = "policy.hospital_levels" if exc.field == "hospital_level" else "policy"
                raise ReplayError(row.setl_id, field_name, str(exc)) from None
            self.totals = apply_deltas(self.totals, bill.deltas)
            self.made[row.setl_id] = bill
            self.replayed += 1
            if row.setl_date >= self.begin:
                self._count(row, bill, reversal=False)


@lru_cache(maxsize=4)
def candidate_policy(text: str) -> Policy:
    """The candidate parsed (once per process for the same text: a worker process re-runs
    one share of a request)."""
    return load_policy(text, source="candidate policy")
