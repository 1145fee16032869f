"""Registering hospitals and recognising them by API key."""

from __future__ import annotations

import time
from collections.abc import Callable

from sqlalchemy.exc import IntegrityError

from settlement.audit.repository import append
from settlement.database import Database, utcnow
from settlement.hospitals import repository
from settlement.hospitals.repository import HospitalRef
from settlement.hospitals.schemas import HospitalCreate, HospitalCreated
from shared.errors import Conflict
from shared.security import hash_secret, new_api_key


async def create_hospital(
    db: Database, data: HospitalCreate, *, actor: str, request_id: str | None
) -> HospitalCreated:
    """Store the hospital and the hash of a fresh API key; the key is returned once."""
    api_key = new_api_key("mk")
    created_at = utcnow()
    conflict = Conflict(f"A hospital with code {data.code!r} already exists.")
    try:
        async with db.write() as conn:
            if await repository.code_exists(conn, data.code):
                raise conflict
            await repository.insert_hospital(
                conn,
                {
                    "code": data.code,
                    "name": data.name,
                    "level": data.level,
                    "region_code": data.region_code,
                    "api_key_hash": hash_secret(api_key),
                    "created_at": created_at,
                },
            )
            await append(
                conn,
                actor=actor,
                action="hospital.create",
                subject=data.code,
                request_id=request_id,
                detail={"name": data.name, "level": data.level, "region_code": data.region_code},
            )
    except IntegrityError:
        raise conflict from None
    return HospitalCreated(
        code=data.code,
        name=data.name,
        level=data.level,
        region_code=data.region_code,
        created_at=created_at,
        api_key=api_key,
    )


DEMO_HOSPITALS = (
    # code, name, level, region code, demo API key (published: ENV=dev only)
    ("H370305001", "临淄区人民医院", 2, "370305", "dev-hospital-key-H370305001"),
    ("H370305002", "淄博市中心医院", 3, "370305", "dev-hospital-key-H370305002"),
)


async def seed_demo_hospitals(db: Database) -> list[str]:
    """Create (or reset the key of) the demo hospitals; one line per hospital."""
    lines = []
    async with db.write() as conn:
        for code, name, level, region_code, key in DEMO_HOSPITALS:
            key_hash = hash_secret(key)
            if await repository.code_exists(conn, code):
                await repository.set_key_hash(conn, code, key_hash)
                lines.append(f"hospital {code} ({name}): demo key reset")
                continue
            await repository.insert_hospital(
                conn,
                {
                    "code": code,
                    "name": name,
                    "level": level,
                    "region_code": region_code,
                    "api_key_hash": key_hash,
                    "created_at": utcnow(),
                },
            )
            await append(
                conn,
                actor="seed-demo",
                action="hospital.create",
                subject=code,
                request_id=None,
                detail={"name": name, "level": level, "region_code": region_code},
            )
            lines.append(f"hospital {code} ({name}, level {level}) registered")
    return lines


class HospitalAuth:
    """Finds the hospital of an API key; answers are cached briefly so the settle path does
    not pay a database round trip for authentication."""

    def __init__(
        self, db: Database, *, ttl_s: float = 30.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._db = db
        self._ttl_s = ttl_s
        self._clock = clock
        self._cache: dict[str, tuple[float, HospitalRef]] = {}

    async def by_api_key(self, api_key: str) -> HospitalRef | None:
        key_hash = hash_secret(api_key)
        hit = self._cache.get(key_hash)
        now = self._clock()
        if hit is not None and now < hit[0]:
            return hit[1]
        async with self._db.read() as conn:
            hospital = await repository.by_key_hash(conn, key_hash)
        if hospital is not None and self._ttl_s > 0:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[key_hash] = (now + self._ttl_s, hospital)
        return hospital
