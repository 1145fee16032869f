"""Recording changes: one change-log row per write (status added, status ended, import, …)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from registry.auth import Actor
from registry.database import utcnow
from registry.models import change_log


@dataclass(frozen=True)
class Change:
    action: str
    entity: str
    entity_id: int
    household_id: int | None = None
    person_id: int | None = None
    details: dict[str, Any] = field(default_factory=dict)


async def record(session: AsyncSession, actor: Actor, changes: Sequence[Change]) -> None:
    """Add the changes to the log in the current transaction (one statement)."""
    if not changes:
        return
    now = utcnow()
    await session.execute(
        insert(change_log),
        [
            {
                "at": now,
                "actor": actor.identity,
                "request_id": actor.request_id,
                "action": c.action,
                "entity": c.entity,
                "entity_id": c.entity_id,
                "household_id": c.household_id,
                "person_id": c.person_id,
                "details": c.details,
            }
            for c in changes
        ],
    )
