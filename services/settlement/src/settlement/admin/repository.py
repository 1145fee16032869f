"""Admin page queries: bill search across hospitals (bills and reversals) and one bill of any
hospital."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date

from sqlalchemy import ColumnElement, or_, select

from settlement.bills.models import BillRow
from settlement.database import AnyRow, Conn, table_of
from settlement.hospitals.models import Hospital

bills = table_of(BillRow)
hospitals = table_of(Hospital)

_MASKED = re.compile(r"^(\d{6})\*{1,12}(\d{3}[\dX])$")
_FULL_ID = re.compile(r"^\d{17}[\dX]$")
_REGION = re.compile(r"^\d{6}$")
_LAST_FOUR = re.compile(r"^\d{3}[\dX]$")
MAX_QUERY = 64


def search_conditions(query: str) -> list[ColumnElement[bool]]:
    """What a search box entry can mean: a ``setl_id`` (or its beginning), a ``visit_id``, or
    the visible part of a masked ID number: ``370305********1234``, the first six characters
    (the region) or the last four."""
    q = query.strip()
    conditions: list[ColumnElement[bool]] = [bills.c.setl_id == q, bills.c.visit_id == q]
    if len(q) >= 6:
        conditions.append(bills.c.setl_id.startswith(q, autoescape=True))
    upper = q.upper()
    masked = _MASKED.match(upper)
    if masked:
        head, tail = masked.groups()
        conditions.append(bills.c.id_number.like(f"{head}{'_' * 8}{tail}"))
    elif _FULL_ID.match(upper):
        conditions.append(bills.c.id_number == upper)
    elif _REGION.match(upper):
        conditions.append(bills.c.id_number.startswith(upper))
    elif _LAST_FOUR.match(upper):
        conditions.append(bills.c.id_number.endswith(upper))
    return conditions


_LISTED = (
    bills.c.setl_id,
    bills.c.visit_id,
    bills.c.visit_type,
    bills.c.id_number,
    bills.c.patient_name,
    bills.c.status,
    bills.c.setl_date,
    bills.c.aid_class,
    bills.c.medfee_sumamt,
    bills.c.fund_pay_sumamt,
    bills.c.psn_cash_pay,
    bills.c.refd_setl_flag,
    bills.c.init_setl_id,
    hospitals.c.code.label("hospital_code"),
    hospitals.c.name.label("hospital_name"),
)
"""The columns of a bill (or a reversal record) in the page's lists."""


async def search_bills(conn: Conn, query: str, limit: int = 50) -> Sequence[AnyRow]:
    q = query.strip()
    if not q or len(q) > MAX_QUERY:
        return []
    stmt = (
        select(*_LISTED)
        .join(hospitals, hospitals.c.id == bills.c.hospital_id)
        .where(or_(*search_conditions(q)))
        .order_by(bills.c.setl_time.desc())
        .limit(limit)
    )
    return (await conn.execute(stmt)).all()


async def bills_of_period(
    conn: Conn,
    hospital_code: str,
    begin: date,
    end: date,
    *,
    visit_type: str | None,
    include_revoked: bool,
    limit: int,
) -> Sequence[AnyRow]:
    """A hospital's records of the books in a period, as a summary reconciliation counted
    them: the bills settled and the reversals booked in it (``include_revoked``: the bills
    only), in the order they were made."""
    conditions: list[ColumnElement[bool]] = [
        hospitals.c.code == hospital_code,
        bills.c.setl_date >= begin,
        bills.c.setl_date <= end,
    ]
    if visit_type is not None:
        conditions.append(bills.c.visit_type == visit_type)
    if include_revoked:
        conditions.append(bills.c.refd_setl_flag == 0)
    stmt = (
        select(*_LISTED)
        .join(hospitals, hospitals.c.id == bills.c.hospital_id)
        .where(*conditions)
        .order_by(bills.c.setl_time, bills.c.setl_id)
        .limit(limit)
    )
    return (await conn.execute(stmt)).all()
