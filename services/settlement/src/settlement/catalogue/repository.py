"""Catalogue entries, hospitals' mappings, imports and version counters: every statement of
the catalogue, written once as Core."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import bindparam, delete, distinct, func, insert, select, update

from settlement.catalogue.models import (
    CatalogueEntry,
    CatalogueImport,
    CatalogueMapping,
    CatalogueVersion,
)
from settlement.database import AnyRow, Conn, table_of

entries = table_of(CatalogueEntry)
mappings = table_of(CatalogueMapping)
imports = table_of(CatalogueImport)
versions = table_of(CatalogueVersion)

CATALOGUE_KEY = "catalogue"
CHUNK = 5000
"""Keys per ``IN (…)`` list: well under PostgreSQL's 32,767 parameters a statement."""

ENTRY_COLUMNS = (
    "med_list_codg",
    "med_list_name",
    "chrgitm_lv",
    "selfpay_prop",
    "pric_uplmt_amt",
    "begndate",
    "enddate",
    "import_id",
)
MAPPING_COLUMNS = ("hospital_id", "medins_list_codg", "med_list_codg", "import_id")


def hospital_key(hospital_id: int) -> str:
    """The version counter of a hospital's mapping."""
    return f"hospital:{hospital_id}"


T = TypeVar("T")


def _chunks(values: Sequence[T]) -> list[Sequence[T]]:
    return [values[i : i + CHUNK] for i in range(0, len(values), CHUNK)]


# ----------------------------------------------------------------------------- versions

_LOCK = select(versions.c.version).where(versions.c.name == CATALOGUE_KEY).with_for_update()
_VERSIONS = select(versions.c.name, versions.c.version)
_VERSION = select(versions.c.version).where(versions.c.name == bindparam("counter"))
_BUMP = (
    update(versions)
    .where(versions.c.name == bindparam("counter"))
    .values(version=versions.c.version + 1, updated_at=bindparam("now"))
)
_NEW_VERSION = insert(versions)


async def lock(conn: Conn) -> None:
    """Take the catalogue's write lock (its counter row, ``FOR UPDATE`` on PostgreSQL; SQLite
    serialises write transactions): one catalogue or mapping import at a time."""
    await conn.execute(_LOCK)


async def all_versions(conn: Conn) -> dict[str, int]:
    """Every counter: ``catalogue`` and ``hospital:<id>``."""
    return {r.name: int(r.version) for r in await conn.execute(_VERSIONS)}


async def bump(conn: Conn, counter: str, now: datetime) -> None:
    """Move a counter on (creating it at 1), under the lock."""
    if (await conn.execute(_VERSION, {"counter": counter})).first() is None:
        await conn.execute(_NEW_VERSION, {"name": counter, "version": 1, "updated_at": now})
    else:
        await conn.execute(_BUMP, {"counter": counter, "now": now})


# ----------------------------------------------------------------------------- imports

_INSERT_IMPORT = insert(imports).returning(imports.c.id)
_LAST_IMPORT = (
    select(imports).where(imports.c.kind == "catalogue").order_by(imports.c.id.desc()).limit(1)
)


async def insert_import(conn: Conn, values: dict[str, Any]) -> int:
    return int((await conn.execute(_INSERT_IMPORT, values)).scalar_one())


async def last_catalogue_import(conn: Conn) -> AnyRow | None:
    return (await conn.execute(_LAST_IMPORT)).first()


# ----------------------------------------------------------------------------- entries

_VERSION_COLUMNS = (*(entries.c[name] for name in ENTRY_COLUMNS[:-1]), entries.c.id)
_ENTRIES_OF = select(*_VERSION_COLUMNS).where(
    entries.c.med_list_codg.in_(bindparam("codes", expanding=True))
)
_EVERY_ENTRY = select(*_VERSION_COLUMNS)
FULL_SCAN = 20_000
"""Above this many codes, :func:`entries_of` reads the whole catalogue in one statement."""
_CACHE_COLUMNS = (
    entries.c.med_list_codg,
    entries.c.chrgitm_lv,
    entries.c.selfpay_prop,
    entries.c.pric_uplmt_amt,
    entries.c.begndate,
    entries.c.enddate,
    entries.c.import_id,
)
_ALL_ENTRIES = select(*_CACHE_COLUMNS).order_by(entries.c.med_list_codg, entries.c.begndate)
_CHANGED_SINCE = (
    select(*_CACHE_COLUMNS)
    .where(
        entries.c.med_list_codg.in_(
            select(entries.c.med_list_codg).where(entries.c.import_id > bindparam("since"))
        )
    )
    .order_by(entries.c.med_list_codg, entries.c.begndate)
)
_VERSIONS_OF = (
    select(*(entries.c[name] for name in ENTRY_COLUMNS[:-1]))
    .where(entries.c.med_list_codg == bindparam("code"))
    .order_by(entries.c.begndate)
)
_DELETE_ENTRIES = delete(entries).where(entries.c.id.in_(bindparam("ids", expanding=True)))
_KNOWN_CODES = (
    select(entries.c.med_list_codg)
    .distinct()
    .where(entries.c.med_list_codg.in_(bindparam("codes", expanding=True)))
)
_COUNTS = select(func.count(), func.count(distinct(entries.c.med_list_codg))).select_from(entries)
_ANY_ENTRY = select(entries.c.id).limit(1)


async def entries_of(conn: Conn, codes: Sequence[str]) -> list[AnyRow]:
    """The stored versions of these codes, any order; each row is ``(med_list_codg,
    med_list_name, chrgitm_lv, selfpay_prop, pric_uplmt_amt, begndate, enddate, id)``."""
    if len(codes) > FULL_SCAN:  # a national edition: one pass over everything
        wanted = set(codes)
        return [r for r in (await conn.execute(_EVERY_ENTRY)).all() if r[0] in wanted]
    out: list[AnyRow] = []
    for chunk in _chunks(codes):
        out.extend((await conn.execute(_ENTRIES_OF, {"codes": list(chunk)})).all())
    return out


async def versions_of(conn: Conn, code: str) -> Sequence[AnyRow]:
    """One code's versions, oldest first."""
    return (await conn.execute(_VERSIONS_OF, {"code": code})).all()


async def stream_entries(
    conn: Conn, since: int | None = None, batch: int = 20_000
) -> AsyncIterator[Sequence[Any]]:
    """Entries as ``(code, level, ratio, cap, begndate, enddate, import_id)`` by code and
    ``begndate``, in batches: every one, or (``since``) every version of each code an import
    after that one wrote (imports take the catalogue's lock, so their ids commit in order)."""
    if since is None:
        stream = conn.stream(_ALL_ENTRIES, batch=batch)
    else:
        stream = conn.stream(_CHANGED_SINCE, {"since": since}, batch=batch)
    async for rows in stream:
        yield rows


async def delete_entries(conn: Conn, ids: Sequence[int]) -> None:
    for chunk in _chunks(ids):
        await conn.execute(_DELETE_ENTRIES, {"ids": list(chunk)})


async def insert_entries(conn: Conn, records: Sequence[tuple[Any, ...]]) -> None:
    """Rows in ``ENTRY_COLUMNS`` order, in one bulk insert (``COPY`` on PostgreSQL)."""
    await conn.copy(entries, ENTRY_COLUMNS, records)


async def known_codes(conn: Conn, codes: Sequence[str]) -> set[str]:
    """Which of these national codes the catalogue holds (in any version)."""
    out: set[str] = set()
    for chunk in _chunks(codes):
        out.update((await conn.execute(_KNOWN_CODES, {"codes": list(chunk)})).scalars())
    return out


async def counts(conn: Conn) -> tuple[int, int]:
    """(entries, distinct codes)."""
    row = (await conn.execute(_COUNTS)).one()
    return int(row[0]), int(row[1])


async def has_entries(conn: Conn) -> bool:
    return (await conn.execute(_ANY_ENTRY)).first() is not None


# ----------------------------------------------------------------------------- mappings

_HOSPITAL = mappings.c.hospital_id == bindparam("hospital")
_MAPPING_OF = select(mappings.c.medins_list_codg, mappings.c.med_list_codg).where(_HOSPITAL)
_MAPPINGS_OF_CODES = select(mappings.c.medins_list_codg, mappings.c.med_list_codg).where(
    _HOSPITAL, mappings.c.medins_list_codg.in_(bindparam("codes", expanding=True))
)
_DELETE_MAPPINGS = delete(mappings).where(
    _HOSPITAL, mappings.c.medins_list_codg.in_(bindparam("codes", expanding=True))
)
_MAPPING_PAGE = (
    select(mappings.c.medins_list_codg, mappings.c.med_list_codg)
    .where(_HOSPITAL, mappings.c.medins_list_codg > bindparam("after"))
    .order_by(mappings.c.medins_list_codg)
    .limit(bindparam("limit"))
)
_COUNT_MAPPINGS = select(func.count()).select_from(mappings).where(_HOSPITAL)


async def mapping_of(conn: Conn, hospital_id: int) -> dict[str, str]:
    """A hospital's whole mapping: own code → national code."""
    rows = await conn.execute(_MAPPING_OF, {"hospital": hospital_id})
    return {r.medins_list_codg: r.med_list_codg for r in rows}


async def mappings_of_codes(conn: Conn, hospital_id: int, codes: Sequence[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for chunk in _chunks(codes):
        rows = await conn.execute(
            _MAPPINGS_OF_CODES, {"hospital": hospital_id, "codes": list(chunk)}
        )
        out.update({r.medins_list_codg: r.med_list_codg for r in rows})
    return out


async def delete_mappings(conn: Conn, hospital_id: int, codes: Sequence[str]) -> None:
    for chunk in _chunks(codes):
        await conn.execute(_DELETE_MAPPINGS, {"hospital": hospital_id, "codes": list(chunk)})


async def insert_mappings(conn: Conn, records: Sequence[tuple[Any, ...]]) -> None:
    """Rows in ``MAPPING_COLUMNS`` order, in one bulk insert."""
    await conn.copy(mappings, MAPPING_COLUMNS, records)


async def mapping_page(conn: Conn, hospital_id: int, *, after: str, limit: int) -> Sequence[AnyRow]:
    """A hospital's mapping rows after ``after`` (own code order)."""
    params = {"hospital": hospital_id, "after": after, "limit": limit}
    return (await conn.execute(_MAPPING_PAGE, params)).all()


async def count_mappings(conn: Conn, hospital_id: int) -> int:
    return int((await conn.execute(_COUNT_MAPPINGS, {"hospital": hospital_id})).scalar_one())
