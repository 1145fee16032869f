"""The administrator's page: the session cookie, the fund chart and the page's data.

The session cookie carries no secret: it is ``v1.<expiry>.<HMAC-SHA256 of the expiry under the
admin token>``, so it expires by itself, works on every instance behind a load balancer and
stops working when the admin token is rotated. It is HttpOnly, SameSite=Strict and scoped to
``/admin``."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from settlement.admin import repository
from settlement.database import AnyRow, Database
from settlement.engine.vocabulary import SETLINFO_FUND_LABELS
from settlement.reconciliation.schemas import ReconciliationDetailOut, ReconciliationOut
from settlement.reconciliation.service import get_reconciliation, list_reconciliations
from settlement.reports.schemas import FundReport
from settlement.reports.service import fund_report
from shared.security import secrets_equal

COOKIE_NAME = "medaid_admin"
COOKIE_PATH = "/admin"
SESSION_SECONDS = 8 * 3600
_CONTEXT = b"medaid-admin-session-v1|"

SERIES = tuple(
    (field, SETLINFO_FUND_LABELS[field], colour)
    for field, colour in (
        ("hifp_pay", "#1f6fb4"),
        ("hifmi_pay", "#c0392b"),
        ("maf_pay", "#27853a"),
        ("oth_pay", "#8e44ad"),
    )
)
"""The chart's lines: the ``setlinfo`` field, its label on the page, its colour."""
PERIOD_BILLS = 500
"""A summary reconciliation's page lists at most this many of the period's bills."""
MAX_DAYS_PER_POINT = 92
"""Longer periods are drawn per month."""


def _signature(admin_token: str, expires: int) -> str:
    message = _CONTEXT + str(expires).encode("ascii")
    return hmac.new(admin_token.encode("utf-8"), message, hashlib.sha256).hexdigest()


def new_session(admin_token: str, now: float | None = None) -> str:
    expires = int(now if now is not None else time.time()) + SESSION_SECONDS
    return f"v1.{expires}.{_signature(admin_token, expires)}"


def valid_session(cookie: str | None, admin_token: str | None, now: float | None = None) -> bool:
    if not cookie or not admin_token or len(cookie) > 200:
        return False
    parts = cookie.split(".")
    if len(parts) != 3 or parts[0] != "v1" or not parts[1].isdigit():
        return False
    expires = int(parts[1])
    if expires < (now if now is not None else time.time()):
        return False
    return secrets_equal(parts[2], _signature(admin_token, expires))


FONT_SIZE = 12
"""Of the chart's axis labels, in the chart's own units."""
CHAR_WIDTH = 0.62 * FONT_SIZE
"""A generous width of one digit or punctuation mark of an axis label."""


@dataclass
class Chart:
    """An SVG line chart computed on the server: coordinates in a ``width × height`` box that
    the page stretches to the width of its card. The margins leave room for the axis labels:
    ``left`` grows with the longest amount, ``right`` holds half of the last date label."""

    width: int = 1100
    height: int = 300
    left: int = 80
    right: int = 36
    top: int = 14
    bottom: int = 30
    lines: list[dict[str, str]] = field(default_factory=list)
    y_ticks: list[tuple[float, str]] = field(default_factory=list)
    x_ticks: list[tuple[float, str]] = field(default_factory=list)
    per: str = "day"
    empty: bool = True


def _nice_max(value: Decimal) -> Decimal:
    if value <= 0:
        return Decimal(100)
    exponent = len(str(int(value))) - 1
    base = Decimal(10) ** exponent
    for step in (1, 2, 5, 10):
        if value <= base * step:
            return base * step
    return base * 10  # pragma: no cover


def _month_start(d: date) -> date:
    return d.replace(day=1)


def fund_chart(report: FundReport) -> Chart:
    """Fund payments per day (per month for periods longer than 92 days), one line a fund:
    the net of the bills settled and the reversals booked that day, so a day of reversals
    goes below zero (the axis then reaches below zero too)."""
    begin, end = report.from_, report.to
    per_month = (end - begin).days + 1 > MAX_DAYS_PER_POINT
    buckets: list[date] = []
    cursor = begin
    while cursor <= end:
        bucket = _month_start(cursor) if per_month else cursor
        if not buckets or buckets[-1] != bucket:
            buckets.append(bucket)
        cursor += timedelta(days=1)
    values = {b: dict.fromkeys((s[0] for s in SERIES), Decimal(0)) for b in buckets}
    for row in report.rows:
        day = date.fromisoformat(row.key)
        bucket = _month_start(day) if per_month else day
        if bucket in values:
            for name, _, _ in SERIES:
                values[bucket][name] += row.amounts[name]
    chart = Chart(per="month" if per_month else "day", empty=not report.rows)
    peak = max((v for b in values.values() for v in b.values()), default=Decimal(0))
    low = min((v for b in values.values() for v in b.values()), default=Decimal(0))
    top_value = _nice_max(peak) if peak > 0 or low >= 0 else Decimal(0)
    bottom_value = -_nice_max(-low) if low < 0 else Decimal(0)
    span = top_value - bottom_value
    y_values = [bottom_value + span * i / 4 for i in range(5)]
    y_labels = [f"{value:,.0f}" for value in y_values]
    chart.left = max(chart.left, int(max(len(t) for t in y_labels) * CHAR_WIDTH) + 14)
    x_label = "2026-12" if per_month else "12-31"
    chart.right = max(chart.right, int(len(x_label) * CHAR_WIDTH / 2) + 8)
    plot_w = chart.width - chart.left - chart.right
    plot_h = chart.height - chart.top - chart.bottom
    n = len(buckets)

    def x(index: int) -> float:
        return round(chart.left + (plot_w * index / (n - 1) if n > 1 else plot_w / 2), 1)

    def y(value: Decimal) -> float:
        return round(chart.top + plot_h - float((value - bottom_value) / span) * plot_h, 1)

    for name, label, colour in SERIES:
        points = " ".join(f"{x(i)},{y(values[b][name])}" for i, b in enumerate(buckets))
        total = sum((values[b][name] for b in buckets), Decimal(0))
        chart.lines.append(
            {
                "name": name,
                "label": label,
                "colour": colour,
                "points": points,
                "total": f"{total:.2f}",
            }
        )
    for value, label in zip(y_values, y_labels, strict=True):
        chart.y_ticks.append((y(value), label))
    label_every = max(1, -(-n // 10))  # at most about ten date labels
    for i, b in enumerate(buckets):
        last = i == n - 1
        if last or (i % label_every == 0 and n - 1 - i >= label_every / 2):
            chart.x_ticks.append((x(i), b.strftime("%Y-%m") if per_month else b.strftime("%m-%d")))
    return chart


@dataclass
class Dashboard:
    begin: date
    end: date
    chart: Chart
    by_hospital: FundReport
    by_aid_class: FundReport
    by_region: FundReport
    reconciliations: list[ReconciliationOut]
    query: str
    results: Sequence[AnyRow]


async def dashboard(db: Database, begin: date, end: date, query: str) -> Dashboard:
    by_day = await fund_report(db, begin, end, "day")
    by_hospital = await fund_report(db, begin, end, "hospital")
    by_aid_class = await fund_report(db, begin, end, "aid_class")
    by_region = await fund_report(db, begin, end, "region")
    latest, _ = await list_reconciliations(
        db, hospital_id=None, matched=None, before=None, limit=20
    )
    latest.sort(key=lambda r: r.matched)  # stable: mismatches first, each newest first
    results: Sequence[AnyRow] = []
    if query.strip():
        async with db.read() as conn:
            results = await repository.search_bills(conn, query)
    return Dashboard(
        begin=begin,
        end=end,
        chart=fund_chart(by_day),
        by_hospital=by_hospital,
        by_aid_class=by_aid_class,
        by_region=by_region,
        reconciliations=latest,
        query=query,
        results=results,
    )


@dataclass
class ReconciliationView:
    """One stored reconciliation with the bills behind it: a detail reconciliation's
    mismatching rows (stored with it); for a summary, the service's bills of its period."""

    reconciliation: ReconciliationDetailOut
    bills: Sequence[AnyRow]
    more_bills: bool


async def reconciliation_view(db: Database, reconciliation_id: int) -> ReconciliationView:
    """Raises ``NotFound`` for an unknown id."""
    stored = await get_reconciliation(db, reconciliation_id, hospital_id=None)
    bills: Sequence[AnyRow] = []
    more = False
    if stored.kind == "summary":
        async with db.read() as conn:
            bills = await repository.bills_of_period(
                conn,
                stored.hospital_code,
                stored.begin_date,
                stored.end_date,
                visit_type=stored.visit_type,
                include_revoked=stored.include_revoked,
                limit=PERIOD_BILLS + 1,
            )
        more = len(bills) > PERIOD_BILLS
        bills = bills[:PERIOD_BILLS]
    return ReconciliationView(reconciliation=stored, bills=bills, more_bills=more)
