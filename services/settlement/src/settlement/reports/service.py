"""The fund report (amounts and record counts per hospital, fund, aid class, region or day)
and its CSV form. A period's figures are its books: the bills settled in it and the reversals
of the revokes made in it (negative amounts), so a day's figures never change once the day
is over. Every amount is an exact ``Decimal`` sum, so the total row equals the sum over the
records to the fen."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import date
from decimal import Decimal

from settlement.database import AnyRow, Database
from settlement.engine.vocabulary import AID_CLASS_LABELS
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
from shared.money import signed_money_str

ZERO = Decimal("0.00")
CSV_BOM = "\ufeff"
TOTAL_KEY = "TOTAL"


def check_period(begin: date, end: date, *, max_days: int = MAX_REPORT_DAYS) -> None:
    if end < begin:
        raise Unprocessable.field("query.to", "must not be before from")
    if (end - begin).days + 1 > max_days:
        raise Unprocessable.field("query.to", f"the period must not be longer than {max_days} days")


def _row(key: str, name: str, count: int, sums: dict[str, Decimal], reversals: int) -> ReportRow:
    return ReportRow(key=key, name=name, bill_count=count, amounts=sums, reversal_count=reversals)


def _amounts(row: AnyRow, columns: Sequence[str]) -> dict[str, Decimal]:
    return {c: getattr(row, c) or ZERO for c in columns}


def _total(
    rows: Sequence[ReportRow], columns: Sequence[str], count: int, reversals: int
) -> ReportRow:
    sums = {c: sum((r.amounts[c] for r in rows), ZERO) for c in columns}
    return _row(TOTAL_KEY, "合计", count, sums, reversals)


async def fund_report(db: Database, begin: date, end: date, group_by: GroupBy) -> FundReport:
    check_period(begin, end)
    columns: Sequence[str] = FUND_AMOUNTS if group_by == "fund" else BILL_AMOUNTS
    rows: list[ReportRow] = []
    async with db.snapshot() as conn:
        await repository.tune_for_aggregation(conn)
        if group_by == "fund":
            for r in await repository.by_fund(conn, begin, end):
                rows.append(
                    _row(r.key, r.name, r.bill_count, _amounts(r, columns), r.reversal_count)
                )
            count, reversals = await repository.bill_count(conn, begin, end)
        elif group_by in ("hospital", "region"):
            names = await repository.hospital_names(conn)
            per_hospital = await repository.by_bill_column(conn, "hospital_id", begin, end)
            if group_by == "hospital":
                for r in per_hospital:
                    code, name, _ = names.get(r.key, (str(r.key), str(r.key), ""))
                    rows.append(
                        _row(code, name, r.bill_count, _amounts(r, columns), r.reversal_count)
                    )
                rows.sort(key=lambda x: x.key)
            else:
                regions: dict[str, tuple[int, int, dict[str, Decimal]]] = {}
                for r in per_hospital:
                    region = names.get(r.key, ("", "", "?"))[2]
                    n, k, sums = regions.get(region, (0, 0, dict.fromkeys(columns, ZERO)))
                    for c in columns:
                        sums[c] += getattr(r, c) or ZERO
                    regions[region] = (n + r.bill_count, k + r.reversal_count, sums)
                region_names = await regions_repository.names(conn)
                for region in sorted(regions):
                    n, k, sums = regions[region]
                    rows.append(_row(region, region_names.get(region, region), n, sums, k))
            count = sum(r.bill_count for r in rows)
            reversals = sum(r.reversal_count for r in rows)
        else:
            column = "aid_class" if group_by == "aid_class" else "setl_date"
            for r in await repository.by_bill_column(conn, column, begin, end):
                if group_by == "day":
                    key = r.key.isoformat() if isinstance(r.key, date) else str(r.key)
                    name = key
                else:
                    key = str(r.key)
                    name = AID_CLASS_LABELS.get(key, key)
                rows.append(_row(key, name, r.bill_count, _amounts(r, columns), r.reversal_count))
            count = sum(r.bill_count for r in rows)
            reversals = sum(r.reversal_count for r in rows)
    return FundReport(
        from_=begin,
        to=end,
        group_by=group_by,
        columns=list(columns),
        rows=rows,
        total=_total(rows, columns, count, reversals),
    )


def report_csv(report: FundReport) -> str:
    """The report as CSV text starting with a UTF-8 byte-order mark (so spreadsheet programs
    read the Chinese names correctly): a header row, one row per group, then the total row.
    ``reversal_count`` is the last column (after the amounts, so the earlier columns keep
    their places)."""
    out = io.StringIO()
    out.write(CSV_BOM)
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([report.group_by, "name", "bill_count", *report.columns, "reversal_count"])
    for row in [*report.rows, report.total]:
        writer.writerow(
            [
                row.key,
                row.name,
                row.bill_count,
                *(signed_money_str(row.amounts[c]) for c in report.columns),
                row.reversal_count,
            ]
        )
    return out.getvalue()
