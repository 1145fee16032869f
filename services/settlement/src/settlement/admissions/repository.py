"""Admission rows."""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.dialects import postgresql, sqlite

from settlement.admissions.models import Admission
from settlement.database import AnyRow, Conn, table_of

admissions = table_of(Admission)


_GET = select(admissions).where(
    admissions.c.hospital_id == bindparam("hospital"), admissions.c.visit_id == bindparam("visit")
)


async def get(conn: Conn, hospital_id: int, visit_id: str) -> AnyRow | None:
    return (await conn.execute(_GET, {"hospital": hospital_id, "visit": visit_id})).first()


_INSERT = {
    "postgresql": postgresql.insert(admissions).on_conflict_do_nothing().returning(admissions.c.id),
    "sqlite": sqlite.insert(admissions).on_conflict_do_nothing().returning(admissions.c.id),
}


async def insert_admission(conn: Conn, values: dict[str, Any]) -> bool:
    """``False`` when the visit already has an admission record (nothing written)."""
    result = await conn.execute(_INSERT[conn.dialect], values)
    return result.first() is not None
