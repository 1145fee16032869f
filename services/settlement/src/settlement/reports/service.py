"""The fund report (amounts and bill counts per hospital, fund, aid class, region or day) and
its CSV form. Revoked bills are left out; every amount is an exact ``Decimal`` sum, so the
total row equals the sum over the bills to the fen."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import date
from decimal import Decimal

from settlement.database import AnyRow, Database
from settlement.receipts.service import AID_CLASS_LABELS
from settlement.regions import repository as regions_repository
from settlement.reports import repository
from settlement.reports.schemas import (
    BILL_AMOUNTS,
    FUND_AMOUNTS,
    MAX_REPORT_DAYS,
    FundReport,
    GroupBy,
    ReportRow,
)
from shared.errors import Unprocessable

ZERO = Decimal("0.00")
CSV_BOM = "\ufeff"
TOTAL_KEY = "TOTAL"


def check_period(begin: date, end: date, *, max_days: int = MAX_REPORT_DAYS) -> None:
    if end < begin:
        raise Unprocessable.field("query.to", "must not be before from")
    if (end - begin).days + 1 > max_days:
        raise Unprocessable.field("query.to", f"the period must not be longer than {max_days} days")


def _row(key: str, name: str, count: int, sums: dict[str, Decimal]) -> ReportRow:
    return ReportRow(key=key, name=name, bill_count=count, amounts=sums)


def _amounts(row: AnyRow, columns: Sequence[str]) -> dict[str, Decimal]:
    return {c: getattr(row, c) or ZERO for c in columns}


def _total(rows: Sequence[ReportRow], columns: Sequence[str], count: int) -> ReportRow:
    sums = {c: sum((r.amounts[c] for r in rows), ZERO) for c in columns}
    return _row(TOTAL_KEY, "合计", count, sums)


async def fund_report(db: Database, begin: date, end: date, group_by: GroupBy) -> FundReport:
    check_period(begin, end)
    columns: Sequence[str] = FUND_AMOUNTS if group_by == "fund" else BILL_AMOUNTS
    rows: list[ReportRow] = []
    async with db.read() as conn:
        await repository.tune_for_aggregation(conn)
        if group_by == "fund":
            for r in await repository.by_fund(conn, begin, end):
                rows.append(_row(r.key, r.name, r.bill_count, _amounts(r, columns)))
            count = await repository.bill_count(conn, begin, end)
        elif group_by in ("hospital", "region"):
            names = await repository.hospital_names(conn)
            per_hospital = await repository.by_bill_column(conn, "hospital_id", begin, end)
            if group_by == "hospital":
                for r in per_hospital:
                    code, name, _ = names.get(r.key, (str(r.key), str(r.key), ""))
                    rows.append(_row(code, name, r.bill_count, _amounts(r, columns)))
                rows.sort(key=lambda x: x.key)
            else:
                regions: dict[str, tuple[int, dict[str, Decimal]]] = {}
                for r in per_hospital:
                    region = names.get(r.key, ("", "", "?"))[2]
                    n, sums = regions.get(region, (0, dict.fromkeys(columns, ZERO)))
                    for c in columns:
                        sums[c] += getattr(r, c) or ZERO
                    regions[region] = (n + r.bill_count, sums)
                region_names = await regions_repository.names(conn)
                for region in sorted(regions):
                    n, sums = regions[region]
                    rows.append(_row(region, region_names.get(region, region), n, sums))
            count = sum(r.bill_count for r in rows)
        else:
            column = "aid_class" if group_by == "aid_class" else "setl_date"
            for r in await repository.by_bill_column(conn, column, begin, end):
                if group_by == "day":
                    key = r.key.isoformat() if isinstance(r.key, date) else str(r.key)
                    name = key
                else:
                    key = str(r.key)
                    name = AID_CLASS_LABELS.get(key, key)
                rows.append(_row(key, name, r.bill_count, _amounts(r, columns)))
            count = sum(r.bill_count for r in rows)
    return FundReport(
        from_=begin,
        to=end,
        group_by=group_by,
        columns=list(columns),
        rows=rows,
        total=_total(rows, columns, count),
    )


def report_csv(report: FundReport) -> str:
    """The report as CSV text starting with a UTF-8 byte-order mark (so spreadsheet programs
    read the Chinese names correctly): a header row, one row per group, then the total row."""
    out = io.StringIO()
    out.write(CSV_BOM)
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([report.group_by, "name", "bill_count", *report.columns])
    for row in [*report.rows, report.total]:
        writer.writerow(
            [row.key, row.name, row.bill_count, *(f"{row.amounts[c]:.2f}" for c in report.columns)]
        )
    return out.getvalue()
