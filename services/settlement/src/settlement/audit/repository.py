"""Appending to the audit log (inside the caller's transaction)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert

from settlement.audit.models import AuditRecord
from settlement.database import Conn, dump_json, table_of, utcnow

audit_log = table_of(AuditRecord)
_INSERT = insert(audit_log)


def audit_row(
    *, actor: str, action: str, subject: str, request_id: str | None, detail: dict[str, Any]
) -> dict[str, Any]:
    return {
        "at": utcnow(),
        "actor": actor[:64],
        "action": action,
        "subject": subject[:64],
        "request_id": request_id,
        "detail": dump_json(detail),
    }


async def append(
    conn: Conn,
    *,
    actor: str,
    action: str,
    subject: str,
    request_id: str | None,
    detail: dict[str, Any],
) -> None:
    await conn.execute(
        _INSERT,
        audit_row(
            actor=actor, action=action, subject=subject, request_id=request_id, detail=detail
        ),
    )


async def append_row(conn: Conn, row: dict[str, Any]) -> None:
    """Append a record made by :func:`audit_row`."""
    await conn.execute(_INSERT, row)
