"""The person-year (年度累计): running totals, the visit's admission record and open grants,
read together for a bill — locked for a settle, plain for a preview or a query.

Preview, settle, the accumulators answer and the admission answer all read through
:func:`person_year`, so what a preview shows is what a settle computes on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from sqlalchemy import (
    BindParameter,
    Select,
    bindparam,
    exists,
    literal,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from settlement.accumulators.models import Accumulator
from settlement.admissions.models import Admission
from settlement.database import Conn, dump_totals, load_totals, table_of, utcnow
from settlement.grants.repository import OPEN_GRANT, open_grants

accumulators = table_of(Accumulator)
admissions = table_of(Admission)

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class AdmissionFacts:
    """The eligibility an admission record holds for its visit."""

    id_number: str
    categories: str  # JSON list
    registered: bool
    eligibility_on: date


@dataclass(frozen=True, slots=True)
class PersonYear:
    """What a bill of a person-year is computed on.

    ``totals``: the engine's running totals (yuan, exact); ``bills``: settled bills counted
    in them; ``admission``: the visit's admission record, if any; ``open_grants``:
    ``[(grant_id, balance)]`` of temporary-assistance grants valid on the bill date, oldest
    first."""

    totals: dict[str, Decimal]
    bills: int = 0
    admission: AdmissionFacts | None = None
    open_grants: list[tuple[int, Decimal]] = field(default_factory=list)

    @property
    def grant_balance(self) -> Decimal:
        return sum((balance for _, balance in self.open_grants), ZERO)


_ID: BindParameter[str] = bindparam("person")
_YEAR: BindParameter[int] = bindparam("acc_year")
_KEY = (accumulators.c.id_number == _ID) & (accumulators.c.year == _YEAR)
_ADMISSION_KEY = (admissions.c.hospital_id == bindparam("hospital")) & (
    admissions.c.visit_id == bindparam("visit")
)
_COLUMNS = (
    accumulators.c.totals,
    accumulators.c.bills,
    exists().where(OPEN_GRANT).label("has_grant"),
    admissions.c.id_number,
    admissions.c.categories,
    admissions.c.registered,
    admissions.c.eligibility_on,
)


def _person_year_statement(*, lock: bool) -> Select[tuple[object, ...]]:
    if lock:
        # The person-year row exists (created first), so it drives the join and is locked.
        source = accumulators.outerjoin(admissions, _ADMISSION_KEY)
        return select(*_COLUMNS).select_from(source).where(_KEY).with_for_update(of=accumulators)
    # A read answers for a person-year that has no row yet: one row, whatever exists.
    one = select(literal(1).label("one")).subquery()
    source = one.outerjoin(accumulators, _KEY).outerjoin(admissions, _ADMISSION_KEY)
    return select(*_COLUMNS).select_from(source)


# Built once: the settle path only binds values.
_LOCK = _person_year_statement(lock=True)
_READ = _person_year_statement(lock=False)
_CREATE = {
    "postgresql": postgresql.insert(accumulators).on_conflict_do_nothing(),
    "sqlite": sqlite.insert(accumulators).on_conflict_do_nothing(),
}
_STORE = (
    update(accumulators)
    .where(_KEY)
    .values(
        totals=bindparam("new_totals"),
        bills=accumulators.c.bills + bindparam("bill_delta"),
        updated_at=bindparam("now"),
    )
)


async def person_year(
    conn: Conn,
    id_number: str,
    year: int,
    *,
    on: date,
    hospital_id: int | None = None,
    visit_id: str | None = None,
    lock: bool,
) -> PersonYear:
    """The person-year for a bill dated ``on`` (grants valid that day) of a hospital's visit.

    ``lock``: inside a write transaction, lock the running-total row (created if missing)
    and the open grants; concurrent bills of the person queue here. Otherwise a plain read.
    """
    params = {
        "person": id_number,
        "acc_year": year,
        "grants_on": on,
        "hospital": hospital_id,
        "visit": visit_id,
    }
    stmt = _LOCK if lock else _READ
    row = (await conn.execute(stmt, params)).first()
    if row is None:  # only when locking a person-year seen for the first time
        await conn.execute(
            _CREATE[conn.dialect],
            {
                "id_number": id_number,
                "year": year,
                "totals": "{}",
                "bills": 0,
                "updated_at": utcnow(),
            },
        )
        row = (await conn.execute(stmt, params)).one()
    admission = None
    if row[3] is not None:
        admission = AdmissionFacts(row[3], row[4], bool(row[5]), row[6])
    grants = await open_grants(conn, id_number, on, lock=lock) if row[2] else []
    return PersonYear(load_totals(row[0]), int(row[1] or 0), admission, grants)


async def store(
    conn: Conn, id_number: str, year: int, totals: dict[str, Decimal], bills: int
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
