"""Grant rows: open balances (locked while a bill draws on them) and their uses by bills."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, bindparam, insert, select, update

from settlement.database import AnyRow, Conn, table_of
from settlement.grants.models import Grant, GrantUse

grants = table_of(Grant)
grant_uses = table_of(GrantUse)

_GRANT_COLUMNS = (
    grants.c.id,
    grants.c.id_number,
    grants.c.amount,
    grants.c.balance,
    grants.c.valid_from,
    grants.c.valid_to,
    grants.c.reference,
    grants.c.created_at,
)


OPEN_GRANT: ColumnElement[bool] = (
    (grants.c.id_number == bindparam("person"))
    & (grants.c.balance > 0)
    & (grants.c.valid_from <= bindparam("grants_on"))
    & (grants.c.valid_to >= bindparam("grants_on"))
)
"""The one definition of an open grant: the person's (``:person``), with a balance, valid on
``:grants_on``."""

_OPEN = (
    select(grants.c.id, grants.c.balance)
    .where(OPEN_GRANT)
    .order_by(grants.c.valid_from, grants.c.id)
)
_LOCK_OPEN = _OPEN.with_for_update()


async def open_grants(
    conn: Conn, id_number: str, on: date, *, lock: bool
) -> list[tuple[int, Decimal]]:
    """Open grants valid on ``on``, oldest first: ``[(grant_id, balance)]``; locked when
    ``lock`` (one order everywhere: no deadlocks)."""
    stmt = _LOCK_OPEN if lock else _OPEN
    rows = (await conn.execute(stmt, {"person": id_number, "grants_on": on})).all()
    return [(int(r[0]), r[1]) for r in rows]


def split(amount: Decimal, open_grants: Sequence[tuple[int, Decimal]]) -> list[tuple[int, Decimal]]:
    """Take ``amount`` from the grants in order (oldest first): ``[(grant_id, taken)]``."""
    uses: list[tuple[int, Decimal]] = []
    left = amount
    for grant_id, balance in open_grants:
        if left <= 0:
            break
        take = balance if balance < left else left
        if take > 0:
            uses.append((grant_id, take))
            left -= take
    if left > 0:
        raise RuntimeError("temporary assistance larger than the open grant balances")
    return uses


_DRAW = (
    update(grants)
    .where(grants.c.id == bindparam("gid"))
    .values(balance=grants.c.balance - bindparam("taken", type_=grants.c.balance.type))
)
_GIVE_BACK = (
    update(grants)
    .where(grants.c.id == bindparam("gid"))
    .values(balance=grants.c.balance + bindparam("taken", type_=grants.c.balance.type))
)


async def draw(conn: Conn, setl_id: str, uses: Sequence[tuple[int, Decimal]]) -> None:
    await conn.execute(
        insert(grant_uses),
        [{"setl_id": setl_id, "grant_id": gid, "amount": taken} for gid, taken in uses],
    )
    await conn.execute(_DRAW, [{"gid": gid, "taken": taken} for gid, taken in uses])


async def give_back(conn: Conn, setl_id: str) -> list[tuple[int, Decimal]]:
    """Return what a revoked bill took from its grants; ``[(grant_id, amount)]``."""
    rows = (
        await conn.execute(
            select(grant_uses.c.grant_id, grant_uses.c.amount)
            .where(grant_uses.c.setl_id == setl_id)
            .order_by(grant_uses.c.grant_id)
        )
    ).all()
    uses = [(int(r[0]), r[1]) for r in rows]
    if uses:
        await conn.execute(_GIVE_BACK, [{"gid": gid, "taken": taken} for gid, taken in uses])
    return uses


async def insert_grant(conn: Conn, values: dict[str, Any]) -> int:
    result = await conn.execute(insert(grants).values(**values).returning(grants.c.id))
    return int(result.scalar_one())


async def reference_exists(conn: Conn, reference: str) -> bool:
    row = (await conn.execute(select(grants.c.id).where(grants.c.reference == reference))).first()
    return row is not None


async def for_person(conn: Conn, id_number: str) -> Sequence[AnyRow]:
    return (
        await conn.execute(
            select(*_GRANT_COLUMNS)
            .where(grants.c.id_number == id_number)
            .order_by(grants.c.valid_from, grants.c.id)
        )
    ).all()
