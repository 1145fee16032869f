"""Reconciliation (对账) of a hospital's books with the service's bills.

Summary (like national 3201): one aggregate query over the hospital's bills of the period,
compared with the hospital's totals. Detail (like 3202): the service's bills of the period come
from one streamed query (only the compared columns) and are joined with the hospital's list in
a dict by ``setl_id``; every bill on either side gets a result code. Both are stored, the
detail with its mismatching rows (bulk insert), so an administrator can list what did not
match and when.

The period is one of settlement dates (local, both ends included) and its books are the
records dated in it: the bills settled in it and the reversals of the revokes made in it (a
reversal is a record of its own: negative amounts, ``refd_setl_flag`` 1). The summary compares
net totals, counting both kinds; the detail compares record by record, each bill with its
status as it stood at the end of the period (a bill revoked later was still ``settled``).
So a reconciliation of a closed period gives the same answer whenever it is run.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from settlement.database import AnyRow, Database, dump_json, utcnow
from settlement.hospitals.repository import HospitalRef
from settlement.reconciliation import repository
from settlement.reconciliation.models import DETAIL, SUMMARY
from settlement.reconciliation.parsing import BookBill
from settlement.reconciliation.schemas import (
    Differences,
    ReconciliationDetailOut,
    ReconciliationOut,
    SummaryRequest,
    SummaryResult,
    SummaryTotals,
    Totals,
)
from shared.errors import Forbidden, NotFound, Unprocessable
from shared.idnumber import mask_id_number
from shared.money import signed_money_str
from shared.timestamps import timestamp_str

RESULT_CODES = ("0", "1", "2", "3")

Row = tuple[
    str,
    str,
    str | None,
    str | None,
    Decimal | None,
    Decimal | None,
    list[dict[str, str]],
    int,
    str | None,
]
"""(setl_id, result, visit_id, status, medfee_sumamt, fund_pay_sumamt, differences,
refd_setl_flag, init_setl_id)"""


async def target_hospital(
    db: Database, caller: HospitalRef | None, hospital_code: str | None
) -> HospitalRef:
    """The hospital whose books are reconciled: the calling hospital (which may only name
    itself), or the one the admin names."""
    if caller is not None:
        if hospital_code is not None and hospital_code != caller.code:
            raise Forbidden("A hospital reconciles its own bills only.")
        return caller
    if hospital_code is None:
        raise Unprocessable.field("hospital_code", "is required with the admin token")
    async with db.read() as conn:
        hospital = await repository.hospital_by_code(conn, hospital_code)
    if hospital is None:
        raise Unprocessable.field("hospital_code", f"no hospital has the code {hospital_code!r}")
    return hospital


def _signed(value: Decimal) -> str:
    return signed_money_str(value)


async def reconcile_summary(
    db: Database,
    hospital: HospitalRef,
    req: SummaryRequest,
    *,
    actor: str,
    request_id: str | None,
) -> SummaryResult:
    async with db.read() as conn:
        count, medfee, fund, cash = await repository.service_totals(
            conn,
            hospital.id,
            req.begin_date,
            req.end_date,
            visit_type=req.visit_type,
            include_revoked=req.include_revoked,
        )
    theirs = Totals(
        setl_cnt=req.setl_cnt,
        medfee_sumamt=req.medfee_sumamt,
        fund_pay_sumamt=req.fund_pay_sumamt,
        psn_cash_pay=req.psn_cash_pay,
    )
    ours = Totals(setl_cnt=count, medfee_sumamt=medfee, fund_pay_sumamt=fund, psn_cash_pay=cash)
    differences = Differences(
        setl_cnt=count - req.setl_cnt,
        medfee_sumamt=_signed(medfee - req.medfee_sumamt),
        fund_pay_sumamt=_signed(fund - req.fund_pay_sumamt),
        psn_cash_pay=_signed(cash - req.psn_cash_pay),
    )
    matched = (
        count == req.setl_cnt
        and medfee == req.medfee_sumamt
        and fund == req.fund_pay_sumamt
        and cash == req.psn_cash_pay
    )
    totals = SummaryTotals(hospital=theirs, service=ours, differences=differences)
    created_at = utcnow()
    async with db.write() as conn:
        reconciliation_id = await repository.insert_reconciliation(
            conn,
            {
                "kind": SUMMARY,
                "hospital_id": hospital.id,
                "begin_date": req.begin_date,
                "end_date": req.end_date,
                "visit_type": req.visit_type,
                "include_revoked": req.include_revoked,
                "matched": matched,
                "bill_count": count,
                "mismatch_count": 0 if matched else 1,
                "totals": totals.model_dump_json(),
                "counts": None,
                "created_at": created_at,
                "actor": actor,
                "request_id": request_id,
            },
        )
    return SummaryResult(
        reconciliation_id=reconciliation_id,
        hospital_code=hospital.code,
        begin_date=req.begin_date,
        end_date=req.end_date,
        visit_type=req.visit_type,
        include_revoked=req.include_revoked,
        matched=matched,
        hospital=theirs,
        service=ours,
        differences=differences,
        created_at=created_at,
    )


@dataclass
class DetailOutcome:
    reconciliation_id: int
    hospital_code: str
    begin_date: date
    end_date: date
    created_at: datetime
    service_bill_count: int
    hospital_bill_count: int
    counts: dict[str, int]
    rows: list[Row] = field(default_factory=list)

    @property
    def matched(self) -> bool:
        return self.counts["0"] == self.service_bill_count == self.hospital_bill_count

    @property
    def mismatches(self) -> list[Row]:
        return [r for r in self.rows if r[1] != "0"]


def _compare(
    book: BookBill,
    visit_id: str,
    id_number: str,
    medfee: Decimal,
    fund: Decimal,
    status: str,
    refd: int,
) -> list[dict[str, str]]:
    differences: list[dict[str, str]] = []
    if book.medfee_sumamt != medfee:
        differences.append(
            {
                "field": "medfee_sumamt",
                "hospital": signed_money_str(book.medfee_sumamt),
                "service": signed_money_str(medfee),
            }
        )
    if book.fund_pay_sumamt != fund:
        differences.append(
            {
                "field": "fund_pay_sumamt",
                "hospital": signed_money_str(book.fund_pay_sumamt),
                "service": signed_money_str(fund),
            }
        )
    if book.status != status:
        differences.append({"field": "status", "hospital": book.status, "service": status})
    if book.visit_id != visit_id:
        differences.append({"field": "visit_id", "hospital": book.visit_id, "service": visit_id})
    if book.id_number != id_number:
        differences.append(
            {
                "field": "id_number",
                "hospital": mask_id_number(book.id_number),
                "service": mask_id_number(id_number),
            }
        )
    if book.refd_setl_flag != refd:
        differences.append(
            {"field": "refd_setl_flag", "hospital": str(book.refd_setl_flag), "service": str(refd)}
        )
    return differences


async def reconcile_detail(
    db: Database,
    hospital: HospitalRef,
    begin: date,
    end: date,
    books: dict[str, BookBill],
    *,
    actor: str,
    request_id: str | None,
) -> DetailOutcome:
    """Compare the hospital's books (``books`` is consumed) with the service's bills of the
    period; store the reconciliation and its mismatching rows."""
    hospital_count = len(books)
    counts = dict.fromkeys(RESULT_CODES, 0)
    rows: list[Row] = []
    append = rows.append
    service_count = 0
    pop = books.pop
    async with db.read() as conn:
        async for batch in repository.stream_bills(conn, hospital.id, begin, end):
            service_count += len(batch)
            differences: list[dict[str, str]]
            for setl_id, visit_id, id_number, medfee, fund, status, refd, init in batch:
                book = pop(setl_id, None)
                if book is None:
                    result, differences = "1", []
                elif (
                    book.medfee_sumamt == medfee
                    and book.fund_pay_sumamt == fund
                    and book.status == status
                    and book.visit_id == visit_id
                    and book.id_number == id_number
                    and book.refd_setl_flag == refd
                ):
                    result, differences = "0", []
                else:
                    differences = _compare(book, visit_id, id_number, medfee, fund, status, refd)
                    result = "3"
                append((setl_id, result, visit_id, status, medfee, fund, differences, refd, init))
                counts[result] += 1
    for book in books.values():
        append(
            (
                book.setl_id,
                "2",
                book.visit_id,
                book.status,
                book.medfee_sumamt,
                book.fund_pay_sumamt,
                [],
                book.refd_setl_flag,
                None,
            )
        )
    counts["2"] += len(books)
    rows.sort(key=lambda r: r[0])
    outcome = DetailOutcome(
        reconciliation_id=0,
        hospital_code=hospital.code,
        begin_date=begin,
        end_date=end,
        created_at=utcnow(),
        service_bill_count=service_count,
        hospital_bill_count=hospital_count,
        counts=counts,
        rows=rows,
    )
    mismatches = outcome.mismatches
    async with db.write() as conn:
        outcome.reconciliation_id = await repository.insert_reconciliation(
            conn,
            {
                "kind": DETAIL,
                "hospital_id": hospital.id,
                "begin_date": begin,
                "end_date": end,
                "visit_type": None,
                "include_revoked": True,
                "matched": outcome.matched,
                "bill_count": len(rows),
                "mismatch_count": len(mismatches),
                "totals": None,
                "counts": json.dumps(counts, separators=(",", ":")),
                "created_at": outcome.created_at,
                "actor": actor,
                "request_id": request_id,
            },
        )
        await repository.insert_rows(
            conn,
            [
                {
                    "reconciliation_id": outcome.reconciliation_id,
                    "seq": seq,
                    "setl_id": r[0],
                    "result": r[1],
                    "visit_id": r[2],
                    "status": r[3],
                    "medfee_sumamt": r[4],
                    "fund_pay_sumamt": r[5],
                    "differences": dump_json(r[6]),
                    "refd_setl_flag": r[7],
                    "init_setl_id": r[8],
                }
                for seq, r in enumerate(mismatches, start=1)
            ],
        )
    return outcome


def _money(value: Decimal | None) -> str | None:
    # Every amount here is already on the fen (exponent -2), so str() gives "12.30"; a
    # reversal's "-12.30" (never "-0.00": the databases have no negative zero, and the
    # hospital's zeros are parsed as zero).
    return None if value is None else str(value)


def row_json(row: Row) -> dict[str, Any]:
    return {
        "setl_id": row[0],
        "result": row[1],
        "visit_id": row[2],
        "status": row[3],
        "medfee_sumamt": _money(row[4]),
        "fund_pay_sumamt": _money(row[5]),
        "differences": row[6],
        "refd_setl_flag": row[7],
        "init_setl_id": row[8],
    }


def detail_json(outcome: DetailOutcome, *, only_mismatches: bool) -> str:
    """The answer as JSON text, built directly (a 100,000-bill day makes 100,000 rows)."""
    rows = outcome.mismatches if only_mismatches else outcome.rows
    body = {
        "reconciliation_id": outcome.reconciliation_id,
        "hospital_code": outcome.hospital_code,
        "begin_date": outcome.begin_date.isoformat(),
        "end_date": outcome.end_date.isoformat(),
        "matched": outcome.matched,
        "service_bill_count": outcome.service_bill_count,
        "hospital_bill_count": outcome.hospital_bill_count,
        "counts": outcome.counts,
        "rows": [row_json(r) for r in rows],
        "created_at": timestamp_str(outcome.created_at),
    }
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"))


def _stored(row: AnyRow) -> ReconciliationOut:
    return ReconciliationOut(
        id=row.id,
        kind=row.kind,
        hospital_code=row.hospital_code,
        begin_date=row.begin_date,
        end_date=row.end_date,
        visit_type=row.visit_type,
        include_revoked=row.include_revoked,
        matched=row.matched,
        bill_count=row.bill_count,
        mismatch_count=row.mismatch_count,
        counts=json.loads(row.counts) if row.counts else None,
        totals=SummaryTotals.model_validate_json(row.totals) if row.totals else None,
        created_at=row.created_at,
        actor=row.actor,
    )


async def list_reconciliations(
    db: Database,
    *,
    hospital_id: int | None,
    matched: bool | None,
    before: int | None,
    limit: int,
) -> tuple[list[ReconciliationOut], int | None]:
    async with db.read() as conn:
        rows = await repository.page(
            conn, hospital_id=hospital_id, matched=matched, before=before, limit=limit + 1
        )
    more = len(rows) > limit
    items = [_stored(r) for r in rows[:limit]]
    return items, (items[-1].id if more and items else None)


async def get_reconciliation(
    db: Database, reconciliation_id: int, *, hospital_id: int | None
) -> ReconciliationDetailOut:
    """A stored reconciliation with its mismatching rows; a hospital sees its own only."""
    async with db.read() as conn:
        row = await repository.get(conn, reconciliation_id)
        if row is None or (hospital_id is not None and row.hospital_id != hospital_id):
            raise NotFound(f"No reconciliation {reconciliation_id}.")
        stored: Sequence[AnyRow] = await repository.rows_of(conn, reconciliation_id)
    head = _stored(row)
    return ReconciliationDetailOut.model_validate(
        {
            **head.model_dump(),
            "rows": [
                row_json(
                    (
                        r.setl_id,
                        r.result,
                        r.visit_id,
                        r.status,
                        r.medfee_sumamt,
                        r.fund_pay_sumamt,
                        json.loads(r.differences),
                        r.refd_setl_flag,
                        r.init_setl_id,
                    )
                )
                for r in stored
            ],
        }
    )
