"""Verifying the audit trail: the hash chains recomputed, and every bill and reversal checked
against the record that booked it (``medaid-settlement audit verify``, ``GET
/v1/audit/verify``).

1. **Chains.** The records of the period are read in ``(chain, seq)`` order (one chain at a
   time in memory) and each hash recomputed (:class:`settlement.audit.chain.ChainChecker`); a
   chain that starts inside the period is tied to the stored hash of the record before it.
2. **Bills.** Every bill booked in the period is read with its settle record (one outer join
   on the record's ``subject``): the record must exist and its amounts — every ``setlinfo``
   amount and the fund rows, where the record holds them (records made before migration
   0006 hold ``medfee_sumamt``, ``fund_pay_sumamt`` and ``psn_cash_pay``) — must equal the
   bill's. Every reversal must be the exact negative of its bill, fund rows included, and
   agree with its revoke record. A settle record whose bill is gone is a break too.

The first break is the earliest (by time, then record id)."""

from __future__ import annotations

import heapq
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import and_, select

from settlement.audit import repository
from settlement.audit.chain import Break, ChainChecker
from settlement.audit.repository import audit_log
from settlement.audit.schemas import BreakOut, VerifyReport
from settlement.bills.repository import bills, funds_of
from settlement.database import AnyRow, Conn, Database
from settlement.engine import SETLINFO_FIELDS

MAX_LISTED = 20
BATCH = 1000

_record = audit_log.alias("record")
_bill = bills.alias("bill")
_AMOUNTS = tuple(bills.c[name] for name in SETLINFO_FIELDS)
_RECORD = (
    _record.c.id.label("record_id"),
    _record.c.at.label("record_at"),
    _record.c.chain.label("record_chain"),
    _record.c.seq.label("record_seq"),
    _record.c.detail.label("record_detail"),
)
_BILLS = select(bills.c.setl_id, bills.c.setl_time, *_AMOUNTS, *_RECORD).select_from(
    bills.outerjoin(
        _record, and_(_record.c.subject == bills.c.setl_id, _record.c.action == "settle")
    )
)
_REVERSALS = select(
    bills.c.setl_id,
    bills.c.setl_time,
    bills.c.init_setl_id,
    *_AMOUNTS,
    *(_bill.c[name].label(f"bill_{name}") for name in SETLINFO_FIELDS),
    *_RECORD,
).select_from(
    bills.join(_bill, _bill.c.setl_id == bills.c.init_setl_id).outerjoin(
        _record, and_(_record.c.subject == bills.c.init_setl_id, _record.c.action == "revoke")
    )
)
_ORPHANS = (
    select(audit_log.c.id, audit_log.c.at, audit_log.c.chain, audit_log.c.seq, audit_log.c.subject)
    .select_from(audit_log.outerjoin(bills, bills.c.setl_id == audit_log.c.subject))
    .where(audit_log.c.action == "settle", bills.c.setl_id.is_(None))
)


class _Breaks:
    """Every break counted; the earliest kept."""

    def __init__(self) -> None:
        self.count = 0
        self._heap: list[tuple[tuple[datetime, int], int, Break]] = []

    def add(self, found: Break) -> None:
        self.count += 1
        entry = (found.order(), self.count, found)
        # Kept unordered and trimmed to the earliest MAX_LISTED when it grows: a broken log
        # may have a break on every record, and only the first few are listed.
        self._heap.append(entry)
        if len(self._heap) > 4 * MAX_LISTED:
            self._heap = heapq.nsmallest(MAX_LISTED, self._heap)

    def earliest(self) -> list[Break]:
        return [entry[2] for entry in heapq.nsmallest(MAX_LISTED, self._heap)]


def _period(
    begin: date | None, end: date | None, tz: timezone
) -> tuple[datetime | None, datetime | None]:
    since = datetime.combine(begin, time(0), tz).astimezone(UTC) if begin else None
    until = datetime.combine(end + timedelta(days=1), time(0), tz).astimezone(UTC) if end else None
    return since, until


def _amount(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def _load(detail: str | None) -> Mapping[str, Any]:
    try:
        loaded = json.loads(detail or "{}")
    except ValueError:
        return {}
    return loaded if isinstance(loaded, dict) else {}


def _differences(row: AnyRow, detail: Mapping[str, Any], sign: int = 1) -> list[str]:
    """The ``setlinfo`` amounts of ``row`` that differ from the record's (``sign`` −1: the
    record holds the negated amounts)."""
    out = []
    for name in SETLINFO_FIELDS:
        if name in detail and _amount(detail[name]) != sign * getattr(row, name):
            out.append(name)
    return out


def _fund_pairs(funds: Sequence[AnyRow], sign: int = 1) -> list[tuple[str, Decimal]]:
    return [(f.fund_pay_type, sign * f.fund_payamt) for f in funds]


def _bill_break(row: AnyRow, kind: str, message: str) -> Break:
    return Break(
        record_id=row.record_id,
        chain=row.record_chain,
        seq=row.record_seq,
        at=row.record_at or row.setl_time,
        kind=kind,
        message=message,
        setl_id=row.setl_id,
    )


async def _check_chains(
    conn: Conn, since: datetime | None, until: datetime | None, breaks: _Breaks
) -> ChainChecker:
    checker = ChainChecker()
    async for batch in repository.records(conn, since=since, until=until):
        for record in batch:
            for found in checker.feed(record):
                breaks.add(found)
    stored = await repository.hashes_at(conn, checker.places_before())
    for found in checker.close(stored):
        breaks.add(found)
    return checker


def _check_bill(row: AnyRow, funds: Sequence[AnyRow], breaks: _Breaks) -> None:
    if row.record_id is None:
        breaks.add(_bill_break(row, "missing", f"bill {row.setl_id} has no settle record"))
        return
    detail = _load(row.record_detail)
    differ = _differences(row, detail)
    if "funds" in detail:
        recorded = [(str(c), _amount(a)) for c, a in detail["funds"]]
        if recorded != _fund_pairs(funds):
            differ.append("setldetail")
    if differ:
        breaks.add(
            _bill_break(
                row,
                "bill",
                f"bill {row.setl_id}: {', '.join(differ)} differ from audit record {row.record_id}",
            )
        )


def _check_reversal(
    row: AnyRow, funds: Sequence[AnyRow], bill_funds: Sequence[AnyRow], breaks: _Breaks
) -> None:
    differ = [
        name for name in SETLINFO_FIELDS if getattr(row, name) != -getattr(row, f"bill_{name}")
    ]
    if _fund_pairs(funds) != _fund_pairs(bill_funds, -1):
        differ.append("setldetail")
    if differ:
        breaks.add(
            _bill_break(
                row,
                "bill",
                f"reversal {row.setl_id}: {', '.join(differ)} are not the negative of "
                f"bill {row.init_setl_id}'s",
            )
        )
        return
    if row.record_id is None:
        breaks.add(
            _bill_break(
                row,
                "missing",
                f"reversal {row.setl_id} of bill {row.init_setl_id} has no revoke record",
            )
        )
        return
    differ = _differences(row, _load(row.record_detail))
    if differ:
        breaks.add(
            _bill_break(
                row,
                "bill",
                f"reversal {row.setl_id}: {', '.join(differ)} differ from audit record "
                f"{row.record_id}",
            )
        )


async def _check_bills(conn: Conn, begin: date | None, end: date | None, breaks: _Breaks) -> int:
    checked = 0
    bills_stmt = _BILLS.where(bills.c.refd_setl_flag == 0)
    reversals_stmt = _REVERSALS.where(bills.c.refd_setl_flag == 1)
    if begin is not None:
        bills_stmt = bills_stmt.where(bills.c.setl_date >= begin)
        reversals_stmt = reversals_stmt.where(bills.c.setl_date >= begin)
    if end is not None:
        bills_stmt = bills_stmt.where(bills.c.setl_date <= end)
        reversals_stmt = reversals_stmt.where(bills.c.setl_date <= end)

    async for chunk in conn.stream(bills_stmt, batch=BATCH):
        funds = await funds_of(conn, [r.setl_id for r in chunk])
        for row in chunk:
            checked += 1
            _check_bill(row, funds[row.setl_id], breaks)
    async for chunk in conn.stream(reversals_stmt, batch=BATCH):
        funds = await funds_of(conn, [r.setl_id for r in chunk] + [r.init_setl_id for r in chunk])
        for row in chunk:
            checked += 1
            _check_reversal(row, funds[row.setl_id], funds[row.init_setl_id], breaks)
    return checked


async def _check_orphans(
    conn: Conn, since: datetime | None, until: datetime | None, breaks: _Breaks
) -> None:
    stmt = _ORPHANS
    if since is not None:
        stmt = stmt.where(audit_log.c.at >= since)
    if until is not None:
        stmt = stmt.where(audit_log.c.at < until)
    for row in (await conn.execute(stmt)).all():
        breaks.add(
            Break(
                record_id=row.id,
                chain=row.chain,
                seq=row.seq,
                at=row.at,
                kind="orphan",
                message=f"audit record {row.id} settles bill {row.subject}, which is not there",
                setl_id=row.subject,
            )
        )


def _out(found: Break) -> BreakOut:
    return BreakOut(
        record_id=found.record_id,
        chain=found.chain,
        seq=found.seq,
        at=found.at,
        kind=found.kind,  # type: ignore[arg-type]
        message=found.message,
        setl_id=found.setl_id,
    )


async def verify(
    db: Database, begin: date | None, end: date | None, local_tz: timezone
) -> VerifyReport:
    """Recompute the chains of the records made on the local dates ``begin``..``end`` (both
    included; either may be open) and check the bills and reversals booked on them. Reads one
    consistent snapshot (PostgreSQL), streaming."""
    since, until = _period(begin, end, local_tz)
    breaks = _Breaks()
    async with db.snapshot() as conn:
        checker = await _check_chains(conn, since, until, breaks)
        bills_checked = await _check_bills(conn, begin, end, breaks)
        await _check_orphans(conn, since, until, breaks)
    listed = [_out(b) for b in breaks.earliest()]
    return VerifyReport(
        ok=breaks.count == 0,
        from_=begin,
        to=end,
        records_checked=checker.records,
        chains_checked=checker.chains,
        bills_checked=bills_checked,
        break_count=breaks.count,
        first_break=listed[0] if listed else None,
        breaks=listed,
    )
