"""Uploading and withdrawing a visit's fee details before it is settled."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

from settlement.bills import fee_details as repository
from settlement.catalogue.cache import CatalogueCache
from settlement.database import Database, utcnow
from settlement.eligibility import EligibilityService
from settlement.engine import BillInputError, item_amount
from settlement.engine.scope import scope_items
from settlement.fee_details.schemas import (
    MAX_OPEN_LINES,
    FeeDetailIn,
    FeeDetailLine,
    FeeDetailsOut,
    FeeDetailUpload,
)
from settlement.hospitals.repository import HospitalRef
from settlement.settlements.lines import classify, dump_records, line_outs, line_records
from shared.errors import Conflict, Unprocessable


def _line(serial: str, item_json: str, amount: Decimal, setl_id: str | None) -> FeeDetailLine:
    item = json.loads(item_json)
    return FeeDetailLine(
        feedetl_sn=serial, code=item["code"], name=item["name"], amount=amount, setl_id=setl_id
    )


class FeeDetailService:
    def __init__(
        self,
        db: Database,
        catalogue: CatalogueCache,
        eligibility: EligibilityService,
        local_tz: timezone,
    ) -> None:
        self.db = db
        self.catalogue = catalogue
        """The per-process catalogue the settle classifies with (``SettlementService``'s)."""
        self.eligibility = eligibility
        self.local_tz = local_tz

    async def upload(
        self, hospital: HospitalRef, visit_id: str, batch: FeeDetailUpload
    ) -> FeeDetailsOut:
        """Add a batch (all or nothing) and answer each line classified and split as a bill's
        ``lines`` (:func:`settlement.settlements.lines.classify`, the engine's ``scope_items``)
        on today's date in the deployment's local time zone; the settle classifies again on
        the bill date. A serial the visit already has is a 409 naming it; more than
        ``MAX_OPEN_LINES`` open lines, a sent ``amount`` other than ``unit_price × quantity``
        or no policy in force today a 422 naming the field."""
        results = await self._results(hospital, batch)
        async with self.db.write() as conn:
            seq = await repository.next_seq(conn, hospital.id, visit_id)
            rows: list[dict[str, Any]] = []
            lines: list[FeeDetailLine] = []
            for offset, line in enumerate(batch.items):
                serial = line.feedetl_sn or f"{seq + offset:06d}"
                item = line.model_dump_json(exclude={"feedetl_sn"}, exclude_none=True)
                amount = _amount(line)
                rows.append(
                    {
                        "hospital_id": hospital.id,
                        "visit_id": visit_id,
                        "feedetl_sn": serial,
                        "seq": seq + offset,
                        "item": item,
                        "amount": amount,
                        "uploaded_at": utcnow(),
                        "setl_id": None,
                    }
                )
                lines.append(_line(serial, item, amount, None).model_copy(update=results[offset]))
            serials = [str(r["feedetl_sn"]) for r in rows]
            repeated = sorted({s for s in serials if serials.count(s) > 1})
            known = await repository.existing_serials(conn, hospital.id, visit_id, serials)
            if repeated or known:
                raise Conflict(
                    "These fee detail serials (feedetl_sn) are already uploaded for the visit: "
                    + ", ".join(sorted(set(repeated) | set(known))),
                )
            open_lines = await repository.count_open(conn, hospital.id, visit_id) + len(rows)
            if open_lines > MAX_OPEN_LINES:
                raise Unprocessable.field(
                    "items", f"a visit holds at most {MAX_OPEN_LINES} open fee lines"
                )
            await repository.insert_lines(conn, rows)
        return FeeDetailsOut(visit_id=visit_id, lines=lines, open_lines=open_lines)

    async def _results(self, hospital: HospitalRef, batch: FeeDetailUpload) -> list[dict[str, Any]]:
        """Each line's classification and split (the fields of ``FeeLineOut`` beyond the
        line's own), as the settle computes them, on today's date."""
        today = datetime.now(self.local_tz).date()
        policy = self.eligibility.policy_for(today, "items")
        view = await self.catalogue.view(hospital.id)
        classified = classify(view, batch.items, today)
        try:
            splits = scope_items(classified.items, policy.b_self_pay_ratio).lines
        except BillInputError as exc:
            raise Unprocessable.field(exc.field, exc.message) from None
        records = line_records(classified, splits, policy.b_self_pay_ratio)
        outs = line_outs(dump_records(records)) or []
        return [out.model_dump(exclude=_OWN) for out in outs]

    async def withdraw(
        self, hospital: HospitalRef, visit_id: str, serials: Sequence[str] | None
    ) -> FeeDetailsOut:
        """Withdraw open lines (all, or these serials); settled lines stay."""
        async with self.db.write() as conn:
            withdrawn = await repository.withdraw(conn, hospital.id, visit_id, serials)
            open_lines = await repository.count_open(conn, hospital.id, visit_id)
        return FeeDetailsOut(
            visit_id=visit_id, lines=[], open_lines=open_lines, withdrawn=withdrawn
        )

    async def listing(self, hospital: HospitalRef, visit_id: str) -> FeeDetailsOut:
        async with self.db.read() as conn:
            rows = await repository.lines(conn, hospital.id, visit_id)
        lines = [_line(r.feedetl_sn, r.item, r.amount, r.setl_id) for r in rows]
        return FeeDetailsOut(
            visit_id=visit_id,
            lines=lines,
            open_lines=sum(1 for line in lines if line.setl_id is None),
        )


_OWN = {"code", "name", "det_item_fee_sumamt"}


def _amount(line: FeeDetailIn) -> Decimal:
    """The line's amount: as sent, else the engine's item-amount rule (the engine checks a
    sent amount against the same rule at settle)."""
    return line.amount if line.amount is not None else item_amount(line.unit_price, line.quantity)
