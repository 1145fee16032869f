"""Appending to the audit log (inside the caller's transaction), sealed into its chain, and
the statements that read it back for verification."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import BindParameter, ColumnElement, bindparam, func, select, tuple_
from sqlalchemy.dialects import postgresql, sqlite

from settlement.audit.chain import GENESIS, chain_of, seal
from settlement.audit.models import AuditRecord
from settlement.database import AnyRow, Conn, dump_json, table_of, utcnow

audit_log = table_of(AuditRecord)

_HEAD = (
    select(audit_log.c.seq, audit_log.c.hash)
    .where(audit_log.c.chain == bindparam("chain"))
    .order_by(audit_log.c.seq.desc())
    .limit(1)
)


@dataclass(frozen=True, slots=True)
class ChainHead:
    """The end of a chain as read: its last ``seq`` and ``hash`` (``0`` and
    :data:`~settlement.audit.chain.GENESIS` for an empty chain)."""

    seq: int
    hash: str

    @classmethod
    def of(cls, seq: int | None, hash_: str | None) -> ChainHead:
        return cls(0, GENESIS) if seq is None or hash_ is None else cls(seq, hash_)


def head_columns(chain: BindParameter[str]) -> tuple[ColumnElement[Any], ColumnElement[Any]]:
    """The chain's end as two columns (``head_seq``, ``head_hash``; NULL for an empty chain)
    for another statement to read along, e.g. the settle's locked read."""
    last = select(audit_log.c.seq, audit_log.c.hash).where(audit_log.c.chain == chain)
    last = last.order_by(audit_log.c.seq.desc()).limit(1)
    return (
        last.with_only_columns(audit_log.c.seq).scalar_subquery().label("head_seq"),
        last.with_only_columns(audit_log.c.hash).scalar_subquery().label("head_hash"),
    )


_SEALED = (
    *("at", "actor", "action", "subject", "request_id", "detail"),
    *("chain", "seq", "prev_hash", "hash"),
)
"""The columns of a sealed record (:func:`settlement.audit.chain.seal`)."""


def _append_after(insert: Any) -> Any:
    # Parameters named ``audit_…``, so another statement can carry this one (a settle's).
    values = {name: bindparam(f"audit_{name}", type_=audit_log.c[name].type) for name in _SEALED}
    return (
        insert(audit_log)
        .values(values)
        .on_conflict_do_nothing(index_elements=["chain", "seq"])
        .returning(audit_log.c.id)
    )


_INSERT = {"postgresql": _append_after(postgresql.insert), "sqlite": _append_after(sqlite.insert)}
_CHAIN_LOCK = select(func.pg_advisory_xact_lock(bindparam("key")))
MAX_ATTEMPTS = 1000


class ChainContention(RuntimeError):
    """A chain's end moved under the appender more often than any real load makes it."""


def audit_row(
    *,
    actor: str,
    action: str,
    subject: str,
    request_id: str | None,
    detail: dict[str, Any],
    person: str | None = None,
) -> dict[str, Any]:
    """An audit record to append; ``person`` (an ID number) chooses its chain (the person's,
    or ``system`` for records that name nobody)."""
    return {
        "at": utcnow(),
        "actor": actor[:64],
        "action": action,
        "subject": subject[:64],
        "request_id": request_id,
        "detail": dump_json(detail),
        "chain": chain_of(person),
    }


async def append(
    conn: Conn,
    *,
    actor: str,
    action: str,
    subject: str,
    request_id: str | None,
    detail: dict[str, Any],
    person: str | None = None,
) -> int:
    return await append_row(
        conn,
        audit_row(
            actor=actor,
            action=action,
            subject=subject,
            request_id=request_id,
            detail=detail,
            person=person,
        ),
    )


async def append_row(conn: Conn, row: dict[str, Any], head: ChainHead | None = None) -> int:
    """Append a record made by :func:`audit_row` at the end of its chain; its id.

    The end of the chain is read (or taken from ``head``, read earlier in the transaction),
    the record sealed after it and inserted unless ``(chain, seq)`` is taken: a stale
    ``head`` costs one more round. A settle or revoke holds the person's running-total row lock,
    so nobody else appends to that chain meanwhile and this runs once. A writer without that
    lock (an admission, a review) that meets a concurrent append waits for it (the insert
    waits on the other transaction's row), then takes the chain's advisory lock
    (PostgreSQL; SQLite's writers are serialised already), reads the new end and seals after
    it."""
    for attempt in range(MAX_ATTEMPTS):
        if attempt == 1 and conn.dialect == "postgresql":
            # Contention: queue on the chain's lock (released at commit), so concurrent
            # appenders take turns instead of racing for the same place again and again.
            await conn.execute(_CHAIN_LOCK, {"key": chain_lock_key(row["chain"])})
        if head is None or attempt > 0:
            last = (await conn.execute(_HEAD, {"chain": row["chain"]})).first()
            head = ChainHead.of(*last) if last is not None else ChainHead.of(None, None)
        inserted = (await conn.execute(*sealed_insert(conn.dialect, row, head))).first()
        if inserted is not None:
            return int(inserted[0])
    raise ChainContention(f"audit chain {row['chain']} kept moving; retry")


def sealed_insert(dialect: str, row: dict[str, Any], head: ChainHead) -> tuple[Any, dict[str, Any]]:
    """The statement appending ``row`` (made by :func:`audit_row`) right after ``head``, and
    its parameters (named ``audit_…``, so a settle can carry it in its own statement): it
    returns the record's id, or no row when ``(chain, seq)`` is taken — the chain moved
    since ``head`` was read, and :func:`append_row` appends it after the new end."""
    record = seal(row, seq=head.seq + 1, prev_hash=head.hash)
    return _INSERT[dialect], {f"audit_{name}": record[name] for name in _SEALED}


def chain_lock_key(chain: str) -> int:
    """A chain's advisory-lock key on PostgreSQL: 64 bits of SHA-256 over its name, signed."""
    return int.from_bytes(hashlib.sha256(chain.encode()).digest()[:8], "big", signed=True)


# ----------------------------------------------------------------------------- verification

_RECORD_COLUMNS = (
    audit_log.c.id,
    audit_log.c.chain,
    audit_log.c.seq,
    audit_log.c.at,
    audit_log.c.actor,
    audit_log.c.action,
    audit_log.c.subject,
    audit_log.c.request_id,
    audit_log.c.detail,
    audit_log.c.prev_hash,
    audit_log.c.hash,
)


def records(
    conn: Conn, *, since: datetime | None, until: datetime | None, batch: int = 2000
) -> AsyncIterator[Sequence[AnyRow]]:
    """The records made in ``[since, until)`` (either open), in ``(chain, seq)`` order."""
    stmt = select(*_RECORD_COLUMNS)
    if since is not None:
        stmt = stmt.where(audit_log.c.at >= since)
    if until is not None:
        stmt = stmt.where(audit_log.c.at < until)
    return conn.stream(stmt.order_by(audit_log.c.chain, audit_log.c.seq), batch=batch)


async def hashes_at(conn: Conn, places: Sequence[tuple[str, int]]) -> dict[tuple[str, int], str]:
    """Stored hashes of the records at ``(chain, seq)`` places (those that exist)."""
    out: dict[tuple[str, int], str] = {}
    for start in range(0, len(places), 500):
        chunk = list(places[start : start + 500])
        stmt = select(audit_log.c.chain, audit_log.c.seq, audit_log.c.hash).where(
            tuple_(audit_log.c.chain, audit_log.c.seq).in_(chunk)
        )
        for row in (await conn.execute(stmt)).all():
            out[(row.chain, row.seq)] = row.hash
    return out
