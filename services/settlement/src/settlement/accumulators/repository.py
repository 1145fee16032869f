"""The person-year running-total row: locked, read and moved inside settle / revoke
transactions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import BindParameter, bindparam, exists, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from settlement.accumulators.models import Accumulator
from settlement.admissions.models import Admission
from settlement.database import AnyRow, dump_totals, load_totals, table_of, utcnow
from settlement.grants.models import Grant

accumulators = table_of(Accumulator)
grants = table_of(Grant)
admissions = table_of(Admission)


@dataclass(frozen=True, slots=True)
class AdmissionFacts:
    """The eligibility an admission record holds for its visit."""

    id_number: str
    categories: str  # JSON list
    registered: bool
    eligibility_on: date

    @classmethod
    def of(cls, row: AnyRow) -> AdmissionFacts:
        return cls(row.id_number, row.categories, bool(row.registered), row.eligibility_on)


_ID: BindParameter[str] = bindparam("person")
_YEAR: BindParameter[int] = bindparam("acc_year")
_ON: BindParameter[date] = bindparam("grants_on")
_KEY = (accumulators.c.id_number == _ID) & (accumulators.c.year == _YEAR)

# Built once: the settle path then only binds values (SQLAlchemy's statement cache hits).
_OPEN_GRANT = exists().where(
    grants.c.id_number == _ID,
    grants.c.balance > 0,
    grants.c.valid_from <= _ON,
    grants.c.valid_to >= _ON,
)
_LOCK_WITH_GRANTS = (
    select(accumulators.c.totals, _OPEN_GRANT).where(_KEY).with_for_update(of=accumulators)
)
_LOCK = (
    select(accumulators.c.totals, accumulators.c.bills).where(_KEY).with_for_update(of=accumulators)
)
_LOCK_FOR_SETTLE = (
    select(
        accumulators.c.totals,
        _OPEN_GRANT,
        admissions.c.id_number,
        admissions.c.categories,
        admissions.c.registered,
        admissions.c.eligibility_on,
    )
    .select_from(
        accumulators.outerjoin(
            admissions,
            (admissions.c.hospital_id == bindparam("hospital"))
            & (admissions.c.visit_id == bindparam("visit")),
        )
    )
    .where(_KEY)
    .with_for_update(of=accumulators)
)
_READ = select(accumulators.c.totals, accumulators.c.bills).where(_KEY)
_GRANT_EXISTS = select(_OPEN_GRANT)
_STORE = (
    update(accumulators)
    .where(_KEY)
    .values(
        totals=bindparam("new_totals"),
        bills=accumulators.c.bills + bindparam("bill_delta"),
        updated_at=bindparam("now"),
    )
)
_CREATE = {
    "postgresql": postgresql.insert(accumulators).on_conflict_do_nothing(),
    "sqlite": sqlite.insert(accumulators).on_conflict_do_nothing(),
}


async def lock(
    conn: AsyncConnection, id_number: str, year: int, *, grants_on: date | None = None
) -> tuple[dict[str, Decimal], bool]:
    """Lock the person-year row (creating it if needed) and return its totals, plus whether
    the person holds a grant with a balance valid on ``grants_on`` (one round trip on the
    common path)."""
    params: dict[str, object] = {"person": id_number, "acc_year": year}
    stmt = _LOCK
    if grants_on is not None:
        stmt = _LOCK_WITH_GRANTS
        params["grants_on"] = grants_on
    row = (await conn.execute(stmt, params)).first()
    if row is None:
        await conn.execute(
            _CREATE[conn.dialect.name],
            {
                "id_number": id_number,
                "year": year,
                "totals": "{}",
                "bills": 0,
                "updated_at": utcnow(),
            },
        )
        row = (await conn.execute(stmt, params)).one()
    has_grant = bool(row[1]) if grants_on is not None else False
    return load_totals(row[0]), has_grant


async def lock_for_settle(
    conn: AsyncConnection,
    id_number: str,
    year: int,
    *,
    grants_on: date,
    hospital_id: int,
    visit_id: str,
) -> tuple[dict[str, Decimal], bool, AdmissionFacts | None]:
    """:func:`lock`, and in the same round trip the visit's admission record (if any)."""
    params = {
        "person": id_number,
        "acc_year": year,
        "grants_on": grants_on,
        "hospital": hospital_id,
        "visit": visit_id,
    }
    row = (await conn.execute(_LOCK_FOR_SETTLE, params)).first()
    if row is None:
        await conn.execute(
            _CREATE[conn.dialect.name],
            {
                "id_number": id_number,
                "year": year,
                "totals": "{}",
                "bills": 0,
                "updated_at": utcnow(),
            },
        )
        row = (await conn.execute(_LOCK_FOR_SETTLE, params)).one()
    admission = AdmissionFacts(row[2], row[3], bool(row[4]), row[5]) if row[2] is not None else None
    return load_totals(row[0]), bool(row[1]), admission


async def store(
    conn: AsyncConnection, id_number: str, year: int, totals: dict[str, Decimal], bills: int
) -> None:
    """Write the moved totals; ``bills`` is +1 on settle, −1 on revoke."""
    await conn.execute(
        _STORE,
        {
            "person": id_number,
            "acc_year": year,
            "new_totals": dump_totals(totals),
            "bill_delta": bills,
            "now": utcnow(),
        },
    )


async def read(
    conn: AsyncConnection, id_number: str, year: int, *, grants_on: date | None = None
) -> tuple[dict[str, Decimal], int, bool]:
    """Totals, settled-bill count and open-grant flag, without a lock (preview, queries)."""
    row = (await conn.execute(_READ, {"person": id_number, "acc_year": year})).first()
    has_grant = False
    if grants_on is not None:
        result = await conn.execute(_GRANT_EXISTS, {"person": id_number, "grants_on": grants_on})
        has_grant = bool(result.scalar())
    if row is None:
        return {}, 0, has_grant
    return load_totals(row[0]), int(row[1]), has_grant
