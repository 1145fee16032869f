"""Catalogue and mapping imports (all or nothing), and what the catalogue endpoints read.

A catalogue import:

1. reads and checks the file on its own (:mod:`settlement.catalogue.csvfile`); any problem
   → 422 listing every one, nothing read or written;
2. in one write transaction, takes the catalogue's lock (one import at a time), reads the
   stored versions of the file's codes and merges the file into them
   (:mod:`settlement.catalogue.ranges`); a file row that overlaps the catalogue → 422;
3. deletes the stored versions it replaces or closes and writes the new and changed ones in
   one bulk insert (``COPY`` on PostgreSQL), records the import, moves the ``catalogue``
   counter and appends to the audit log; then reloads this process's cache.

A file that changes nothing writes nothing. Bills already settled are never touched: each
bill keeps the lines it was classified with.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Sequence
from importlib.resources import files

from settlement.audit.repository import append
from settlement.catalogue import repository
from settlement.catalogue.cache import CatalogueCache
from settlement.catalogue.csvfile import (
    MAPPING_HEADER,
    RowError,
    parse_catalogue,
    parse_mapping,
)
from settlement.catalogue.ranges import Merged, Version, merge
from settlement.catalogue.schemas import (
    CatalogueImportResult,
    CatalogueStatus,
    EntryVersion,
    EntryVersions,
    LastImport,
    MappingImportResult,
    MappingOut,
    MappingPage,
)
from settlement.database import Conn, Database, utcnow
from settlement.hospitals.repository import HospitalRef
from settlement.hospitals.repository import by_code as hospital_by_code
from shared.csvfiles import FileRejected
from shared.errors import NotFound, Unprocessable

MAX_REPORTED_ERRORS = 10_000
"""A 422 lists at most this many problems (``error_count`` gives the total)."""


class ImportRejected(FileRejected):
    """The file cannot be imported; ``errors`` lists every problem as {row, column, field,
    message} (row = line number, header = 1); ``row_errors`` keeps them all, in order."""

    def __init__(self, errors: Sequence[RowError]) -> None:
        ordered = sorted(errors, key=lambda e: (e.row, e.column or ""))
        super().__init__(ordered[:MAX_REPORTED_ERRORS], len(ordered))
        self.row_errors = ordered


async def _merge(
    conn: Conn, incoming: dict[str, list[Version]], file_errors: Sequence[RowError] = ()
) -> Merged:
    """The file's valid rows merged into the stored catalogue; a 422 naming every problem,
    the file's own (``file_errors``) and the rows that overlap the catalogue."""
    stored: dict[str, list[Version]] = defaultdict(list)
    for row in await repository.entries_of(conn, list(incoming)):
        stored[row[0]].append(Version(*row))
    merged = merge(stored, incoming)
    if file_errors or merged.errors:
        raise ImportRejected([*file_errors, *merged.errors])
    return merged


def _header_problem(errors: Sequence[RowError]) -> bool:
    """A file refused before its rows are read (encoding, header, empty)."""
    return any(e.row == 1 for e in errors) or (len(errors) == 1 and errors[0].column is None)


class CatalogueService:
    """Imports and reads of the catalogue; keeps this process's cache current."""

    def __init__(self, db: Database, cache: CatalogueCache | None = None) -> None:
        """``cache``: this process's, made to reload before its next bill after each import
        that changes something (None for a command-line import: the servers see it within
        their check interval)."""
        self.db = db
        self.cache = cache

    def _changed(self) -> None:
        if self.cache is not None:
            self.cache.invalidate()

    async def hospital(self, code: str) -> HospitalRef:
        """The hospital an administrator names (``hospital_code``); a 422 naming the field
        when there is none."""
        async with self.db.read() as conn:
            hospital = await hospital_by_code(conn, code)
        if hospital is None:
            raise Unprocessable.field("hospital_code", f"no hospital has the code {code!r}")
        return hospital

    async def import_catalogue(
        self, data: bytes, *, actor: str, request_id: str | None, dry_run: bool = False
    ) -> CatalogueImportResult:
        """Check ``data`` and (unless ``dry_run``) apply it; raises :class:`ImportRejected`."""
        parsed = parse_catalogue(data)
        if parsed.errors and (_header_problem(parsed.errors) or not parsed.rows):
            raise ImportRejected(parsed.errors)
        incoming: dict[str, list[Version]] = defaultdict(list)
        for row in parsed.rows:
            incoming[row.med_list_codg].append(row)
        rows, codes = len(parsed.rows), len(incoming)
        if dry_run:
            async with self.db.read() as conn:
                merged = await _merge(conn, incoming, parsed.errors)
                version = (await repository.all_versions(conn)).get(repository.CATALOGUE_KEY, 0)
            return _catalogue_result(merged, rows, codes, version, dry_run=True)
        import_id: int | None = None
        async with self.db.write() as conn:
            await repository.lock(conn)
            merged = await _merge(conn, incoming, parsed.errors)
            if merged.write:
                now = utcnow()
                import_id = await repository.insert_import(
                    conn,
                    {
                        "kind": "catalogue",
                        "hospital_id": None,
                        "actor": actor[:64],
                        "imported_at": now,
                        "sha256": hashlib.sha256(data).hexdigest(),
                        "rows": rows,
                        "added": merged.added,
                        "replaced": merged.replaced,
                        "closed": merged.closed,
                        "unchanged": merged.unchanged,
                    },
                )
                await repository.delete_entries(conn, merged.remove)
                tail = (import_id,)
                await repository.insert_entries(conn, [v[:7] + tail for v in merged.write])
                await repository.bump(conn, repository.CATALOGUE_KEY, now)
                await append(
                    conn,
                    actor=actor,
                    action="catalogue.import",
                    subject=f"catalogue import {import_id}",
                    request_id=request_id,
                    detail={
                        "rows": rows,
                        "codes": codes,
                        "added": merged.added,
                        "replaced": merged.replaced,
                        "closed": merged.closed,
                        "unchanged": merged.unchanged,
                    },
                )
            version = (await repository.all_versions(conn)).get(repository.CATALOGUE_KEY, 0)
        if merged.write:
            self._changed()
        result = _catalogue_result(merged, rows, codes, version, dry_run=False)
        result.import_id = import_id
        return result

    async def import_mapping(
        self,
        hospital: HospitalRef,
        data: bytes,
        *,
        actor: str,
        request_id: str | None,
        dry_run: bool = False,
    ) -> MappingImportResult:
        """Check a hospital's mapping file and (unless ``dry_run``) apply it: each own code
        is mapped to the national code of its row (added, or replacing its earlier one); own
        codes the file does not list keep theirs. A national code the catalogue does not hold
        is refused on its row."""
        parsed = parse_mapping(data)
        if parsed.errors and (_header_problem(parsed.errors) or not parsed.rows):
            raise ImportRejected(parsed.errors)
        rows = parsed.rows
        result = MappingImportResult(
            dry_run=dry_run,
            changed=False,
            import_id=None,
            hospital_code=hospital.code,
            rows=len(rows),
            added=0,
            replaced=0,
            unchanged=0,
        )
        block = self.db.read() if dry_run else self.db.write()
        async with block as conn:
            if not dry_run:
                await repository.lock(conn)
            known = await repository.known_codes(conn, sorted({r.med_list_codg for r in rows}))
            unknown = [
                RowError(
                    r.line,
                    "med_list_codg",
                    f"{r.med_list_codg} is not in the catalogue (import it first)",
                )
                for r in rows
                if r.med_list_codg not in known
            ]
            if parsed.errors or unknown:
                raise ImportRejected([*parsed.errors, *unknown])
            stored = await repository.mappings_of_codes(
                conn, hospital.id, [r.medins_list_codg for r in rows]
            )
            changes = [r for r in rows if stored.get(r.medins_list_codg) != r.med_list_codg]
            result.added = sum(1 for r in changes if r.medins_list_codg not in stored)
            result.replaced = len(changes) - result.added
            result.unchanged = len(rows) - len(changes)
            if dry_run or not changes:
                return result
            now = utcnow()
            import_id = await repository.insert_import(
                conn,
                {
                    "kind": "mapping",
                    "hospital_id": hospital.id,
                    "actor": actor[:64],
                    "imported_at": now,
                    "sha256": hashlib.sha256(data).hexdigest(),
                    "rows": len(rows),
                    "added": result.added,
                    "replaced": result.replaced,
                    "closed": 0,
                    "unchanged": result.unchanged,
                },
            )
            await repository.delete_mappings(
                conn,
                hospital.id,
                [r.medins_list_codg for r in changes if r.medins_list_codg in stored],
            )
            await repository.insert_mappings(
                conn,
                [(hospital.id, r.medins_list_codg, r.med_list_codg, import_id) for r in changes],
            )
            await repository.bump(conn, repository.hospital_key(hospital.id), now)
            await append(
                conn,
                actor=actor,
                action="catalogue.mapping",
                subject=hospital.code,
                request_id=request_id,
                detail={
                    "import_id": import_id,
                    "rows": len(rows),
                    "added": result.added,
                    "replaced": result.replaced,
                    "unchanged": result.unchanged,
                },
            )
        self._changed()
        result.changed = True
        result.import_id = import_id
        return result

    async def mapping_page(self, hospital: HospitalRef, *, after: str, limit: int) -> MappingPage:
        async with self.db.read() as conn:
            rows = await repository.mapping_page(conn, hospital.id, after=after, limit=limit + 1)
            total = await repository.count_mappings(conn, hospital.id)
        more = len(rows) > limit
        rows = rows[:limit]
        return MappingPage(
            hospital_code=hospital.code,
            total=total,
            items=[
                MappingOut(medins_list_codg=r.medins_list_codg, med_list_codg=r.med_list_codg)
                for r in rows
            ],
            next_after=rows[-1].medins_list_codg if more and rows else None,
        )

    async def mapping_csv(self, hospital: HospitalRef) -> str:
        """The hospital's whole mapping in the import's format (UTF-8 with a byte-order mark,
        so spreadsheets read it; the import accepts it as it is)."""
        async with self.db.read() as conn:
            mapping = await repository.mapping_of(conn, hospital.id)
        lines = [",".join(MAPPING_HEADER)]
        lines += [f"{own},{national}" for own, national in sorted(mapping.items())]
        return "\ufeff" + "\r\n".join(lines) + "\r\n"

    async def status(self) -> CatalogueStatus:
        async with self.db.read() as conn:
            entries, codes = await repository.counts(conn)
            version = (await repository.all_versions(conn)).get(repository.CATALOGUE_KEY, 0)
            last = await repository.last_catalogue_import(conn)
        return CatalogueStatus(
            loaded=entries > 0,
            version=version,
            entries=entries,
            codes=codes,
            last_import=None
            if last is None
            else LastImport(
                import_id=last.id,
                imported_at=last.imported_at,
                actor=last.actor,
                rows=last.rows,
                added=last.added,
                replaced=last.replaced,
                closed=last.closed,
                unchanged=last.unchanged,
            ),
        )

    async def entry_versions(self, code: str) -> EntryVersions:
        """Every version of a national code, oldest first; 404 when the catalogue lacks it."""
        async with self.db.read() as conn:
            rows = await repository.versions_of(conn, code)
        if not rows:
            raise NotFound(f"The catalogue has no national code {code}.")
        return EntryVersions(
            med_list_codg=code,
            versions=[
                EntryVersion(
                    med_list_name=r.med_list_name,
                    chrgitm_lv=r.chrgitm_lv,
                    selfpay_prop=r.selfpay_prop,
                    pric_uplmt_amt=r.pric_uplmt_amt,
                    begndate=r.begndate,
                    enddate=r.enddate,
                )
                for r in rows
            ],
        )


def _catalogue_result(
    merged: Merged, rows: int, codes: int, version: int, *, dry_run: bool
) -> CatalogueImportResult:
    return CatalogueImportResult(
        dry_run=dry_run,
        changed=bool(merged.write) and not dry_run,
        import_id=None,
        rows=rows,
        codes=codes,
        added=merged.added,
        replaced=merged.replaced,
        closed=merged.closed,
        unchanged=merged.unchanged,
        version=version,
    )


DEMO_CATALOGUE = "catalogue.csv"


def demo_file(name: str) -> bytes:
    """A file of the demo catalogue shipped with the package (``catalogue/demo/``)."""
    return (files("settlement.catalogue") / "demo" / name).read_bytes()


async def seed_demo_catalogue(
    service: CatalogueService, hospital_codes: Sequence[str]
) -> list[str]:
    """Load the demo catalogue and the demo hospitals' mappings (``seed-demo``); repeating it
    changes nothing. One line per file."""
    result = await service.import_catalogue(
        demo_file(DEMO_CATALOGUE), actor="seed-demo", request_id=None
    )
    lines = [
        f"catalogue: {result.rows} rows, {result.added} versions added, "
        f"{result.unchanged} unchanged (version {result.version})"
    ]
    for code in hospital_codes:
        hospital = await service.hospital(code)
        mapped = await service.import_mapping(
            hospital, demo_file(f"mapping-{code}.csv"), actor="seed-demo", request_id=None
        )
        lines.append(
            f"mapping of {code}: {mapped.rows} codes, {mapped.added} added, "
            f"{mapped.unchanged} unchanged"
        )
    return lines
