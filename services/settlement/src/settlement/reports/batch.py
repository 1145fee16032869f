"""``medaid-settlement report``: the fund report on standard output (JSON or CSV)."""

from __future__ import annotations

import asyncio
import sys
from datetime import date
from typing import TextIO

from settlement.config import Settings
from settlement.database import Database
from settlement.reports.schemas import FundReport, GroupBy
from settlement.reports.service import fund_report, report_csv
from shared.errors import Problem


def print_report(
    settings: Settings,
    begin: date,
    end: date,
    group_by: GroupBy,
    *,
    as_csv: bool,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """Print the report (CSV: UTF-8 with a byte-order mark, as the API serves it). Returns the
    exit code: 0, or 2 when the period is wrong."""
    out = out or sys.stdout
    err = err or sys.stderr

    async def run() -> FundReport:
        db = Database.from_url(settings.database_url, pool_size=1)
        try:
            return await fund_report(db, begin, end, group_by)
        finally:
            await db.dispose()

    try:
        report = asyncio.run(run())
    except Problem as exc:
        print(f"error: {exc.detail}", file=err)
        return 2
    if as_csv:
        out.write(report_csv(report))
    else:
        out.write(report.model_dump_json(by_alias=True, indent=2) + "\n")
    return 0
