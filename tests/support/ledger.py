"""The settlement ledger read from the service's own tables: the one place the tests check that
the running totals equal the sum of the deltas of the settled (unrevoked) bills.

One arithmetic, two ways in:

- ``settled_sums``, ``totals_problems`` and ``bill_problems`` are the rule: for every person and
  year the stored running totals equal Σ deltas of their settled bills (a key that sums to zero
  is absent, as the engine keeps it), and every bill is whole (its fund rows add up to its
  ``fund_pay_sumamt``, its ``setlinfo`` split adds up).
- Through the app's own :class:`shared.db.Database` (``svc.app.state.ctx.db``, SQLite or
  PostgreSQL): ``person_problems`` (the totals of one person and year), ``stored_totals``,
  ``person_bills`` and ``database_problems`` (the whole ledger, with the bills' counts).
- Through a DSN, for the fault tests that run the service as a process: ``ledger_problems``
  (the whole ledger), ``bills_by_key`` and ``accumulator_people``, on a ``Database`` opened for
  the call.

The statements are SQLAlchemy Core on the service's tables, so they run on both backends.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

from sqlalchemy import bindparam, func, select

from settlement.accumulators.models import Accumulator
from settlement.bills.models import BillFundRow, BillRow
from settlement.database import load_totals, table_of
from shared.db import Database

bills = table_of(BillRow)
bill_funds = table_of(BillFundRow)
accumulators = table_of(Accumulator)

SETTLED = "settled"

_BILLS = select(
    bills.c.setl_id,
    bills.c.status,
    bills.c.id_number,
    bills.c.acc_year,
    bills.c.deltas,
    bills.c.medfee_sumamt,
    bills.c.fund_pay_sumamt,
    bills.c.psn_cash_pay,
    bills.c.hifp_pay,
    bills.c.hifmi_pay,
    bills.c.maf_pay,
    bills.c.oth_pay,
)
_FUND_ROWS = select(
    bill_funds.c.setl_id,
    func.count().label("fund_rows"),
    func.sum(bill_funds.c.fund_payamt).label("fund_rows_sum"),
).group_by(bill_funds.c.setl_id)
_ACCUMULATORS = select(
    accumulators.c.id_number, accumulators.c.year, accumulators.c.totals, accumulators.c.bills
)
_PERSON_BILLS = select(bills).where(
    bills.c.id_number == bindparam("id_number"),
    bills.c.acc_year == bindparam("year"),
    bills.c.refd_setl_flag == 0,
)
_PERSON_TOTALS = select(accumulators.c.totals).where(
    accumulators.c.id_number == bindparam("id_number"), accumulators.c.year == bindparam("year")
)
_BILLS_BY_KEY = select(
    bills.c.idempotency_key, bills.c.setl_id, bills.c.status, bills.c.visit_id
).where(bills.c.idempotency_key.in_(bindparam("keys", expanding=True)))
_PEOPLE = (
    select(accumulators.c.id_number)
    .distinct()
    .where(accumulators.c.id_number.in_(bindparam("id_numbers", expanding=True)))
)


# The arithmetic -------------------------------------------------------------------------------


def settled_sums(rows: Iterable[Any]) -> dict[tuple[str, int], dict[str, Decimal]]:
    """Σ ``deltas`` of the settled bills among ``rows``, per (id number, year); keys that sum
    to zero are left out."""
    sums: dict[tuple[str, int], dict[str, Decimal]] = defaultdict(dict)
    for row in rows:
        if row.status != SETTLED:
            continue
        into = sums[(row.id_number, row.acc_year)]
        for name, amount in load_totals(row.deltas).items():
            into[name] = into.get(name, Decimal(0)) + amount
    return {key: {k: v for k, v in into.items() if v} for key, into in sums.items()}


def totals_problems(
    who: str, stored: Mapping[str, Decimal], settled: Mapping[str, Decimal]
) -> list[str]:
    """Stored running totals against Σ deltas of the settled bills: equal key by key (no
    problems exactly when ``stored == settled``)."""
    return [
        f"{who} {name}: totals {stored.get(name, '(none)')} != sum of settled bills "
        f"{settled.get(name, '(none)')}"
        for name in sorted(set(stored) | set(settled))
        if stored.get(name) != settled.get(name)
    ]


def bill_problems(bill: Any, fund_rows: int, fund_rows_sum: Decimal) -> list[str]:
    """One bill is whole: its amounts add up and its fund rows add up to ``fund_pay_sumamt``."""
    sid = bill.setl_id
    problems = []
    if bill.medfee_sumamt != bill.fund_pay_sumamt + bill.psn_cash_pay:
        problems.append(f"bill {sid}: medfee_sumamt != fund_pay_sumamt + psn_cash_pay")
    funds = bill.hifp_pay + bill.hifmi_pay + bill.maf_pay + bill.oth_pay
    if bill.fund_pay_sumamt != funds:
        problems.append(f"bill {sid}: fund_pay_sumamt != hifp + hifmi + maf + oth")
    if fund_rows_sum != bill.fund_pay_sumamt:
        problems.append(
            f"bill {sid}: fund rows sum {fund_rows_sum} != fund_pay_sumamt "
            f"{bill.fund_pay_sumamt} ({fund_rows} rows)"
        )
    if bill.fund_pay_sumamt > 0 and fund_rows == 0:
        problems.append(f"bill {sid}: no fund rows")
    return problems


def _masked(id_number: str) -> str:
    return f"{id_number[:6]}…{id_number[-4:]}"


# Through the app's own database ---------------------------------------------------------------


async def person_bills(db: Database, id_number: str, year: int) -> Sequence[Any]:
    """The person's bills of the year, any status, every column (reversal records left
    out)."""
    async with db.read() as conn:
        return (await conn.execute(_PERSON_BILLS, {"id_number": id_number, "year": year})).all()


async def stored_totals(db: Database, id_number: str, year: int) -> dict[str, Decimal]:
    """The person's running totals of the year as stored (``{}`` without a row)."""
    async with db.read() as conn:
        raw = (await conn.execute(_PERSON_TOTALS, {"id_number": id_number, "year": year})).scalar()
    return load_totals(raw)


async def person_problems(db: Database, id_number: str, year: int) -> list[str]:
    """The person's running totals of the year against Σ deltas of their settled bills of the
    year, read together (empty: they agree)."""
    params = {"id_number": id_number, "year": year}
    async with db.snapshot() as conn:
        rows = (await conn.execute(_PERSON_BILLS, params)).all()
        raw = (await conn.execute(_PERSON_TOTALS, params)).scalar()
    settled = settled_sums(rows).get((id_number, year), {})
    return totals_problems(f"{_masked(id_number)} {year}", load_totals(raw), settled)


async def database_problems(db: Database) -> list[str]:
    """Every inconsistency of the whole ledger, as readable lines (empty: it is consistent):
    every bill whole; for every person and year, the running totals equal Σ deltas of the
    settled bills and ``bills`` counts them; no settled amounts without a running-total row."""
    async with db.snapshot() as conn:
        bill_rows = (await conn.execute(_BILLS)).all()
        fund_rows = {row.setl_id: row for row in (await conn.execute(_FUND_ROWS)).all()}
        totals_rows = (await conn.execute(_ACCUMULATORS)).all()
    problems: list[str] = []
    for bill in bill_rows:
        funds = fund_rows.get(bill.setl_id)
        problems += bill_problems(
            bill,
            funds.fund_rows if funds is not None else 0,
            funds.fund_rows_sum if funds is not None else Decimal(0),
        )
    settled = settled_sums(bill_rows)
    counts = Counter((b.id_number, b.acc_year) for b in bill_rows if b.status == SETTLED)
    seen = set()
    for acc in totals_rows:
        key = (acc.id_number, acc.year)
        seen.add(key)
        who = f"accumulator {_masked(acc.id_number)} {acc.year}"
        problems += totals_problems(who, load_totals(acc.totals), settled.get(key, {}))
        if acc.bills != counts.get(key, 0):
            problems.append(f"{who}: bills {acc.bills} != settled bills {counts.get(key, 0)}")
    for key, want in settled.items():
        if key not in seen and want:
            problems.append(f"person {_masked(key[0])} {key[1]}: bills but no totals")
    return problems


# Through a DSN (the service running as a process) ---------------------------------------------


@asynccontextmanager
async def _database(dsn: str) -> AsyncIterator[Database]:
    db = Database.from_url(dsn, pool_size=1, application_name="medaid-tests-ledger")
    try:
        yield db
    finally:
        await db.dispose()


async def ledger_problems(dsn: str) -> list[str]:
    """``database_problems`` of the settlement database at ``dsn``."""
    async with _database(dsn) as db:
        return await database_problems(db)


async def bills_by_key(dsn: str, keys: list[str]) -> dict[str, list[dict[str, Any]]]:
    """Bills per idempotency key (any hospital), to count them."""
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    if not keys:
        return out
    async with _database(dsn) as db, db.read() as conn:
        rows = (await conn.execute(_BILLS_BY_KEY, {"keys": keys})).all()
    for row in rows:
        out[row.idempotency_key].append(row._asdict())
    return out


async def accumulator_people(dsn: str, id_numbers: list[str]) -> set[str]:
    """Which of these people have a running-total row."""
    if not id_numbers:
        return set()
    async with _database(dsn) as db, db.read() as conn:
        rows = (await conn.execute(_PEOPLE, {"id_numbers": id_numbers})).all()
    return {row.id_number for row in rows}
