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
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from json.encoder import encode_basestring
from operator import itemgetter
from typing import Any

from settlement.database import AnyRow, Database, dump_json, utcnow
from settlement.hospitals.repository import HospitalRef
from settlement.reconciliation import repository
from settlement.reconciliation.models import DETAIL, SUMMARY
from settlement.reconciliation.parsing import (
    FUND_PAY_SUMAMT,
    ID_NUMBER,
    MEDFEE_SUMAMT,
    REFD_SETL_FLAG,
    SETL_ID,
    STATUS,
    VISIT_ID,
    BookBill,
)
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
    Sequence[dict[str, str]],
    int,
    str | None,
]
"""(setl_id, result, visit_id, status, medfee_sumamt, fund_pay_sumamt, differences,
refd_setl_flag, init_setl_id); ``differences`` is the empty tuple when nothing differs (a row
of atoms only, which the garbage collector stops tracking)."""
NO_DIFFERENCES: tuple[dict[str, str], ...] = ()


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


def _compare(book: BookBill, record: Sequence[Any]) -> list[dict[str, str]]:
    """What differs between the hospital's record and the service's (``record``: the values
    of :func:`repository.stream_bills`, in the order of a :data:`BookBill`)."""
    differences: list[dict[str, str]] = []
    for name, at, shown in _COMPARED:
        if book[at] != record[at]:
            differences.append(
                {"field": name, "hospital": shown(book[at]), "service": shown(record[at])}
            )
    return differences


_COMPARED: tuple[tuple[str, int, Any], ...] = (
    ("medfee_sumamt", MEDFEE_SUMAMT, signed_money_str),
    ("fund_pay_sumamt", FUND_PAY_SUMAMT, signed_money_str),
    ("status", STATUS, str),
    ("visit_id", VISIT_ID, str),
    ("id_number", ID_NUMBER, mask_id_number),
    ("refd_setl_flag", REFD_SETL_FLAG, str),
)
"""The fields compared, in the order ``differences`` lists them, and how each is shown."""


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
    differences: Sequence[dict[str, str]]
    async with db.read() as conn:
        async for batch in repository.stream_bills(conn, hospital.id, begin, end):
            service_count += len(batch)
            for record in batch:
                setl_id, visit_id, _, medfee, fund, status, refd, init = record
                book = pop(setl_id, None)
                if book is None:
                    result, differences = "1", NO_DIFFERENCES
                elif book == record[:7]:
                    result, differences = "0", NO_DIFFERENCES
                else:
                    result, differences = "3", _compare(book, record)
                append((setl_id, result, visit_id, status, medfee, fund, differences, refd, init))
                counts[result] += 1
    rows.extend(
        (
            book[SETL_ID],
            "2",
            book[VISIT_ID],
            book[STATUS],
            book[MEDFEE_SUMAMT],
            book[FUND_PAY_SUMAMT],
            NO_DIFFERENCES,
            book[REFD_SETL_FLAG],
            None,
        )
        for book in books.values()
    )
    counts["2"] += len(books)
    rows.sort(key=itemgetter(0))
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
            [  # repository.ROW_COLUMNS
                (outcome.reconciliation_id, seq, *r[:6], dump_json(r[6]), r[7], r[8])
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


_ROW_JSON = (
    '{"setl_id":%s,"result":%s,"visit_id":%s,"status":%s,"medfee_sumamt":%s,'
    '"fund_pay_sumamt":%s,"differences":%s,"refd_setl_flag":%d,"init_setl_id":%s}'
)


def _json_texts(values: Sequence[str | Decimal | None]) -> Iterable[str]:
    """Each value as ``json.dumps(..., ensure_ascii=False)`` writes it: a string, a
    ``Decimal`` as its string (amounts are on the fen: ``"12.30"``), None as null."""
    if None in values:
        return ["null" if v is None else encode_basestring(str(v)) for v in values]
    return map(encode_basestring, map(str, values))


def _rows_json_text(rows: Sequence[Row]) -> Iterator[str]:
    """Each row's :func:`row_json` as compact JSON text, written column by column (C calls
    only for a matching row) rather than as a dict per row."""
    # Each column by itemgetter: zip(*rows) would make an iterator object per row.
    setl_id, result, visit_id, status, medfee, fund, differences, refd, init = (
        list(map(itemgetter(i), rows)) for i in range(9)
    )
    dumps = json.dumps
    return map(
        _ROW_JSON.__mod__,
        zip(
            _json_texts(setl_id),
            _json_texts(result),
            _json_texts(visit_id),
            _json_texts(status),
            _json_texts(medfee),
            _json_texts(fund),
            [
                dumps(d, ensure_ascii=False, separators=(",", ":")) if d else "[]"
                for d in differences
            ],
            refd,
            _json_texts(init),
            strict=True,
        ),
    )


def detail_json(outcome: DetailOutcome, *, only_mismatches: bool) -> str:
    """The answer as compact JSON text (``DetailResult``), written row by row as text: a
    100,000-bill day makes 100,000 rows, and text is neither a dict per row nor work for the
    garbage collector. The same text as ``json.dumps`` of the answer with :func:`row_json`
    rows (``ensure_ascii=False``, separators ``,`` and ``:``)."""
    rows = outcome.mismatches if only_mismatches else outcome.rows
    head = {
        "reconciliation_id": outcome.reconciliation_id,
        "hospital_code": outcome.hospital_code,
        "begin_date": outcome.begin_date.isoformat(),
        "end_date": outcome.end_date.isoformat(),
        "matched": outcome.matched,
        "service_bill_count": outcome.service_bill_count,
        "hospital_bill_count": outcome.hospital_bill_count,
        "counts": outcome.counts,
    }
    start = json.dumps(head, ensure_ascii=False, separators=(",", ":"))[:-1]
    created_at = encode_basestring(timestamp_str(outcome.created_at))
    return f'{start},"rows":[{",".join(_rows_json_text(rows))}],"created_at":{created_at}}}'


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
