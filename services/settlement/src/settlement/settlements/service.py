"""Pre-settle, settle, revoke and query: load → compute (pure engine) → persist.

The registry is asked first (cached; outside any transaction). Then a settle is one
transaction: lock the person-year running-total row (the same round trip reads the visit's
admission record and whether the person holds an open grant), compute the bill on the totals
read under the lock, write the bill, its fund rows, the moved totals and the audit record
(on PostgreSQL in a single statement), draw on temporary-assistance grants, commit. The
``Idempotency-Key`` and "one settled bill per visit" are unique indexes, so a retry that
races the original can never make a second bill; it finds the first one instead.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any, Literal, cast

from pydantic import TypeAdapter

from settlement.accumulators import repository as accumulators
from settlement.accumulators.repository import AdmissionFacts
from settlement.admissions import repository as admissions
from settlement.audit.repository import audit_row
from settlement.context import AppContext
from settlement.database import dump_json, load_totals, utcnow
from settlement.engine import (
    SETLINFO_FIELDS,
    TEMPORARY_ASSISTANCE_KEY,
    Bill,
    BillInputError,
    FeeItem,
    NoPolicyInForce,
    Policy,
    apply_deltas,
    compute,
)
from settlement.grants import repository as grants
from settlement.hospitals.repository import HospitalRef
from settlement.registry_client import Eligibility, RegistryUnavailable
from settlement.schemas import PatientIn, PatientOut
from settlement.settlements import repository
from settlement.settlements.models import REVOKED, SETTLED
from settlement.settlements.schemas import (
    BillOut,
    FeeItemIn,
    FundRowOut,
    SettleRequest,
    VisitIn,
)
from shared.errors import Conflict, NotFound, Unprocessable
from shared.idnumber import mask_id_number
from shared.money import FEN, MAX_AMOUNT, ZERO, parse_money
from shared.observability import record_revoke, record_settlement

log = logging.getLogger("settlement.settlements")


@dataclass(frozen=True, slots=True)
class UsedEligibility:
    """The eligibility a bill is computed with, and where it came from."""

    categories: tuple[str, ...]
    registered: bool
    on: date
    source: Literal["admission", "settlement"]


@dataclass(frozen=True, slots=True)
class SettleResult:
    bill: BillOut
    created: bool


@dataclass(frozen=True, slots=True)
class RegistryAnswer:
    """What the registry said about the patient on the admission date, or why it could not
    answer (kept, not raised: a visit with an admission record does not need it)."""

    answer: Eligibility | None
    error: RegistryUnavailable | None = None


async def ask_registry(
    ctx: AppContext, patient: PatientIn, visit: VisitIn, request_id: str | None
) -> RegistryAnswer:
    try:
        answer = await ctx.registry.eligibility(
            patient.id_number, visit.admitted_on, request_id=request_id
        )
    except RegistryUnavailable as exc:
        return RegistryAnswer(None, exc)
    return RegistryAnswer(answer)


def choose_eligibility(
    admission: AdmissionFacts | None,
    registry: RegistryAnswer,
    patient: PatientIn,
    visit: VisitIn,
) -> UsedEligibility:
    """The eligibility recorded at admission for this visit, else the registry's answer for
    the admission date (visit date for outpatients)."""
    if admission is not None:
        if admission.id_number != patient.id_number:
            raise Conflict(
                f"Visit {visit.visit_id!r} was admitted for another patient "
                f"({mask_id_number(admission.id_number)})."
            )
        return UsedEligibility(
            categories=tuple(json.loads(admission.categories)),
            registered=admission.registered,
            on=admission.eligibility_on,
            source="admission",
        )
    if registry.error is not None:
        raise registry.error
    answer = registry.answer
    return UsedEligibility(
        categories=answer.categories if answer is not None else (),
        registered=answer is not None,
        on=visit.admitted_on,
        source="settlement",
    )


def policy_for(ctx: AppContext, on: date, field: str) -> Policy:
    try:
        return ctx.policies.for_date(on)
    except NoPolicyInForce as exc:
        raise Unprocessable.field(field, str(exc)) from None


def fee_items(req: SettleRequest) -> list[FeeItem]:
    return [
        FeeItem(
            code=i.code,
            name=i.name,
            category=i.category,
            unit_price=i.unit_price,
            quantity=i.quantity,
            amount=i.amount,
            self_pay_ratio=i.self_pay_ratio,
            price_cap=i.price_cap,
        )
        for i in req.items
    ]


def request_hash(req: SettleRequest) -> str:
    """Fingerprint of the validated request: the same bill sent again (even with other JSON
    formatting) has the same hash: the SHA-256 of ``req.model_dump_json()``'s UTF-8 bytes,
    taken from the serializer as bytes."""
    return hashlib.sha256(req.__pydantic_serializer__.to_json(req)).hexdigest()


def new_setl_id(now: datetime) -> str:
    """Time-ordered and unique: ``S`` + UTC timestamp to the microsecond + 6 random hex."""
    return f"S{now.strftime('%Y%m%d%H%M%S%f')}{secrets.token_hex(3)}"


def _compute(
    policy: Policy,
    hospital: HospitalRef,
    req: SettleRequest,
    aid_class: str,
    totals: dict[str, Decimal],
    grant_balance: Decimal,
) -> Bill:
    try:
        return compute(
            policy,
            hospital_level=hospital.level,
            visit_type=req.visit.type,
            aid_class=cast(Any, aid_class),
            items=fee_items(req),
            totals=totals,
            grant_balance=grant_balance,
        )
    except BillInputError as exc:
        field = exc.field
        if field == "hospital_level":
            raise Unprocessable(
                f"The hospital's level {hospital.level} is not covered by policy "
                f"{policy.version}: {exc.message}",
                errors=[{"field": "hospital_level", "message": exc.message}],
            ) from None
        if field == "visit_type":
            field = "visit.type"
        raise Unprocessable.field(field, exc.message) from None


_ITEMS_JSON = TypeAdapter(list[FeeItemIn])


def _patient(req: SettleRequest, aid_class: str, elig: UsedEligibility) -> PatientOut:
    return PatientOut(
        id_number_masked=mask_id_number(req.patient.id_number),
        name=req.patient.name,
        aid_class=cast(Any, aid_class),
        categories=list(elig.categories),
        registered=elig.registered,
        eligibility_on=elig.on,
        eligibility_source=elig.source,
    )


def _amount(value: Decimal) -> Decimal:
    """An amount for an answer, as ``Money`` would validate it (two decimals), without a
    validator run: the values come from the engine or the database, already in fen."""
    fixed = value.quantize(FEN)
    if fixed != value or not ZERO <= value <= MAX_AMOUNT:
        return parse_money(value)  # raises, with the validator's reason
    return fixed


def _amount_or_none(value: Decimal | None) -> Decimal | None:
    return None if value is None else _amount(value)


def _fund_row(d: Any) -> FundRowOut:
    return FundRowOut.model_construct(
        fund_pay_type=d.fund_pay_type,
        fund_pay_type_name=d.fund_pay_type_name,
        setlinfo_field=d.setlinfo_field,
        inscp_scp_amt=_amount(d.inscp_scp_amt),
        crt_payb_lmt_amt=_amount_or_none(d.crt_payb_lmt_amt),
        fund_payamt=_amount(d.fund_payamt),
        setl_proc_info=d.setl_proc_info,
    )


# The answers below are assembled with ``model_construct``: every value is already of its
# field's type (engine results, the validated request, typed database columns), and amounts
# go through ``_amount``, so validating the ≈ 40 fields again would only cost time.


def bill_from_engine(
    bill: Bill,
    *,
    req: SettleRequest,
    hospital: HospitalRef,
    elig: UsedEligibility,
    setl_id: str | None,
    setl_time: datetime | None,
) -> BillOut:
    visit = req.visit
    amounts: dict[str, Any] = {k: _amount(v) for k, v in bill.as_setlinfo().items()}
    return BillOut.model_construct(
        setl_id=setl_id,
        status="settled" if setl_id else "preview",
        hospital_code=hospital.code,
        visit_id=visit.visit_id,
        visit_type=visit.type,
        admitted_on=visit.admitted_on,
        discharged_on=visit.bill_date,
        diagnoses=list(visit.diagnoses),
        setl_time=setl_time,
        revoked_at=None,
        policy_version=bill.policy_version,
        hospital_level=bill.hospital_level,
        patient=PatientOut.model_construct(
            id_number_masked=mask_id_number(req.patient.id_number),
            name=req.patient.name,
            aid_class=bill.aid_class,
            categories=list(elig.categories),
            registered=elig.registered,
            eligibility_on=elig.on,
            eligibility_source=elig.source,
        ),
        setldetail=[_fund_row(d) for d in bill.setldetail],
        trace=[dict(step) for step in bill.trace],
        **amounts,
    )


def bill_from_row(row: Any, funds: Sequence[Any], hospital_code: str) -> BillOut:
    """A stored bill (a SQLAlchemy row or a store's record: columns as attributes)."""
    amounts: dict[str, Any] = {name: _amount(getattr(row, name)) for name in SETLINFO_FIELDS}
    return BillOut.model_construct(
        setl_id=row.setl_id,
        status=row.status,
        hospital_code=hospital_code,
        visit_id=row.visit_id,
        visit_type=row.visit_type,
        admitted_on=row.admitted_on,
        discharged_on=row.discharged_on,
        diagnoses=json.loads(row.diagnoses),
        setl_time=row.setl_time,
        revoked_at=row.revoked_at,
        policy_version=row.policy_version,
        hospital_level=row.hospital_level,
        patient=PatientOut.model_construct(
            id_number_masked=mask_id_number(row.id_number),
            name=row.patient_name,
            aid_class=row.aid_class,
            categories=json.loads(row.categories),
            registered=row.registered,
            eligibility_on=row.eligibility_on,
            eligibility_source=row.eligibility_source,
        ),
        setldetail=[_fund_row(f) for f in funds],
        trace=json.loads(row.trace),
        **amounts,
    )


async def preview(
    ctx: AppContext, hospital: HospitalRef, req: SettleRequest, request_id: str | None
) -> BillOut:
    """Pre-settle: the full bill on the current totals; nothing is stored."""
    bill_date = req.visit.bill_date
    policy = policy_for(ctx, bill_date, "visit.discharged_on")
    registry = await ask_registry(ctx, req.patient, req.visit, request_id)
    id_number = req.patient.id_number
    async with ctx.db.read() as conn:
        row = await admissions.get(conn, hospital.id, req.visit.visit_id)
        elig = choose_eligibility(
            AdmissionFacts.of(row) if row is not None else None, registry, req.patient, req.visit
        )
        totals, _, has_grant = await accumulators.read(
            conn, id_number, bill_date.year, grants_on=bill_date
        )
        open_grants = await grants.read_open(conn, id_number, bill_date) if has_grant else []
    balance = sum((b for _, b in open_grants), Decimal(0))
    aid_class = policy.aid_class_for(elig.categories)
    bill = _compute(policy, hospital, req, aid_class, totals, balance)
    return bill_from_engine(
        bill, req=req, hospital=hospital, elig=elig, setl_id=None, setl_time=None
    )


class _Duplicate(Exception):
    """The bill insert met an existing idempotency key or settled visit (rolled back)."""


async def settle(
    ctx: AppContext,
    hospital: HospitalRef,
    req: SettleRequest,
    idempotency_key: str,
    request_id: str | None,
) -> SettleResult:
    fingerprint = request_hash(req)
    policy = policy_for(ctx, req.visit.bill_date, "visit.discharged_on")
    # Asked before the transaction, so no lock or connection waits on the registry; a failure
    # only matters if the visit has no admission record.
    registry = await ask_registry(ctx, req.patient, req.visit, request_id)
    for _attempt in range(3):
        try:
            bill = await _settle_once(
                ctx, hospital, req, idempotency_key, fingerprint, request_id, policy, registry
            )
        except _Duplicate:
            existing = await _existing(ctx, hospital, req, idempotency_key, fingerprint)
            if existing is not None:
                return existing
            continue  # the row we collided with was rolled back meanwhile: try again
        except RegistryUnavailable:
            # A retry of a bill that was already settled needs no registry.
            replay = await _existing(ctx, hospital, req, idempotency_key, fingerprint)
            if replay is not None:
                return replay
            raise
        record_settlement([(d.fund_pay_type, d.fund_payamt) for d in bill.setldetail])
        return SettleResult(bill, created=True)
    raise Conflict("The bill could not be settled because of concurrent requests; retry.")


async def _existing(
    ctx: AppContext,
    hospital: HospitalRef,
    req: SettleRequest,
    idempotency_key: str,
    fingerprint: str,
) -> SettleResult | None:
    """The answer for a request whose key or visit already has a bill, or None."""
    async with ctx.db.read() as conn:
        by_key, by_visit = await repository.find_duplicate(
            conn, hospital.id, idempotency_key, req.visit.visit_id
        )
        if by_key is not None:
            if by_key.request_hash != fingerprint:
                raise Conflict(
                    "This Idempotency-Key was already used for a different request "
                    f"(bill {by_key.setl_id}); use a new key for a new bill.",
                    extra={"setl_id": by_key.setl_id},
                )
            return SettleResult(await _load(conn, by_key.setl_id, hospital), created=False)
    if by_visit is not None:
        raise Conflict(
            f"Visit {req.visit.visit_id!r} already has a settled bill {by_visit.setl_id}; "
            "revoke it before settling the visit again.",
            extra={"setl_id": by_visit.setl_id},
        )
    return None


async def _settle_once(
    ctx: AppContext,
    hospital: HospitalRef,
    req: SettleRequest,
    idempotency_key: str,
    fingerprint: str,
    request_id: str | None,
    policy: Policy,
    registry: RegistryAnswer,
) -> BillOut:
    id_number = req.patient.id_number
    bill_date = req.visit.bill_date
    year = bill_date.year
    async with ctx.store.transaction() as tx:
        # One round trip: lock the person-year row, see the admission record, open grants.
        totals, has_grant, admission = await tx.lock_for_settle(
            id_number,
            year,
            grants_on=bill_date,
            hospital_id=hospital.id,
            visit_id=req.visit.visit_id,
        )
        elig = choose_eligibility(admission, registry, req.patient, req.visit)
        aid_class = policy.aid_class_for(elig.categories)
        open_grants = await tx.lock_open_grants(id_number, bill_date) if has_grant else []
        balance = sum((b for _, b in open_grants), Decimal(0))
        bill = _compute(policy, hospital, req, aid_class, totals, balance)
        now = utcnow()
        setl_id = new_setl_id(now)
        values: dict[str, Any] = {
            "setl_id": setl_id,
            "hospital_id": hospital.id,
            "visit_id": req.visit.visit_id,
            "visit_type": req.visit.type,
            "idempotency_key": idempotency_key,
            "request_hash": fingerprint,
            "status": SETTLED,
            "id_number": id_number,
            "patient_name": req.patient.name,
            "admitted_on": req.visit.admitted_on,
            "discharged_on": bill_date,
            "acc_year": year,
            "setl_time": now,
            "setl_date": now.astimezone(ctx.settings.local_tz).date(),
            "revoked_at": None,
            "policy_version": bill.policy_version,
            "hospital_level": hospital.level,
            "aid_class": bill.aid_class,
            "categories": dump_json(list(elig.categories)),
            "registered": elig.registered,
            "eligibility_on": elig.on,
            "eligibility_source": elig.source,
            "diagnoses": dump_json(req.visit.diagnoses),
            "items": _ITEMS_JSON.dump_json(req.items, exclude_none=True).decode(),
            "item_count": len(req.items),
            "trace": dump_json(list(bill.trace)),
            "deltas": dump_json(bill.deltas),
            "request_id": request_id,
            **bill.as_setlinfo(),
        }
        fund_rows = [
            {
                "seq": seq,
                "fund_pay_type": d.fund_pay_type,
                "fund_pay_type_name": d.fund_pay_type_name,
                "setlinfo_field": d.setlinfo_field,
                "inscp_scp_amt": d.inscp_scp_amt,
                "crt_payb_lmt_amt": d.crt_payb_lmt_amt,
                "fund_payamt": d.fund_payamt,
                "setl_proc_info": d.setl_proc_info,
            }
            for seq, d in enumerate(bill.setldetail, start=1)
        ]
        drawn = bill.deltas.get(TEMPORARY_ASSISTANCE_KEY, Decimal(0))
        uses = grants.split(drawn, open_grants) if drawn > 0 else []
        audit = audit_row(
            actor=f"hospital:{hospital.code}",
            action="settle",
            subject=setl_id,
            request_id=request_id,
            detail={
                "visit_id": req.visit.visit_id,
                "idempotency_key": idempotency_key,
                "aid_class": bill.aid_class,
                "policy_version": bill.policy_version,
                "medfee_sumamt": bill.medfee_sumamt,
                "fund_pay_sumamt": bill.fund_pay_sumamt,
                "psn_cash_pay": bill.psn_cash_pay,
                "grants": [[gid, taken] for gid, taken in uses],
            },
        )
        written = await tx.write_settlement(
            values,
            fund_rows,
            totals=apply_deltas(totals, bill.deltas),
            audit=audit,
            uses=uses,
        )
        if not written:
            raise _Duplicate
    return bill_from_engine(
        bill, req=req, hospital=hospital, elig=elig, setl_id=setl_id, setl_time=now
    )


async def _load(conn: Any, setl_id: str, hospital: HospitalRef) -> BillOut:
    row = await repository.get(conn, setl_id, hospital.id)
    if row is None:
        raise NotFound(f"No bill {setl_id} at this hospital.")
    funds = await repository.funds_of(conn, [setl_id])
    return bill_from_row(row, funds[setl_id], hospital.code)


async def get_bill(ctx: AppContext, hospital: HospitalRef, setl_id: str) -> BillOut:
    async with ctx.db.read() as conn:
        return await _load(conn, setl_id, hospital)


async def list_bills(
    ctx: AppContext,
    hospital: HospitalRef,
    *,
    on: date,
    status: str | None,
    after: str | None,
    limit: int,
) -> tuple[list[BillOut], str | None]:
    async with ctx.db.read() as conn:
        rows = await repository.page(
            conn, hospital.id, on=on, status=status, after=after, limit=limit + 1
        )
        more = len(rows) > limit
        rows = rows[:limit]
        funds = await repository.funds_of(conn, [r.setl_id for r in rows])
    items = [bill_from_row(r, funds[r.setl_id], hospital.code) for r in rows]
    return items, (rows[-1].setl_id if more and rows else None)


async def revoke(
    ctx: AppContext,
    hospital: HospitalRef,
    setl_id: str,
    *,
    reason: str | None,
    request_id: str | None,
) -> BillOut:
    """Mark the bill revoked, take its amounts back out of the running totals and give back
    what it drew from grants, in one transaction. Revoking a revoked bill changes nothing."""
    newly_revoked = False
    async with ctx.store.transaction() as tx:
        head = await tx.bill(setl_id, hospital.id)
        if head is None:
            raise NotFound(f"No bill {setl_id} at this hospital.")
        if head.status == SETTLED:
            totals = await tx.lock_totals(head.id_number, head.acc_year)
            row = await tx.bill(setl_id, hospital.id, for_update=True)
            assert row is not None
            if row.status == SETTLED:  # not revoked by a concurrent request meanwhile
                now = utcnow()
                returned = await tx.write_revocation(
                    setl_id,
                    now,
                    id_number=row.id_number,
                    year=row.acc_year,
                    totals=apply_deltas(totals, load_totals(row.deltas), -1),
                )
                newly_revoked = True
                await tx.append_audit(
                    audit_row(
                        actor=f"hospital:{hospital.code}",
                        action="revoke",
                        subject=setl_id,
                        request_id=request_id,
                        detail={
                            "visit_id": row.visit_id,
                            "reason": reason,
                            "grants": [[gid, amount] for gid, amount in returned],
                        },
                    )
                )
                row = await tx.bill(setl_id, hospital.id)
                assert row is not None
        else:
            row = head
        bill = bill_from_row(row, await tx.funds(setl_id), hospital.code)
    assert bill.status == REVOKED
    if newly_revoked:
        record_revoke([(d.fund_pay_type, d.fund_payamt) for d in bill.setldetail])
    return bill


def local_today(tz: timezone) -> date:
    return datetime.now(tz).date()
