"""The audit log refuses updates and deletes, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from tests.settlement.conftest import Service, bill_body, make_id_number, settle


async def test_audit_log_is_append_only(svc: Service) -> None:
    hospital = await svc.hospital()
    person = svc.registry.add(make_id_number(), "dibao")
    await settle(svc, hospital, bill_body(person))
    db = svc.app.state.ctx.db
    for statement in ("UPDATE audit_log SET actor = 'someone else'", "DELETE FROM audit_log"):
        with pytest.raises(DBAPIError, match="append-only"):
            async with db.write() as conn:
                await conn.execute(text(statement))
