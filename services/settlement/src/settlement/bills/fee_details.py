"""Uploaded fee detail lines: add a batch, withdraw, read the open ones, settle and reopen."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import bindparam, delete, func, insert, select, update

from settlement.bills.fee_detail_models import FeeDetailRow
from settlement.database import AnyRow, Conn, table_of

fee_details = table_of(FeeDetailRow)

_VISIT = (fee_details.c.hospital_id == bindparam("hospital")) & (
    fee_details.c.visit_id == bindparam("visit")
)
_OPEN = _VISIT & fee_details.c.setl_id.is_(None)

_LINES = select(fee_details).where(_VISIT).order_by(fee_details.c.seq)
_OPEN_LINES = select(fee_details.c.item).where(_OPEN).order_by(fee_details.c.seq)
_OPEN_SERIALS = select(fee_details.c.feedetl_sn).where(
    _OPEN, fee_details.c.feedetl_sn.in_(bindparam("serials", expanding=True))
)
_ANY_SERIALS = select(fee_details.c.feedetl_sn, fee_details.c.setl_id).where(
    _VISIT, fee_details.c.feedetl_sn.in_(bindparam("serials", expanding=True))
)
_NEXT_SEQ = select(func.coalesce(func.max(fee_details.c.seq), 0)).where(_VISIT)
_COUNT_OPEN = select(func.count()).select_from(fee_details).where(_OPEN)
_INSERT = insert(fee_details)
_WITHDRAW_ALL = delete(fee_details).where(_OPEN)
_WITHDRAW = delete(fee_details).where(
    _OPEN, fee_details.c.feedetl_sn.in_(bindparam("serials", expanding=True))
)
_SETTLE = update(fee_details).where(_OPEN).values(setl_id=bindparam("setl"))
_REOPEN = update(fee_details).where(fee_details.c.setl_id == bindparam("setl")).values(setl_id=None)


def _visit(hospital_id: int, visit_id: str) -> dict[str, Any]:
    return {"hospital": hospital_id, "visit": visit_id}


async def lines(conn: Conn, hospital_id: int, visit_id: str) -> Sequence[AnyRow]:
    """Every uploaded line of the visit, in upload order."""
    return (await conn.execute(_LINES, _visit(hospital_id, visit_id))).all()


async def open_items(conn: Conn, hospital_id: int, visit_id: str) -> list[str]:
    """The lines not settled yet (JSON text each), in upload order."""
    return (await conn.execute(_OPEN_LINES, _visit(hospital_id, visit_id))).scalars()


async def count_open(conn: Conn, hospital_id: int, visit_id: str) -> int:
    return int((await conn.execute(_COUNT_OPEN, _visit(hospital_id, visit_id))).scalar_one())


async def existing_serials(
    conn: Conn, hospital_id: int, visit_id: str, serials: Sequence[str]
) -> dict[str, str | None]:
    """Which of these serials the visit already has: ``{feedetl_sn: setl_id or None}``."""
    params = {**_visit(hospital_id, visit_id), "serials": list(serials)}
    rows = (await conn.execute(_ANY_SERIALS, params)).all()
    return {r.feedetl_sn: r.setl_id for r in rows}


async def next_seq(conn: Conn, hospital_id: int, visit_id: str) -> int:
    return int((await conn.execute(_NEXT_SEQ, _visit(hospital_id, visit_id))).scalar_one()) + 1


async def insert_lines(conn: Conn, rows: Sequence[dict[str, Any]]) -> None:
    await conn.execute(_INSERT, rows)


async def withdraw(
    conn: Conn, hospital_id: int, visit_id: str, serials: Sequence[str] | None
) -> list[str]:
    """Delete open lines (all of them when ``serials`` is None); the serials withdrawn."""
    params: dict[str, Any] = _visit(hospital_id, visit_id)
    if serials is None:
        found = [
            r.feedetl_sn for r in await lines(conn, hospital_id, visit_id) if r.setl_id is None
        ]
        await conn.execute(_WITHDRAW_ALL, params)
        return found
    params["serials"] = list(serials)
    found = (await conn.execute(_OPEN_SERIALS, params)).scalars()
    if found:
        await conn.execute(_WITHDRAW, {**params, "serials": found})
    return found


async def settle_open(conn: Conn, hospital_id: int, visit_id: str, setl_id: str) -> None:
    """Mark the visit's open lines as settled by ``setl_id``."""
    await conn.execute(_SETTLE, {**_visit(hospital_id, visit_id), "setl": setl_id})


async def reopen(conn: Conn, setl_id: str) -> None:
    """A revoked bill's lines are open again (to be settled anew)."""
    await conn.execute(_REOPEN, {"setl": setl_id})
