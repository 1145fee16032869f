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
from typing import Any

from sqlalchemy import Select, bindparam, exists, literal, select

from settlement.accumulators.repository import KEY, accumulators, create_locked
from settlement.admissions.models import Admission
from settlement.audit.chain import chain_of
from settlement.audit.repository import ChainHead, head_columns
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
    in them (a plain read; ``None`` in a locked read: a settle or revoke moves the count in
    SQL and never reads it); ``admission``: the visit's admission record, if any;
    ``open_grants``: ``[(grant_id, balance)]`` of temporary-assistance grants valid on the
    bill date, oldest first; ``chain_head``: the end of the person's audit chain as the
    locked read saw it (``None`` in a plain read), where the bill's audit record is
    appended unless the chain moved meanwhile (:func:`settlement.audit.repository.append_row`
    checks)."""

    totals: dict[str, Decimal]
    bills: int | None = 0
    admission: AdmissionFacts | None = None
    open_grants: list[tuple[int, Decimal]] = field(default_factory=list)
    chain_head: ChainHead | None = None

    @property
    def grant_balance(self) -> Decimal:
        return sum((balance for _, balance in self.open_grants), ZERO)


_ADMISSION_KEY = (admissions.c.hospital_id == bindparam("hospital")) & (
    admissions.c.visit_id == bindparam("visit")
)
_FACTS = (
    exists().where(OPEN_GRANT).label("has_grant"),
    admissions.c.id_number,
    admissions.c.categories,
    admissions.c.registered,
    admissions.c.eligibility_on,
)
# One row whatever exists: the visit's admission record joined to nothing if missing.
_ONE = select(literal(1).label("one")).subquery()


def _person_year_statement(*, lock: bool) -> Select[tuple[object, ...]]:
    if lock:
        # The totals through a locking sub-select: it answers (NULL) when the person-year has
        # no row yet, and after waiting for another settle's lock it returns the row as that
        # settle left it. The other sub-selects read as of the statement's start: when the
        # row's stamp under the lock differs from the one they saw, the row moved meanwhile
        # and the caller reads again (holding the lock now, so nothing moves).
        def locked(column: Any) -> Any:
            return select(column).where(KEY).with_for_update().scalar_subquery()

        seen = select(accumulators.c.updated_at).where(KEY).scalar_subquery()
        return select(
            locked(accumulators.c.totals).label("totals"),
            *_FACTS,
            *head_columns(bindparam("chain")),
            locked(accumulators.c.updated_at).label("locked_stamp"),
            seen.label("seen_stamp"),
        ).select_from(_ONE.outerjoin(admissions, _ADMISSION_KEY))
    source = _ONE.outerjoin(accumulators, KEY).outerjoin(admissions, _ADMISSION_KEY)
    return select(accumulators.c.totals, accumulators.c.bills, *_FACTS).select_from(source)


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
    One statement (and one more when the person has open grants); a person-year's first
    bill creates its row, locked, with a second.
    """
    params: dict[str, object] = {
        "person": id_number,
        "acc_year": year,
        "grants_on": on,
        "hospital": hospital_id,
        "visit": visit_id,
    }
    if lock:
        params["chain"] = chain_of(id_number)
    row = (await conn.execute(_LOCK if lock else _READ, params)).one()
    totals = row.totals
    if lock and totals is None:
        if await create_locked(conn, id_number, year):
            totals = "{}"
        else:  # another bill created the row meanwhile (the insert waited for it)
            row = (await conn.execute(_LOCK, params)).one()
            totals = row.totals
    if lock and row.locked_stamp != row.seen_stamp:  # waited for another settle or revoke
        row = (await conn.execute(_LOCK, params)).one()
        totals = row.totals
    admission = None
    if row.id_number is not None:
        admission = AdmissionFacts(
            row.id_number, row.categories, bool(row.registered), row.eligibility_on
        )
    grants = await open_grants(conn, id_number, on, lock=lock) if row.has_grant else []
    return PersonYear(
        load_totals(totals),
        None if lock else int(row.bills or 0),
        admission,
        grants,
        ChainHead.of(row.head_seq, row.head_hash) if lock else None,
    )
