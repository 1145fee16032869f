"""The person-year running-total row (年度累计): created, locked and moved by settles and
revokes; read plainly for answers."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import BindParameter, Update, bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite

from settlement.accumulators.models import Accumulator
from settlement.database import Conn, dump_totals, load_totals, table_of, utcnow

accumulators = table_of(Accumulator)

PERSON: BindParameter[str] = bindparam("person")
YEAR: BindParameter[int] = bindparam("acc_year")
KEY = (accumulators.c.id_number == PERSON) & (accumulators.c.year == YEAR)
"""The person-year row: ``:person`` and ``:acc_year``."""

CREATE = {
    "postgresql": postgresql.insert(accumulators)
    .on_conflict_do_nothing()
    .returning(accumulators.c.id_number),
    "sqlite": sqlite.insert(accumulators)
    .on_conflict_do_nothing()
    .returning(accumulators.c.id_number),
}
_TOTALS = select(accumulators.c.totals).where(KEY)
_STORE = (
    update(accumulators)
    .where(KEY)
    .values(
        totals=bindparam("new_totals"),
        bills=accumulators.c.bills + bindparam("bill_delta"),
        updated_at=bindparam("now"),
    )
)
_MOVED = _STORE.returning(accumulators.c.bills)


async def create_locked(conn: Conn, id_number: str, year: int) -> bool:
    """The person-year row with empty totals, unless it exists: ``True`` when this
    transaction created it (and so holds its lock until commit), ``False`` when it was there
    already (another transaction's insert is waited for first)."""
    created = await conn.execute(
        CREATE[conn.dialect],
        {"id_number": id_number, "year": year, "totals": "{}", "bills": 0, "updated_at": utcnow()},
    )
    return created.first() is not None


async def totals(conn: Conn, id_number: str, year: int) -> dict[str, Decimal]:
    """The person-year's running totals, unlocked (``{}`` before the first bill)."""
    raw = (await conn.execute(_TOTALS, {"person": id_number, "acc_year": year})).scalar()
    return load_totals(raw)


def moved(
    id_number: str, year: int, totals: dict[str, Decimal], bills: int
) -> tuple[Update, dict[str, Any]]:
    """The statement writing the moved totals (it returns the new count of bills) and its
    parameters; ``bills`` is +1 on settle, −1 on revoke."""
    params = {
        "person": id_number,
        "acc_year": year,
        "new_totals": dump_totals(totals),
        "bill_delta": bills,
        "now": utcnow(),
    }
    return _MOVED, params


async def store(
    conn: Conn, id_number: str, year: int, totals: dict[str, Decimal], bills: int
) -> None:
    """Write the moved totals; ``bills`` is +1 on settle, −1 on revoke."""
    await conn.execute(_STORE, moved(id_number, year, totals, bills)[1])
