"""Fund supervision (基金监管 / 智能审核): the rules run at every settle, the flags
administrators work, the medians refreshed in the background, the monthly view.

- **At a settle** (:meth:`SupervisionService.on_settle`, called by the settle inside its
  transaction once the bill is computed, before it is written): one indexed read of the
  person's other settled bills around the stay (only when a readmission or same-day rule
  needs them) and the pure :func:`~settlement.supervision.evaluation.evaluate` on them and
  on the medians held in memory. A rule set to ``refuse`` raises a 422 naming the rule, so
  the transaction rolls back and nothing is written; otherwise, once the bill is in,
  :meth:`SupervisionService.record` inserts its flags (one statement, when there are any).
- **In the background** (:meth:`SupervisionService.run`, started by the app's lifespan):
  every ``SETTLEMENT_SUPERVISION_REFRESH_S`` seconds one instance (a lease row) copies the
  new bills' fee lines into ``supervision_item_samples``, drops the lines older than the
  window and recomputes the medians in SQL (``row_number()`` over each group's sorted
  amounts); every instance reloads them into memory.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Protocol

from settlement.audit.repository import append
from settlement.database import AnyRow, Conn, Database, dump_json, utcnow
from settlement.engine import item_amount
from settlement.hospitals.repository import HospitalRef
from settlement.supervision import repository
from settlement.supervision.evaluation import (
    FeeLine,
    Finding,
    Median,
    Medians,
    OtherBill,
    SettleFacts,
    evaluate,
    history_window,
)
from settlement.supervision.models import OPEN
from settlement.supervision.rules import (
    MonthlyRule,
    OutlierRule,
    QuantityRule,
    ReadmissionRule,
    Rule,
    RuleSet,
    SameDayRule,
)
from settlement.supervision.schemas import (
    BillFlagOut,
    FlagOut,
    FlagPage,
    MonthlyRow,
    MonthlyView,
    ReviewIn,
    RuleOut,
    RulesOut,
)
from shared.errors import Conflict, NotFound, Unprocessable
from shared.idnumber import mask_id_number
from shared.money import fen

log = logging.getLogger("medaid.supervision")

MAX_PERIOD_DAYS = 366
MAX_MONTHS = 24
LEASE = timedelta(minutes=15)
OVERLAP = timedelta(minutes=10)
"""Bills commit a little after their ``setl_time``: each refresh re-reads this much before
its watermark (lines already copied are skipped)."""
SAMPLE_BATCH = 1000
SHARE = Decimal("0.0001")
CSV_BOM = "\ufeff"
CSV_COLUMNS = (
    "id",
    "setl_date",
    "hospital_code",
    "hospital_name",
    "setl_id",
    "bill_status",
    "visit_id",
    "visit_type",
    "id_number_masked",
    "medfee_sumamt",
    "rule",
    "title",
    "severity",
    "message",
    "status",
    "reviewed_by",
    "reviewed_at",
    "review_note",
)


class _Stay(Protocol):
    """The stay a bill belongs to (``settlements.service.Stay``)."""

    @property
    def items(self) -> Sequence[FeeLine]: ...
    @property
    def parts(self) -> Sequence[Any]: ...


def _share(count: int, base: int) -> Decimal:
    return Decimal(count) / Decimal(base) if base else Decimal(0)


def _fixed(value: Decimal) -> str:
    return str(value.quantize(SHARE, ROUND_HALF_UP))


def _month(d: date) -> date:
    return d.replace(day=1)


def _next_month(d: date) -> date:
    return date(d.year + d.month // 12, d.month % 12 + 1, 1)


def _previous_month(d: date) -> date:
    return date(d.year - (d.month == 1), 12 if d.month == 1 else d.month - 1, 1)


def parse_month(value: str, field_name: str) -> date:
    """``YYYY-MM`` → the month's first day (a 422 naming ``field_name`` otherwise)."""
    try:
        if len(value) != 7 or value[4] != "-":
            raise ValueError
        return date(int(value[:4]), int(value[5:]), 1)
    except ValueError:
        raise Unprocessable.field(field_name, "must be a month written YYYY-MM") from None


def _parameters(rule: Rule) -> dict[str, Any]:
    if isinstance(rule, QuantityRule):
        return {
            "codes": sorted(rule.codes),
            "name_patterns": [p.pattern for p in rule.name_patterns],
            "extra_days": rule.extra_days,
        }
    if isinstance(rule, ReadmissionRule):
        return {
            "window_days": rule.window_days,
            "diagnosis_chars": rule.diagnosis_chars,
            "transfers": rule.transfers,
        }
    if isinstance(rule, SameDayRule):
        return {"min_hospitals": rule.min_hospitals, "max_bills": rule.max_bills}
    if isinstance(rule, OutlierRule):
        return {
            "multiple": str(rule.multiple),
            "window_days": rule.window_days,
            "min_samples": rule.min_samples,
        }
    assert isinstance(rule, MonthlyRule)
    return {
        "measure": rule.measure,
        "max_rise": str(rule.max_rise),
        "min_bills": rule.min_bills,
        "visit_types": list(rule.visit_types),
        "thresholds": {str(k): str(v) for k, v in sorted(rule.thresholds.items())},
        "band": str(rule.band),
    }


def rule_out(rule: Rule) -> RuleOut:
    kind = rule.kind
    if isinstance(rule, OutlierRule):
        kind = f"{rule.scope}_outlier"
    return RuleOut(
        code=rule.code,
        kind=kind,
        title=rule.title,
        severity=rule.severity,
        action=rule.action,
        enabled=rule.enabled,
        per_bill=rule.per_bill,
        parameters=_parameters(rule),
    )


def flag_out(row: AnyRow) -> FlagOut:
    return FlagOut(
        id=row.id,
        setl_id=row.setl_id,
        setl_date=row.setl_date,
        bill_status=row.bill_status,
        hospital_code=row.hospital_code,
        hospital_name=row.hospital_name,
        visit_id=row.visit_id,
        visit_type=row.visit_type,
        id_number_masked=mask_id_number(row.id_number),
        medfee_sumamt=row.medfee_sumamt,
        rule=row.rule,
        title=row.title,
        severity=row.severity,
        field=row.field,
        message=row.message,
        detail=json.loads(row.detail),
        status=row.status,
        created_at=row.created_at,
        reviewed_by=row.reviewed_by,
        reviewed_at=row.reviewed_at,
        review_note=row.review_note,
    )


def _bill_flag(row: Any) -> BillFlagOut:
    return {
        "rule": row.rule,
        "title": row.title,
        "severity": row.severity,
        "field": row.field,
        "message": row.message,
        "status": row.status,
    }


def check_period(begin: date, end: date) -> None:
    if end < begin:
        raise Unprocessable.field("query.to", "must not be before from")
    if (end - begin).days + 1 > MAX_PERIOD_DAYS:
        raise Unprocessable.field(
            "query.to", f"the period must not be longer than {MAX_PERIOD_DAYS} days"
        )


@dataclass
class CountRow:
    """Flags of a rule or a hospital in a period, by status."""

    key: str
    name: str
    open: int = 0
    ok: int = 0
    recover: int = 0

    @property
    def total(self) -> int:
        return self.open + self.ok + self.recover


@dataclass
class Panel:
    """The supervision section of the administrator's page."""

    by_rule: list[CountRow]
    by_hospital: list[CountRow]
    open_flags: list[FlagOut]
    more_open: bool
    monthly: list[MonthlyRow]
    rules: list[RuleOut] = field(default_factory=list)


class SupervisionService:
    """Built once in :meth:`settlement.context.AppContext.build` with the rules read at
    start-up."""

    def __init__(
        self, db: Database, rules: RuleSet, local_tz: timezone, *, refresh_s: float = 3600.0
    ) -> None:
        self.db = db
        self.rules = rules
        self.local_tz = local_tz
        self.refresh_s = refresh_s
        self._stats = Medians()
        self.stats_refreshed_at: datetime | None = None
        self._per_bill = bool(rules.per_bill_rules)

    # ------------------------------------------------------------------ at a settle

    async def on_settle(
        self,
        conn: Conn,
        hospital: HospitalRef,
        req: Any,
        items: Sequence[FeeLine],
        stay: _Stay,
        values: dict[str, Any],
    ) -> list[Finding]:
        """The rules on a bill about to be written in ``conn``'s transaction (``values``: its
        row; the person's other bills are read, this one is not among them): the findings
        for :meth:`record` to write once the bill is in, or a 422 naming the rule when a rule
        set to ``refuse`` fires (the caller's transaction rolls back)."""
        if not self._per_bill:
            return []
        visit = req.visit
        facts = SettleFacts(
            setl_id=values["setl_id"],
            hospital_id=hospital.id,
            hospital_level=hospital.level,
            visit_id=visit.visit_id,
            visit_type=visit.type,
            admitted_on=visit.admitted_on,
            discharged_on=values["discharged_on"],
            diagnoses=tuple(visit.diagnosis_codes),
            first_part=not stay.parts,
            lines=items,
            stay_lines=items if not stay.parts else stay.items,
            medfee_sumamt=values["medfee_sumamt"],
        )
        others: list[OtherBill] = []
        wanted = history_window(self.rules, facts)
        if wanted is not None:
            rows = await repository.person_bills(
                conn,
                req.patient.id_number,
                wanted.since,
                wanted.until,
                facts.setl_id,
                visit_type=wanted.visit_type,
                diagnosis=wanted.diagnosis,
            )
            others = [
                OtherBill(
                    r.setl_id,
                    r.hospital_id,
                    r.visit_id,
                    r.visit_type,
                    r.admitted_on,
                    r.discharged_on,
                    tuple(json.loads(r.diagnoses)),
                )
                for r in rows
            ]
        findings = evaluate(self.rules, facts, others, self._stats)
        refused = [f for f in findings if f.rule.action == "refuse"]
        if refused:
            raise self._refusal(refused)
        return findings

    async def record(
        self, conn: Conn, findings: Sequence[Finding], values: dict[str, Any]
    ) -> list[BillFlagOut]:
        """The flags of :meth:`on_settle`'s findings on the bill just written (``values``:
        its row), as the answer shows them."""
        if not findings:
            return []
        await repository.insert_flags(conn, [self._flag_row(f, values) for f in findings])
        return [
            {
                "rule": f.rule.code,
                "title": f.rule.title,
                "severity": f.rule.severity,
                "field": f.field,
                "message": f.message,
                "status": "open",
            }
            for f in findings
        ]

    @staticmethod
    def _refusal(refused: list[Finding]) -> Unprocessable:
        first = refused[0]
        return Unprocessable(
            f"Refused by supervision rule {first.rule.code} ({first.rule.title}): {first.message}",
            errors=[
                {
                    "field": f.field,
                    "message": f"{f.rule.code} {f.rule.title}：{f.message}",
                    "rule": f.rule.code,
                }
                for f in refused
            ],
            extra={"rule": first.rule.code, "rules": [f.rule.code for f in refused]},
        )

    @staticmethod
    def _flag_row(finding: Finding, values: dict[str, Any]) -> dict[str, Any]:
        return {
            "setl_id": values["setl_id"],
            "hospital_id": values["hospital_id"],
            "setl_date": values["setl_date"],
            "rule": finding.rule.code,
            "title": finding.rule.title[:128],
            "severity": finding.rule.severity,
            "field": finding.field[:64],
            "message": finding.message,
            "detail": dump_json(finding.detail),
            "status": OPEN,
            "created_at": values["setl_time"],
            "reviewed_by": None,
            "reviewed_at": None,
            "review_note": None,
        }

    async def bill_flags(self, conn: Conn, setl_ids: Sequence[str]) -> dict[str, list[BillFlagOut]]:
        """The flags of bills (their hospital's view), by ``setl_id``."""
        rows = await repository.flags_of(conn, setl_ids)
        return {setl_id: [_bill_flag(r) for r in found] for setl_id, found in rows.items()}

    # ------------------------------------------------------------------ administrators

    def rules_out(self) -> RulesOut:
        return RulesOut(
            version=self.rules.version,
            source=self.rules.source,
            rules=[rule_out(r) for r in self.rules.rules],
            stats_refreshed_at=self.stats_refreshed_at,
        )

    async def list_flags(
        self,
        begin: date,
        end: date,
        *,
        rule: str | None = None,
        hospital_code: str | None = None,
        status: str | None = None,
        after: int | None = None,
        limit: int = 100,
    ) -> FlagPage:
        """Flags of the bills settled ``begin``..``end`` (local dates, at most 366 days),
        oldest first."""
        check_period(begin, end)
        async with self.db.read() as conn:
            rows = await repository.list_flags(
                conn,
                begin,
                end,
                rule=rule,
                hospital_code=hospital_code,
                status=status,
                after=after,
                limit=limit + 1,
            )
        more = len(rows) > limit
        rows = rows[:limit]
        return FlagPage(
            items=[flag_out(r) for r in rows], next_after=rows[-1].id if more and rows else None
        )

    async def flags_csv(
        self,
        begin: date,
        end: date,
        *,
        rule: str | None = None,
        hospital_code: str | None = None,
        status: str | None = None,
    ) -> str:
        """Every flag of the period as CSV for spreadsheets: UTF-8 with a byte-order mark,
        a header row (:data:`CSV_COLUMNS`), one row per flag."""
        check_period(begin, end)
        out = io.StringIO()
        out.write(CSV_BOM)
        writer = csv.writer(out)
        writer.writerow(CSV_COLUMNS)
        after: int | None = None
        async with self.db.read() as conn:
            while True:
                rows = await repository.list_flags(
                    conn,
                    begin,
                    end,
                    rule=rule,
                    hospital_code=hospital_code,
                    status=status,
                    after=after,
                    limit=5000,
                )
                for row in rows:
                    flag = flag_out(row)
                    writer.writerow(
                        [
                            flag.id,
                            flag.setl_date.isoformat(),
                            flag.hospital_code,
                            flag.hospital_name,
                            flag.setl_id,
                            flag.bill_status,
                            flag.visit_id,
                            flag.visit_type,
                            flag.id_number_masked,
                            f"{flag.medfee_sumamt:.2f}",
                            flag.rule,
                            flag.title,
                            flag.severity,
                            flag.message,
                            flag.status,
                            flag.reviewed_by or "",
                            flag.reviewed_at.isoformat() if flag.reviewed_at else "",
                            flag.review_note or "",
                        ]
                    )
                if len(rows) < 5000:
                    break
                after = rows[-1].id
        return out.getvalue()

    async def review(
        self, flag_id: int, review: ReviewIn, *, actor: str, request_id: str | None
    ) -> FlagOut:
        """Close an open flag as ``reviewed-ok`` or ``reviewed-recover`` with who and a note,
        audited in the bill's person's chain, in one transaction. 404 for an unknown flag;
        409 for a flag already reviewed (a review is final)."""
        now = utcnow()
        async with self.db.write() as conn:
            row = await repository.get_flag(conn, flag_id)
            if row is None:
                raise NotFound(f"No flag {flag_id}.")
            done = await repository.review(
                conn, flag_id, status=review.status, by=review.reviewer, at=now, note=review.note
            )
            if not done:
                current = await repository.get_flag(conn, flag_id)
                status = current.status if current is not None else row.status
                raise Conflict(
                    f"Flag {flag_id} was already reviewed ({status}); a review is final.",
                    extra={"status": status},
                )
            await append(
                conn,
                actor=actor,
                action="flag.review",
                subject=f"flag:{flag_id}",
                request_id=request_id,
                detail={
                    "setl_id": row.setl_id,
                    "rule": row.rule,
                    "status": review.status,
                    "reviewer": review.reviewer,
                    "note": review.note,
                },
                person=row.id_number,
            )
            updated = await repository.get_flag(conn, flag_id)
        assert updated is not None
        return flag_out(updated)

    async def monthly(self, first: date, last: date) -> MonthlyView:
        """The monthly rules over the months ``first``..``last`` (first days of months):
        per hospital and month, the share, the previous month's and whether the rule
        fires. One aggregate per rule over the bills booked in those months and the month
        before."""
        if last < first:
            raise Unprocessable.field("query.to", "must not be before from")
        months = (last.year - first.year) * 12 + last.month - first.month + 1
        if months > MAX_MONTHS:
            raise Unprocessable.field(
                "query.to", f"the period must not be longer than {MAX_MONTHS} months"
            )
        rules = self.rules.monthly()
        rows: list[MonthlyRow] = []
        start, end = _previous_month(first), _next_month(last) - timedelta(days=1)
        async with self.db.snapshot() as conn:
            names = await repository.hospital_names(conn)
            for rule in rules:
                bands = {
                    level: (fen(amount * (Decimal(1) - rule.band)), amount)
                    for level, amount in rule.thresholds.items()
                }
                counted = await repository.monthly_counts(
                    conn,
                    start,
                    end,
                    visit_types=rule.visit_types,
                    thresholds=bands if rule.measure == "below_threshold" else {},
                )
                rows.extend(self._monthly_rows(rule, counted, names, first, last))
        rows.sort(key=lambda r: (r.month, r.hospital_code, r.rule))
        return MonthlyView(
            from_=first.strftime("%Y-%m"),
            to=last.strftime("%Y-%m"),
            rules=[rule_out(r) for r in rules],
            rows=rows,
            flagged=[r for r in rows if r.flagged],
        )

    @staticmethod
    def _monthly_rows(
        rule: MonthlyRule,
        counted: Sequence[AnyRow],
        names: dict[int, tuple[str, str]],
        first: date,
        last: date,
    ) -> list[MonthlyRow]:
        by_month: dict[tuple[int, date], tuple[int, int, int]] = {}
        for r in counted:
            month = date(int(r.year), int(r.month), 1)
            if rule.measure == "key_patients":
                count, base = int(r.key_patients), int(r.patients)
            else:
                count, base = int(r.below or 0), int(r.bills)
            by_month[(r.hospital_id, month)] = (int(r.bills), count, base)
        out = []
        for (hospital_id, month), (bills, count, base) in sorted(by_month.items()):
            if not first <= month <= last:
                continue
            share = _share(count, base)
            previous = by_month.get((hospital_id, _previous_month(month)))
            rise: Decimal | None = None
            previous_share: Decimal | None = None
            flagged = False
            if previous is not None:
                previous_share = _share(previous[1], previous[2])
                rise = share - previous_share
                flagged = (
                    bills >= rule.min_bills
                    and previous[0] >= rule.min_bills
                    and rise > rule.max_rise
                )
            code, name = names.get(hospital_id, (str(hospital_id), str(hospital_id)))
            out.append(
                MonthlyRow(
                    rule=rule.code,
                    hospital_code=code,
                    hospital_name=name,
                    month=month.strftime("%Y-%m"),
                    bills=bills,
                    count=count,
                    base=base,
                    share=_fixed(share),
                    previous_share=_fixed(previous_share) if previous_share is not None else None,
                    rise=_fixed(rise) if rise is not None else None,
                    flagged=flagged,
                )
            )
        return out

    async def panel(self, begin: date, end: date, *, open_limit: int = 50) -> Panel:
        """What the administrator's page shows for a period: flags per rule and per
        hospital by status, the open flags to work through (oldest first) and the monthly
        rules that fire in the period's months."""
        async with self.db.read() as conn:
            per_rule = await repository.counts(conn, begin, end, "rule")
            per_hospital = await repository.counts(conn, begin, end, "hospital")
            open_rows = await repository.list_flags(
                conn, begin, end, status=OPEN, limit=open_limit + 1
            )
        monthly = await self.monthly(_month(begin), _month(end)) if self.rules.monthly() else None
        titles = {r.code: r.title for r in self.rules.rules}
        return Panel(
            by_rule=_count_rows(per_rule, titles),
            by_hospital=_count_rows(per_hospital, {}),
            open_flags=[flag_out(r) for r in open_rows[:open_limit]],
            more_open=len(open_rows) > open_limit,
            monthly=monthly.flagged if monthly is not None else [],
            rules=[rule_out(r) for r in self.rules.rules],
        )

    # ------------------------------------------------------------------ the medians

    def median(self, kind: str, key: str, level: int) -> Median | None:
        return self._stats.get((kind, key, level))

    async def load_stats(self) -> None:
        """Hold the stored medians in memory (the outlier rules read them there)."""
        async with self.db.read() as conn:
            rows = await repository.load_stats(conn)
            current = await repository.read_state(conn)
        self._stats = Medians(
            {(r.kind, r.key, int(r.hospital_level)): Median(r.median, int(r.samples)) for r in rows}
        )
        self.stats_refreshed_at = current.refreshed_at if current is not None else None

    async def refresh_stats(self, now: datetime | None = None) -> bool:
        """Copy the new bills' lines, recompute the medians and reload them; ``False`` when
        no outlier rule is enabled or another instance holds the lease."""
        item_rule, bill_rule = self.rules.outlier("item"), self.rules.outlier("bill")
        if item_rule is None and bill_rule is None:
            return False
        now = now or utcnow()
        async with self.db.write() as conn:
            lease = await repository.take_lease(conn, now, now + LEASE)
        if lease is None:
            return False
        try:
            today = now.astimezone(self.local_tz).date()
            rows: list[dict[str, Any]] = []
            watermark = lease.watermark
            if item_rule is not None:
                since = today - timedelta(days=item_rule.window_days)
                watermark = await self._copy_lines(lease.watermark, since, now)
                async with self.db.write() as conn:
                    await repository.delete_samples_before(conn, since)
                async with self.db.read() as conn:
                    medians = await repository.item_medians(conn, since)
                rows.extend(_stats_rows("item", medians, "code", now))
            if bill_rule is not None:
                since = today - timedelta(days=bill_rule.window_days)
                async with self.db.read() as conn:
                    medians = await repository.bill_medians(conn, since)
                rows.extend(_stats_rows("bill", medians, "visit_type", now))
            async with self.db.write() as conn:
                await repository.save_stats(conn, rows, now)
                await repository.finish_refresh(conn, now, watermark)
        except BaseException:
            async with self.db.write() as conn:
                await repository.finish_refresh(conn, None, None)
            raise
        await self.load_stats()
        log.info("supervision medians refreshed: %d groups", len(rows))
        return True

    async def _copy_lines(self, watermark: str | None, since: date, now: datetime) -> str | None:
        """Copy the fee lines of bills settled since the watermark (less :data:`OVERLAP`)
        and inside the window into the samples; the new watermark."""
        if watermark:
            try:
                moment = datetime.strptime(watermark[1:21], "%Y%m%d%H%M%S%f").replace(tzinfo=UTC)
            except ValueError:
                moment = now - timedelta(days=1)
            after = f"S{(moment - OVERLAP).strftime('%Y%m%d%H%M%S%f')}"
        else:
            start = datetime.combine(since, datetime.min.time(), self.local_tz).astimezone(UTC)
            after = f"S{start.strftime('%Y%m%d%H%M%S%f')}"
        last = watermark
        while True:
            async with self.db.read() as conn:
                found = await repository.bills_after(conn, after, SAMPLE_BATCH)
            batch: list[tuple[str, int, str, int, date, Decimal]] = []
            for bill in found:
                if bill.setl_date < since:
                    continue
                for number, item in enumerate(json.loads(bill.items)):
                    amount = item.get("amount")
                    value = (
                        Decimal(amount)
                        if amount is not None
                        else item_amount(Decimal(item["unit_price"]), Decimal(item["quantity"]))
                    )
                    batch.append(  # repository.SAMPLE_COLUMNS
                        (
                            bill.setl_id,
                            number,
                            str(item["code"])[:64],
                            bill.hospital_level,
                            bill.setl_date,
                            value,
                        )
                    )
            if batch:
                async with self.db.write() as conn:
                    await repository.insert_samples(conn, batch)
            if found:
                after = found[-1].setl_id
                last = max(last or after, after)
            if len(found) < SAMPLE_BATCH:
                return last

    async def run(self) -> None:
        """The background task (started in the app's lifespan): load the medians, then
        every little while refresh them when due (another instance may have) and reload.
        Errors are logged, never raised: a settle does not depend on this task."""
        check_s = max(1.0, min(60.0, self.refresh_s / 4))
        while True:
            try:
                await self.load_stats()
                due = (
                    self.stats_refreshed_at is None
                    or (utcnow() - self.stats_refreshed_at).total_seconds() >= self.refresh_s
                )
                if due:
                    await self.refresh_stats()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("supervision medians not refreshed", exc_info=True)
            await asyncio.sleep(check_s)


def _stats_rows(
    kind: str, medians: Sequence[AnyRow], key_column: str, now: datetime
) -> list[dict[str, Any]]:
    return [
        {
            "kind": kind,
            "key": str(getattr(m, key_column))[:64],
            "hospital_level": int(m.hospital_level),
            "median": fen(Decimal(m.middle_sum) / int(m.middle_count)),
            "samples": int(m.n),
            "refreshed_at": now,
        }
        for m in medians
    ]


def _count_rows(rows: Sequence[AnyRow], names: dict[str, str]) -> list[CountRow]:
    out: dict[str, CountRow] = {}
    for row in rows:
        entry = out.setdefault(row.key, CountRow(row.key, names.get(row.key, row.name)))
        if row.status == OPEN:
            entry.open += int(row.n)
        elif row.status == "reviewed-ok":
            entry.ok += int(row.n)
        else:
            entry.recover += int(row.n)
    return sorted(out.values(), key=lambda r: (-r.open, r.key))
