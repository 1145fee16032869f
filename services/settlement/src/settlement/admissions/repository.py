"""Admission rows."""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from settlement.admissions.models import Admission
from settlement.database import AnyRow, table_of

admissions = table_of(Admission)


_GET = select(admissions).where(
    admissions.c.hospital_id == bindparam("hospital"), admissions.c.visit_id == bindparam("visit")
)


async def get(conn: AsyncConnection, hospital_id: int, visit_id: str) -> AnyRow | None:
    return (await conn.execute(_GET, {"hospital": hospital_id, "visit": visit_id})).first()


async def insert_admission(conn: AsyncConnection, values: dict[str, Any]) -> bool:
    """``False`` when the visit already has an admission record (nothing written)."""
    dialect_insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    result = await conn.execute(
        dialect_insert(admissions)
        .values(**values)
        .on_conflict_do_nothing()
        .returning(admissions.c.id)
    )
    return result.first() is not None
