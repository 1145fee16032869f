"""``medaid-settlement reconcile``: a detail reconciliation from a file, for batch jobs."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path
from typing import TextIO

from settlement.config import Settings
from settlement.database import Database
from settlement.reconciliation import service
from settlement.reconciliation.parsing import BookBill, parse_json, parse_tsv
from settlement.reconciliation.schemas import MAX_DETAIL_DAYS, RESULT_NAMES, check_period
from shared.errors import Problem

CHUNK = 64 * 1024
LABELS = {"0": "matched", "1": "service only", "2": "hospital only", "3": "inconsistent"}


async def _file_chunks(path: Path) -> AsyncIterator[bytes]:
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            yield chunk


def _is_json(path: Path) -> bool:
    if path.suffix.lower() == ".json":
        return True
    with path.open("rb") as handle:
        start = handle.read(64).lstrip(b"\xef\xbb\xbf \t\r\n")
    return start.startswith(b"{")


async def _books(path: Path) -> dict[str, BookBill]:
    if _is_json(path):
        return parse_json(path.read_bytes()).bills
    return await parse_tsv(_file_chunks(path))


def reconcile_file(
    settings: Settings,
    hospital_code: str,
    begin: date,
    end: date,
    path: Path,
    *,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """Run a detail reconciliation of ``path`` (TSV with a header row, or JSON) and print the
    counts and the mismatching bills. Returns the exit code: 0 matched, 1 mismatches, 2 the
    input or the hospital is wrong."""
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        check_period(begin, end, MAX_DETAIL_DAYS)
    except ValueError as exc:
        print(f"error: --to: {exc}", file=err)
        return 2

    async def run() -> service.DetailOutcome:
        db = Database.from_url(settings.database_url, pool_size=1)
        try:
            books = await _books(path)
            hospital = await service.target_hospital(db, None, hospital_code)
            return await service.reconcile_detail(
                db, hospital, begin, end, books, actor="cli", request_id=None
            )
        finally:
            await db.dispose()

    try:
        outcome = asyncio.run(run())
    except Problem as exc:
        print(f"error: {exc.detail}", file=err)
        for entry in (exc.errors or [])[:100]:
            print(f"  {entry.get('field')}: {entry.get('message')}", file=err)
        return 2
    print(
        f"hospital {outcome.hospital_code}, {begin.isoformat()} to {end.isoformat()}: "
        f"{outcome.service_bill_count} records (bills and reversals) in the service, "
        f"{outcome.hospital_bill_count} in {path.name}",
        file=out,
    )
    for code in ("0", "1", "2", "3"):
        print(
            f"{code} {LABELS[code]} ({RESULT_NAMES[code]}): {outcome.counts[code]}",
            file=out,
        )
    mismatches = outcome.mismatches
    if mismatches:
        print("mismatches:", file=out)
        print(
            "setl_id\tresult\tvisit_id\tstatus\tmedfee_sumamt\tfund_pay_sumamt\tdiffers"
            "\trefd_setl_flag",
            file=out,
        )
        for setl_id, result, visit_id, status, medfee, fund, differences, refd, _ in mismatches:
            differs = "; ".join(
                f"{d['field']}: hospital {d['hospital']}, service {d['service']}"
                for d in differences
            )
            print(
                f"{setl_id}\t{result}\t{visit_id or ''}\t{status or ''}\t"
                f"{'' if medfee is None else f'{medfee:.2f}'}\t"
                f"{'' if fund is None else f'{fund:.2f}'}\t{differs}\t{refd}",
                file=out,
            )
    verdict = "matched" if outcome.matched else "NOT matched"
    print(f"reconciliation #{outcome.reconciliation_id} stored: {verdict}", file=out)
    return 0 if outcome.matched else 1
