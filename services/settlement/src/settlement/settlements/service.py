"""Pre-settle, settle, revoke and query: load → compute (pure engine) → persist.

The registry is asked first (cached; outside any transaction). Then a settle is one
transaction: read the person-year under its lock (running totals, the visit's admission
record, open grants — :func:`settlement.inputs.person_year`, the same read
a preview makes without the lock), compute the bill, write the bill, its fund rows, the moved
totals, the audit record and the grant draws, commit. The ``Idempotency-Key`` and "one
settled bill per visit" are unique indexes, so a retry that races the original can never
make a second bill; it finds the first one instead.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import TYPE_CHECKING, Any, cast

from settlement.accumulators import repository as accumulators
from settlement.audit.repository import ChainHead, append_row, audit_row, sealed_insert
from settlement.bills import fee_details, repository
from settlement.bills.models import BILL_FLAG, REVOKED, SETTLED
from settlement.catalogue.cache import CatalogueCache, CatalogueView
from settlement.database import AnyRow, Conn, Database, dump_json, load_totals, utcnow
from settlement.eligibility import EligibilityService, RegistryAnswer, UsedEligibility
from settlement.engine import (
    SETLINFO_FIELDS,
    TEMPORARY_ASSISTANCE_KEY,
    Bill,
    BillInputError,
    FeeItem,
    Policy,
    apply_deltas,
    compute,
)
from settlement.engine.parts import EarlierPart, earlier_deltas, remaining_part
from settlement.grants import repository as grants
from settlement.hospitals.repository import HospitalRef
from settlement.hospitals.repository import by_id as hospital_by_id
from settlement.inputs import PersonYear, person_year
from settlement.registry_client import RegistryUnavailable
from settlement.settlements.answers import bill_out
from settlement.settlements.lines import classify, dump_records, line_records, stored_items
from settlement.settlements.receipt_links import ReceiptLinks
from settlement.settlements.reversal import new_reversal_id, reversal_funds, reversal_row
from settlement.settlements.schemas import BillOut, FeeItemIn, SettleRequest, check_total
from shared.errors import Conflict, Forbidden, NotFound, Unprocessable
from shared.idnumber import age_on, mask_id_number
from shared.money import ZERO
from shared.observability import record_revoke, record_settlement

if TYPE_CHECKING:
    from settlement.supervision.service import SupervisionService


@dataclass(frozen=True, slots=True)
class SettleResult:
    bill: BillOut
    created: bool


@dataclass(frozen=True, slots=True)
class StoredBill:
    """A stored bill's answer and its fee lines (JSON text: the lines as classified and
    settled, :mod:`settlement.settlements.lines`)."""

    bill: BillOut
    items_json: str
    hospital: HospitalRef


@dataclass(frozen=True, slots=True)
class _Computed:
    inputs: PersonYear
    elig: UsedEligibility
    items: list[FeeItemIn]
    bill: Bill
    lines: str  # the stored lines, JSON (settlements.lines.line_records)
    stay: Stay


class _Duplicate(Exception):
    """The bill insert met an existing idempotency key or settled visit (rolled back)."""


class _Refused(Exception):
    """A supervision rule set to ``refuse`` fired (rolled back): ``problem`` is its 422."""

    def __init__(self, problem: Unprocessable) -> None:
        self.problem = problem


def request_hash(req: SettleRequest) -> str:
    """Fingerprint of the validated request: the same bill sent again (even with other JSON
    formatting) has the same hash: the SHA-256 of ``req.model_dump_json()``'s UTF-8 bytes,
    taken from the serializer as bytes."""
    return hashlib.sha256(req.__pydantic_serializer__.to_json(req)).hexdigest()


def new_setl_id(now: datetime) -> str:
    """Time-ordered and unique: ``S`` + UTC timestamp to the microsecond + 6 random hex."""
    return f"S{now.strftime('%Y%m%d%H%M%S%f')}{secrets.token_hex(3)}"


def fee_items(items: Sequence[FeeItemIn]) -> list[FeeItem]:
    """The lines as the hospital declared them (no catalogue)."""
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
        for i in items
    ]


@dataclass(frozen=True, slots=True)
class Stay:
    """The lines a bill computes on: for a stay settled in parts, every line of the earlier
    parts and of this one, the earlier parts and the grants they drew."""

    items: list[FeeItem]
    parts: list[EarlierPart]
    granted: Decimal = Decimal(0)


def compute_bill(
    policy: Policy,
    hospital: HospitalRef,
    req: SettleRequest,
    aid_class: str,
    inputs: PersonYear,
    stay: Stay | None = None,
) -> Bill:
    """The engine on a request; its input errors as 422s naming the request's field. For a
    stay settled in parts (``stay``), the part: the whole stay so far on the totals before it,
    minus the earlier parts (:mod:`settlement.engine.parts`). The visit's diagnoses and the
    patient's age on the admission date (from the ID number) pick the policy's disease
    programme and outpatient chronic-disease group."""
    stay = stay or Stay(fee_items(req.items or []), [])
    try:
        whole = compute(
            policy,
            hospital_level=hospital.level,
            visit_type=req.visit.type,
            aid_class=cast(Any, aid_class),
            items=stay.items,
            totals=apply_deltas(inputs.totals, earlier_deltas(stay.parts), -1),
            grant_balance=inputs.grant_balance + stay.granted,
            diagnoses=req.visit.diagnosis_codes,
            age=age_on(req.patient.id_number, req.visit.admitted_on),
        )
        part = remaining_part(whole, stay.parts)
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
    if stay.parts and not part_is_whole(part):
        # Earlier parts settled under other terms (another policy year or aid class): this
        # part would have to pay back. Refused; the stay is revoked and settled again.
        raise Conflict(
            "The stay's earlier interim parts were settled under other terms (policy "
            "or aid class), so this part cannot be computed from them; revoke the parts and "
            "settle the stay again."
        )
    return part


def part_is_whole(bill: Bill) -> bool:
    """No amount of the bill or of its fund rows is negative."""
    return all(v >= 0 for v in bill.as_setlinfo().values()) and all(
        d.fund_payamt >= 0 and d.inscp_scp_amt >= 0 for d in bill.setldetail
    )


def bill_values(
    bill: Bill,
    req: SettleRequest,
    hospital: HospitalRef,
    elig: UsedEligibility,
    *,
    setl_id: str | None,
    now: datetime | None,
    local_tz: timezone,
) -> dict[str, Any]:
    """The ``bills`` row of a computed bill (a preview's has no id, time or key)."""
    visit = req.visit
    return {
        "setl_id": setl_id,
        "hospital_id": hospital.id,
        "visit_id": visit.visit_id,
        "visit_type": visit.type,
        "status": SETTLED if setl_id else "preview",
        "id_number": req.patient.id_number,
        "patient_name": req.patient.name,
        "admitted_on": visit.admitted_on,
        "discharged_on": visit.bill_date,
        "acc_year": visit.bill_date.year,
        "setl_time": now,
        "setl_date": now.astimezone(local_tz).date() if now else None,
        "revoked_at": None,
        "policy_version": bill.policy_version,
        "hospital_level": hospital.level,
        "aid_class": bill.aid_class,
        "categories": list(elig.categories),
        "registered": elig.registered,
        "eligibility_on": elig.on,
        "eligibility_source": elig.source,
        "diagnoses": visit.diagnosis_codes,
        "diagnosis_names": visit.diagnosis_names,
        "trace": [dict(step) for step in bill.trace],
        **bill.as_setlinfo(),
    }


_JSON_COLUMNS = ("categories", "diagnoses", "trace")


def _json_or_none(value: Any) -> str | None:
    return None if value is None else dump_json(value)


class SettlementService:
    """Bills of the hospitals: built once in the app's lifespan with what it uses."""

    def __init__(
        self,
        db: Database,
        eligibility: EligibilityService,
        local_tz: timezone,
        catalogue: CatalogueCache | None = None,
        receipt_links: ReceiptLinks | None = None,
        supervision: SupervisionService | None = None,
    ) -> None:
        self.db = db
        self.eligibility = eligibility
        self.local_tz = local_tz
        self.catalogue = catalogue or CatalogueCache(db)
        self.receipt_links = receipt_links
        """Signs each answer's ``receipt_url`` (``None``: answers carry none)."""
        self.supervision = supervision

    # ------------------------------------------------------------------ pre-settle, settle

    async def _inputs(
        self, conn: Conn, hospital: HospitalRef, req: SettleRequest, *, lock: bool
    ) -> PersonYear:
        bill_date = req.visit.bill_date
        return await person_year(
            conn,
            req.patient.id_number,
            bill_date.year,
            on=bill_date,
            hospital_id=hospital.id,
            visit_id=req.visit.visit_id,
            lock=lock,
        )

    def _choose(
        self, inputs: PersonYear, registry: RegistryAnswer, req: SettleRequest
    ) -> UsedEligibility:
        return self.eligibility.choose(
            inputs.admission,
            registry,
            id_number=req.patient.id_number,
            visit_id=req.visit.visit_id,
            admitted_on=req.visit.admitted_on,
        )

    async def preview(
        self, hospital: HospitalRef, req: SettleRequest, request_id: str | None
    ) -> BillOut:
        """Pre-settle (2206 / 2303): the full bill on the current totals; nothing stored."""
        policy = self.eligibility.policy_for(req.visit.bill_date, "visit.discharged_on")
        registry = await self.eligibility.ask(
            req.patient.id_number, req.visit.admitted_on, request_id
        )
        view = await self.catalogue.view(hospital.id)
        async with self.db.read() as conn:
            computed = await self._compute(conn, hospital, req, registry, policy, view, lock=False)
        values = bill_values(
            computed.bill,
            req,
            hospital,
            computed.elig,
            setl_id=None,
            now=None,
            local_tz=self.local_tz,
        )
        values["items"] = computed.lines
        return bill_out(values, computed.bill.setldetail, hospital.code)

    async def _compute(
        self,
        conn: Conn,
        hospital: HospitalRef,
        req: SettleRequest,
        registry: RegistryAnswer,
        policy: Policy,
        view: CatalogueView,
        *,
        lock: bool,
    ) -> _Computed:
        """Preview and settle alike: the person-year (locked for a settle), the eligibility,
        the lines (sent, or uploaded) classified by the catalogue on the bill date, the stay,
        the bill and its stored lines."""
        inputs = await self._inputs(conn, hospital, req, lock=lock)
        elig = self._choose(inputs, registry, req)
        items = req.items if req.items is not None else await self._uploaded(conn, hospital, req)
        classified = classify(view, items, req.visit.bill_date)
        stay = await self._stay(conn, hospital, req, classified.items)
        aid_class = policy.aid_class_for(elig.categories)
        bill = compute_bill(policy, hospital, req, aid_class, inputs, stay)
        # A stay settled in parts computes every line so far; this bill's are the last ones.
        splits = bill.lines[len(bill.lines) - len(items) :]
        lines = dump_records(line_records(classified, splits, policy.b_self_pay_ratio))
        return _Computed(inputs, elig, items, bill, lines, stay)

    async def settle(
        self,
        hospital: HospitalRef,
        req: SettleRequest,
        idempotency_key: str,
        request_id: str | None,
    ) -> SettleResult:
        """Settle (2207 / 2304): store the bill and move the running totals in one
        transaction. A retry with the same key and body answers the first bill (``created``
        False); the same key with another body, or a visit already settled, is a 409."""
        fingerprint = request_hash(req)
        policy = self.eligibility.policy_for(req.visit.bill_date, "visit.discharged_on")
        # Asked before the transaction, so no lock or connection waits on the registry; a
        # failure only matters if the visit has no admission record.
        registry = await self.eligibility.ask(
            req.patient.id_number, req.visit.admitted_on, request_id
        )
        view = await self.catalogue.view(hospital.id)  # before the transaction: no lock waits
        for _attempt in range(3):
            try:
                bill = await self._settle_once(
                    hospital, req, idempotency_key, fingerprint, request_id, policy, registry, view
                )
            except _Duplicate:
                existing = await self._existing(hospital, req, idempotency_key, fingerprint)
                if existing is not None:
                    return existing
                continue  # the row we collided with was rolled back meanwhile: try again
            except _Refused as refused:
                # The rules run before the bill is written and see the person's settled
                # bills: for a retry, the bill it repeats too. A retry answers that bill (or
                # its 409), as it would have without the rules.
                replay = await self._existing(hospital, req, idempotency_key, fingerprint)
                if replay is not None:
                    return replay
                raise refused.problem from None
            except RegistryUnavailable:
                # A retry of a bill that was already settled needs no registry.
                replay = await self._existing(hospital, req, idempotency_key, fingerprint)
                if replay is not None:
                    return replay
                raise
            record_settlement([(d.fund_pay_type, d.fund_payamt) for d in bill.setldetail])
            return SettleResult(bill, created=True)
        raise Conflict("The bill could not be settled because of concurrent requests; retry.")

    async def _existing(
        self, hospital: HospitalRef, req: SettleRequest, idempotency_key: str, fingerprint: str
    ) -> SettleResult | None:
        """The answer for a request whose key or visit already has a bill, or None."""
        async with self.db.read() as conn:
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
                stored = await self._load(conn, by_key.setl_id, hospital)
                return SettleResult(stored.bill, created=False)
        if by_visit is not None:
            raise Conflict(
                f"Visit {req.visit.visit_id!r} already has a settled bill {by_visit.setl_id}; "
                "revoke it before settling the visit again.",
                extra={"setl_id": by_visit.setl_id},
            )
        return None

    async def _settle_once(
        self,
        hospital: HospitalRef,
        req: SettleRequest,
        idempotency_key: str,
        fingerprint: str,
        request_id: str | None,
        policy: Policy,
        registry: RegistryAnswer,
        view: CatalogueView,
    ) -> BillOut:
        async with self.db.write() as conn:
            computed = await self._compute(conn, hospital, req, registry, policy, view, lock=True)
            inputs, bill = computed.inputs, computed.bill
            now = utcnow()
            setl_id = new_setl_id(now)
            values = bill_values(
                bill, req, hospital, computed.elig, setl_id=setl_id, now=now, local_tz=self.local_tz
            )
            row = {
                **values,
                **{name: dump_json(values[name]) for name in _JSON_COLUMNS},
                "diagnosis_names": _json_or_none(values["diagnosis_names"]),
                "idempotency_key": idempotency_key,
                "request_hash": fingerprint,
                "items": computed.lines,
                "item_count": len(computed.items),
                "deltas": dump_json(bill.deltas),
                "request_id": request_id,
                "interim": req.visit.interim,
                "refd_setl_flag": BILL_FLAG,
            }
            values["items"] = computed.lines
            # Supervision rules on the bill: findings, or a 422 (rolled back).
            findings = []
            if self.supervision is not None:
                try:
                    findings = await self.supervision.on_settle(
                        conn, hospital, req, computed.items, computed.stay, values
                    )
                except Unprocessable as refusal:
                    raise _Refused(refusal) from None
            drawn = bill.deltas.get(TEMPORARY_ASSISTANCE_KEY, Decimal(0))
            uses = grants.split(drawn, inputs.open_grants) if drawn > 0 else []
            record = audit_row(
                actor=f"hospital:{hospital.code}",
                action="settle",
                subject=setl_id,
                request_id=request_id,
                detail={
                    "visit_id": req.visit.visit_id,
                    "idempotency_key": idempotency_key,
                    "aid_class": bill.aid_class,
                    "policy_version": bill.policy_version,
                    **bill.as_setlinfo(),
                    "funds": [[d.fund_pay_type, d.fund_payamt] for d in bill.setldetail],
                    "grants": [[gid, taken] for gid, taken in uses],
                    "flags": [f.rule.code for f in findings],
                },
                person=req.patient.id_number,
            )
            head = inputs.chain_head or ChainHead.of(None, None)
            also = [
                accumulators.moved(
                    req.patient.id_number,
                    values["acc_year"],
                    apply_deltas(inputs.totals, bill.deltas),
                    1,
                ),
                sealed_insert(conn.dialect, record, head),
            ]
            # The bill, its fund rows, the moved totals and the audit record: one round trip
            # on PostgreSQL.
            returned = await repository.insert_settled(conn, row, bill.setldetail, also)
            if returned is None:
                raise _Duplicate
            if returned[1] is None:  # the chain moved since the locked read
                await append_row(conn, record)
            if req.items is None:
                await fee_details.settle_open(conn, hospital.id, req.visit.visit_id, setl_id)
            if uses:
                await grants.draw(conn, setl_id, uses)
            flags = (
                await self.supervision.record(conn, findings, values)
                if self.supervision is not None
                else []
            )
        answer = bill_out(values, bill.setldetail, hospital.code, links=self.receipt_links)
        answer.flags = flags
        return answer

    async def _uploaded(
        self, conn: Conn, hospital: HospitalRef, req: SettleRequest
    ) -> list[FeeItemIn]:
        """The visit's uploaded fee details not settled yet (a request without ``items``)."""
        raw = await fee_details.open_items(conn, hospital.id, req.visit.visit_id)
        if not raw:
            raise Unprocessable.field(
                "items",
                "no items were sent and the visit has no uploaded fee details left to settle",
            )
        items = [FeeItemIn.model_validate_json(text) for text in raw]
        try:
            check_total(items)
        except ValueError as exc:
            raise Unprocessable.field("items", str(exc)) from None
        return items

    async def _stay(
        self, conn: Conn, hospital: HospitalRef, req: SettleRequest, items: list[FeeItem]
    ) -> Stay:
        """The stay this bill belongs to: refused (409) when it overlaps another settled stay
        of the person at any hospital; for an inpatient visit with settled interim parts of
        the same year, every line so far (the earlier parts' lines as they were settled) and
        the parts (one deductible per admission)."""
        visit = req.visit
        inpatient = visit.type == "inpatient"
        visit_parts, other = await repository.stay_bills(
            conn,
            req.patient.id_number,
            hospital_id=hospital.id,
            visit_id=visit.visit_id,
            since=visit.admitted_on,
            until=visit.bill_date if inpatient else visit.admitted_on,
        )
        if other is not None:
            raise stay_conflict(other, hospital)
        parts = [p for p in visit_parts if p.acc_year == visit.bill_date.year]
        if not parts:
            return Stay(items, [])
        first = parts[0]
        if first.id_number != req.patient.id_number:
            raise Conflict(
                f"Visit {visit.visit_id!r} has interim settlements of another patient "
                f"({mask_id_number(first.id_number)}).",
                extra={"setl_id": parts[-1].setl_id},
            )
        if visit.type != "inpatient" or visit.admitted_on != first.admitted_on:
            raise Conflict(
                f"Visit {visit.visit_id!r} is an inpatient stay admitted on "
                f"{first.admitted_on.isoformat()} with interim settlements; its further parts "
                "are sent as that stay.",
                extra={"setl_id": parts[-1].setl_id},
            )
        funds = await repository.funds_of(conn, [p.setl_id for p in parts])
        earlier = [_earlier_part(p, funds[p.setl_id]) for p in parts]
        lines: list[FeeItem] = []
        for part in parts:
            lines.extend(stored_items(part.items))
        granted = sum(
            (load_totals(p.deltas).get(TEMPORARY_ASSISTANCE_KEY, Decimal(0)) for p in parts),
            Decimal(0),
        )
        return Stay([*lines, *items], earlier, granted)

    async def check_admission(
        self, hospital: HospitalRef, id_number: str, visit_id: str, admitted_on: date
    ) -> None:
        """An inpatient admission on a day inside another settled stay of the person (at any
        hospital) is a 409; admitted on a discharge day (a transfer) is not."""
        async with self.db.read() as conn:
            other = await repository.overlapping_stay(
                conn,
                id_number,
                hospital_id=hospital.id,
                visit_id=visit_id,
                since=admitted_on,
                until=admitted_on + timedelta(days=1),
            )
        if other is not None:
            raise stay_conflict(other, hospital)

    # ------------------------------------------------------------------ queries

    async def _load(self, conn: Conn, setl_id: str, hospital: HospitalRef) -> StoredBill:
        """A bill of the hospital with its fund rows and, when revoked, its reversal. A
        reversal's ``setl_id`` names the bill it reverses."""
        row = await repository.get(conn, setl_id, hospital.id)
        if row is None:
            raise NotFound(f"No bill {setl_id} at this hospital.")
        reversal = None
        if row.refd_setl_flag:
            reversal, row = row, await repository.get(conn, row.init_setl_id, hospital.id)
            assert row is not None  # the reference is a foreign key
        elif row.status == REVOKED:
            reversal = (await repository.reversals_of(conn, [row.setl_id])).get(row.setl_id)
        funds = await repository.funds_of(conn, [row.setl_id])
        answer = bill_out(
            row, funds[row.setl_id], hospital.code, reversal, links=self.receipt_links
        )
        if self.supervision is not None:
            answer.flags = (await self.supervision.bill_flags(conn, [row.setl_id])).get(
                row.setl_id, []
            )
        return StoredBill(answer, row.items, hospital)

    async def stored(self, hospital: HospitalRef, setl_id: str) -> StoredBill:
        """A bill of the hospital (5203) with its fee lines; another hospital's is a 404."""
        async with self.db.read() as conn:
            return await self._load(conn, setl_id, hospital)

    async def stored_any(self, setl_id: str) -> StoredBill | None:
        """Any hospital's bill with its fee lines (the administrator's view), or None."""
        async with self.db.read() as conn:
            row = await repository.get_any(conn, setl_id)
            hospital = await hospital_by_id(conn, row.hospital_id) if row is not None else None
            if row is None or hospital is None:
                return None
            return await self._load(conn, setl_id, hospital)

    async def stored_by_link(self, setl_id: str, token: str | None) -> StoredBill:
        """The bill a ``receipt_url`` names, whichever hospital's, when ``token`` is that
        bill's receipt token, unaltered and unexpired (:mod:`.receipt_links`). ``Forbidden``
        otherwise (checked before the database is read); ``NotFound`` when no such bill is
        stored."""
        links = self.receipt_links
        if links is None or not links.opens(setl_id, token):
            raise Forbidden("This receipt link is not valid for this bill, or has expired.")
        stored = await self.stored_any(setl_id)
        if stored is None:
            raise NotFound(f"No bill {setl_id}.")
        return stored

    async def get_bill(self, hospital: HospitalRef, setl_id: str) -> BillOut:
        return (await self.stored(hospital, setl_id)).bill

    async def list_bills(
        self,
        hospital: HospitalRef,
        *,
        on: date | None,
        status: str | None,
        after: str | None,
        limit: int,
    ) -> tuple[list[BillOut], str | None]:
        """The hospital's bills of a local settlement date (default today), oldest first:
        ``(page, next_after)``."""
        day = on or local_today(self.local_tz)
        async with self.db.read() as conn:
            rows = await repository.page(
                conn, hospital.id, on=day, status=status, after=after, limit=limit + 1
            )
            more = len(rows) > limit
            rows = rows[:limit]
            funds = await repository.funds_of(conn, [r.setl_id for r in rows])
            reversals = await repository.reversals_of(
                conn, [r.setl_id for r in rows if r.status == REVOKED]
            )
            flags = (
                await self.supervision.bill_flags(conn, [r.setl_id for r in rows])
                if self.supervision is not None
                else {}
            )
        items = [
            bill_out(
                r,
                funds[r.setl_id],
                hospital.code,
                reversals.get(r.setl_id),
                links=self.receipt_links,
            )
            for r in rows
        ]
        for item in items:
            item.flags = flags.get(cast(str, item.setl_id), [])
        return items, (rows[-1].setl_id if more and rows else None)

    # ------------------------------------------------------------------ revoke

    async def revoke(
        self, hospital: HospitalRef, setl_id: str, *, reason: str | None, request_id: str | None
    ) -> BillOut:
        """Revoke (2208 / 2305): mark the bill revoked, book its reversal on today's local
        date (every amount negated, ``refd_setl_flag`` 1), take its amounts back out of the
        running totals and give back what it drew from grants, in one transaction. The bill
        keeps its date and amounts, so a closed day never changes. Revoking a revoked bill
        (or naming its reversal) changes nothing and answers the same."""
        newly_revoked = False
        async with self.db.write() as conn:
            head = await repository.get(conn, setl_id, hospital.id)
            if head is None:
                raise NotFound(f"No bill {setl_id} at this hospital.")
            if head.status == SETTLED:
                # The person-year first, then the bill: the order every writer locks in.
                inputs = await person_year(
                    conn, head.id_number, head.acc_year, on=head.discharged_on, lock=True
                )
                row = await repository.get(conn, setl_id, hospital.id, for_update=True)
                if row is not None and row.status == SETTLED and row.interim:
                    later = await repository.later_parts(conn, row)
                    if later:
                        raise Conflict(
                            f"Bill {setl_id} is an interim part of visit {row.visit_id!r} and "
                            f"later parts are settled ({', '.join(later)}); revoke those first, "
                            "newest first.",
                            extra={"setl_ids": later},
                        )
                if row is not None and row.status == SETTLED:  # not revoked meanwhile
                    newly_revoked = True
                    await self._write_revocation(conn, row, inputs, hospital, reason, request_id)
            bill = (await self._load(conn, setl_id, hospital)).bill
        assert bill.status == REVOKED
        if newly_revoked:
            record_revoke([(d.fund_pay_type, d.fund_payamt) for d in bill.setldetail])
        return bill

    async def _write_revocation(
        self,
        conn: Conn,
        row: Any,
        inputs: PersonYear,
        hospital: HospitalRef,
        reason: str | None,
        request_id: str | None,
    ) -> None:
        now = utcnow()
        day = now.astimezone(self.local_tz).date()
        reversal_id = new_reversal_id(now)
        await repository.mark_revoked(conn, row.setl_id, now, day)
        funds = (await repository.funds_of(conn, [row.setl_id]))[row.setl_id]
        await repository.insert_reversal(
            conn,
            reversal_row(
                row, setl_id=reversal_id, now=now, day=day, reason=reason, request_id=request_id
            ),
            reversal_funds(row.setl_id, reversal_id, funds),
        )
        await fee_details.reopen(conn, row.setl_id)
        returned = await grants.give_back(conn, row.setl_id)
        totals = apply_deltas(inputs.totals, load_totals(row.deltas), -1)
        await accumulators.store(conn, row.id_number, row.acc_year, totals, -1)
        await append_row(
            conn,
            audit_row(
                actor=f"hospital:{hospital.code}",
                action="revoke",
                subject=row.setl_id,
                request_id=request_id,
                detail={
                    "visit_id": row.visit_id,
                    "reason": reason,
                    "grants": [[gid, amount] for gid, amount in returned],
                    "reversal": reversal_id,
                    "setl_date": day,
                    "medfee_sumamt": ZERO - row.medfee_sumamt,
                    "fund_pay_sumamt": ZERO - row.fund_pay_sumamt,
                    "psn_cash_pay": ZERO - row.psn_cash_pay,
                },
                person=row.id_number,
            ),
            inputs.chain_head,
        )


def _earlier_part(row: AnyRow, funds: Sequence[AnyRow]) -> EarlierPart:
    return EarlierPart(
        setlinfo={name: getattr(row, name) for name in SETLINFO_FIELDS},
        funds={f.fund_pay_type: (f.fund_payamt, f.inscp_scp_amt) for f in funds},
        deltas=load_totals(row.deltas),
    )


def stay_conflict(other: AnyRow, hospital: HospitalRef) -> Conflict:
    """The 409 for a stay that overlaps another settled stay: the other bill's ``setl_id``
    only to the hospital that owns it; another hospital sees the dates."""
    dates = f"{other.admitted_on.isoformat()} – {other.discharged_on.isoformat()}"
    if other.hospital_id == hospital.id:
        return Conflict(
            f"The patient's inpatient stay overlaps visit {other.visit_id!r} ({dates}), "
            f"settled as bill {other.setl_id}; a person is in one stay at a time.",
            extra={"setl_id": other.setl_id},
        )
    return Conflict(
        f"The patient's inpatient stay overlaps a stay settled at another designated hospital "
        f"({dates}); a person is in one stay at a time (a transfer is admitted on the day of "
        "discharge)."
    )


def local_today(tz: timezone) -> date:
    return datetime.now(tz).date()
