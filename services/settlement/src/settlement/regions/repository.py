"""Region rows."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from settlement.database import AnyRow, table_of, utcnow
from settlement.regions.models import Region

regions = table_of(Region)


async def names(conn: AsyncConnection) -> dict[str, str]:
    """Every region: code → name."""
    rows = await conn.execute(select(regions.c.code, regions.c.name))
    return {r.code: r.name for r in rows}


async def all_regions(conn: AsyncConnection) -> Sequence[AnyRow]:
    stmt = select(regions.c.code, regions.c.name, regions.c.updated_at).order_by(regions.c.code)
    return (await conn.execute(stmt)).all()


async def upsert(conn: AsyncConnection, entries: Sequence[tuple[str, str]]) -> tuple[int, int]:
    """Add new codes, rename known ones. Returns (added, renamed); an unchanged name counts
    as neither."""
    known = await names(conn)
    now = utcnow()
    added = [{"code": c, "name": n, "updated_at": now} for c, n in entries if c not in known]
    renamed = [(c, n) for c, n in entries if c in known and known[c] != n]
    if added:
        await conn.execute(insert(regions), added)
    for code, name in renamed:
        await conn.execute(
            update(regions).where(regions.c.code == code).values(name=name, updated_at=now)
        )
    return len(added), len(renamed)
