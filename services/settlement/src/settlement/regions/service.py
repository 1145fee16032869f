"""Adding and renaming regions (API, CLI and CSV import share this), and the CSV format."""

from __future__ import annotations

import csv
import io

from pydantic import ValidationError

from settlement.audit.repository import append
from settlement.database import Database
from settlement.regions import repository
from settlement.regions.schemas import RegionIn, RegionList, RegionOut, RegionsChanged
from shared.errors import Unprocessable

CSV_COLUMNS = ("code", "name")
DEMO_REGIONS = (("370305", "淄博市临淄区"),)
"""The region of the demo hospitals (``seed-demo``)."""


async def save_regions(
    db: Database, regions: list[RegionIn], *, actor: str, request_id: str | None
) -> RegionsChanged:
    """Add new codes and rename known ones in one transaction (audited)."""
    seen: dict[str, int] = {}
    for index, region in enumerate(regions):
        if region.code in seen:
            raise Unprocessable.field(
                f"regions[{index}].code",
                f"{region.code} is listed twice (also at {seen[region.code]})",
            )
        seen[region.code] = index
    entries = [(r.code, r.name) for r in regions]
    async with db.write() as conn:
        added, renamed = await repository.upsert(conn, entries)
        if added or renamed:
            await append(
                conn,
                actor=actor,
                action="region.save",
                subject=entries[0][0] if len(entries) == 1 else f"{len(entries)} regions",
                request_id=request_id,
                detail={"regions": dict(entries), "added": added, "renamed": renamed},
            )
    return RegionsChanged(added=added, renamed=renamed, unchanged=len(entries) - added - renamed)


async def list_regions(db: Database) -> RegionList:
    async with db.read() as conn:
        rows = await repository.all_regions(conn)
    return RegionList(
        items=[RegionOut(code=r.code, name=r.name, updated_at=r.updated_at) for r in rows]
    )


class RegionFileError(ValueError):
    """A region CSV file that cannot be imported; ``errors`` has one line per problem."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors


def parse_regions_csv(text: str) -> list[RegionIn]:
    """``code,name`` with a header row (UTF-8, byte-order mark allowed; other columns are
    ignored). Every bad line is reported."""
    reader = csv.DictReader(io.StringIO(text.removeprefix("\ufeff")))
    header = [h.strip() for h in reader.fieldnames or []]
    missing = [c for c in CSV_COLUMNS if c not in header]
    if missing:
        raise RegionFileError(
            [f"line 1: the header must name the columns {', '.join(CSV_COLUMNS)}"]
        )
    reader.fieldnames = header
    regions: list[RegionIn] = []
    errors: list[str] = []
    for row in reader:
        line = reader.line_num
        if not any((value or "").strip() for value in row.values() if isinstance(value, str)):
            continue
        try:
            regions.append(RegionIn.model_validate({c: row.get(c) or "" for c in CSV_COLUMNS}))
        except ValidationError as exc:
            for error in exc.errors():
                errors.append(f"line {line}: {error['loc'][0]}: {error['msg']}")
    if errors:
        raise RegionFileError(errors)
    if not regions:
        raise RegionFileError(["the file lists no region"])
    return regions
