"""Region rows."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import bindparam, insert, select, update

from settlement.database import AnyRow, Conn, table_of, utcnow
from settlement.regions.models import Region

regions = table_of(Region)


_NAMES = select(regions.c.code, regions.c.name)
_ALL = select(regions.c.code, regions.c.name, regions.c.updated_at).order_by(regions.c.code)
_INSERT = insert(regions)
_RENAME = (
    update(regions)
    .where(regions.c.code == bindparam("region"))
    .values(name=bindparam("new_name"), updated_at=bindparam("now"))
)


async def names(conn: Conn) -> dict[str, str]:
    """Every region: code → name."""
    return {r.code: r.name for r in await conn.execute(_NAMES)}


async def all_regions(conn: Conn) -> Sequence[AnyRow]:
    return (await conn.execute(_ALL)).all()


async def upsert(conn: Conn, entries: Sequence[tuple[str, str]]) -> tuple[int, int]:
    """Add new codes, rename known ones. Returns (added, renamed); an unchanged name counts
    as neither."""
    known = await names(conn)
    now = utcnow()
    added = [{"code": c, "name": n, "updated_at": now} for c, n in entries if c not in known]
    renamed = [(c, n) for c, n in entries if c in known and known[c] != n]
    if added:
        await conn.execute(_INSERT, added)
    if renamed:
        await conn.execute(_RENAME, [{"region": c, "new_name": n, "now": now} for c, n in renamed])
    return len(added), len(renamed)
