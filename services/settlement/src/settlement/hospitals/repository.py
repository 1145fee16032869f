"""Hospital rows."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import insert, select, update

from settlement.database import Conn, table_of
from settlement.hospitals.models import Hospital

hospitals = table_of(Hospital)


@dataclass(frozen=True, slots=True)
class HospitalRef:
    """A hospital as the request handlers need it."""

    id: int
    code: str
    name: str
    level: int
    region_code: str


_COLUMNS = (
    hospitals.c.id,
    hospitals.c.code,
    hospitals.c.name,
    hospitals.c.level,
    hospitals.c.region_code,
)


async def by_key_hash(conn: Conn, key_hash: str) -> HospitalRef | None:
    row = (
        await conn.execute(select(*_COLUMNS).where(hospitals.c.api_key_hash == key_hash))
    ).first()
    return HospitalRef(*row) if row else None


async def by_code_with_key_hash(conn: Conn, code: str) -> tuple[HospitalRef, str] | None:
    """A hospital by its code, with the hash of its API key (the national interface's signed
    headers are keyed with it)."""
    row = (
        await conn.execute(
            select(*_COLUMNS, hospitals.c.api_key_hash).where(hospitals.c.code == code)
        )
    ).first()
    if row is None:
        return None
    return HospitalRef(row.id, row.code, row.name, row.level, row.region_code), row.api_key_hash


async def by_id(conn: Conn, hospital_id: int) -> HospitalRef | None:
    row = (await conn.execute(select(*_COLUMNS).where(hospitals.c.id == hospital_id))).first()
    return HospitalRef(*row) if row else None


async def by_code(conn: Conn, code: str) -> HospitalRef | None:
    row = (await conn.execute(select(*_COLUMNS).where(hospitals.c.code == code))).first()
    return HospitalRef(*row) if row else None


async def code_exists(conn: Conn, code: str) -> bool:
    row = (await conn.execute(select(hospitals.c.id).where(hospitals.c.code == code))).first()
    return row is not None


async def insert_hospital(conn: Conn, values: dict[str, object]) -> int:
    result = await conn.execute(insert(hospitals).values(**values).returning(hospitals.c.id))
    return int(result.scalar_one())


async def set_key_hash(conn: Conn, code: str, key_hash: str) -> None:
    await conn.execute(
        update(hospitals).where(hospitals.c.code == code).values(api_key_hash=key_hash)
    )
