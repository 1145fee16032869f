"""The inputs of a bill (计算依据): the person-year's running totals, the visit's admission
record and the open grants, read together — locked for a settle or a revoke, plain for a
preview or an answer.

Preview, settle, revoke and the accumulators answer all read through :func:`person_year`, so
what a preview shows is what a settle computes on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from sqlalchemy import Select, bindparam, exists, literal, select

from settlement.accumulators.repository import KEY, accumulators, create
from settlement.admissions.models import Admission
from settlement.database import Conn, load_totals, table_of
from settlement.grants.repository import OPEN_GRANT, open_grants

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
        return select(*_COLUMNS).select_from(source).where(KEY).with_for_update(of=accumulators)
    # A read answers for a person-year that has no row yet: one row, whatever exists.
    one = select(literal(1).label("one")).subquery()
    source = one.outerjoin(accumulators, KEY).outerjoin(admissions, _ADMISSION_KEY)
    return select(*_COLUMNS).select_from(source)


# Built once: the settle path only binds values.
_LOCK = _person_year_statement(lock=True)
_READ = _person_year_statement(lock=False)


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
        await create(conn, id_number, year)
        row = (await conn.execute(stmt, params)).one()
    admission = None
    if row[3] is not None:
        admission = AdmissionFacts(row[3], row[4], bool(row[5]), row[6])
    grants = await open_grants(conn, id_number, on, lock=lock) if row[2] else []
    return PersonYear(load_totals(row[0]), int(row[1] or 0), admission, grants)
