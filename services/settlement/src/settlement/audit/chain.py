"""The audit log's hash chain (pure: no I/O).

Every audit record belongs to a *chain*: one per person the record names (a settle, a revoke,
an admission, a grant, a flag review) and one, ``system``, for the records that name nobody
(hospitals, regions). A record's ``seq`` numbers it in its chain from 1, ``prev_hash`` is the
``hash`` of the record before it (64 zeros for the first) and

    hash = SHA-256( prev_hash ‖ "\\n" ‖ canonical(record) )   (lower-case hex)

where ``canonical(record)`` is the UTF-8 JSON object of ``chain``, ``seq``, ``at`` (UTC,
``YYYY-MM-DDTHH:MM:SS.ffffffZ``), ``actor``, ``action``, ``subject``, ``request_id`` and
``detail`` (the stored JSON text, as a string), keys sorted, no spaces. Changing any field of
a record, or removing or reordering records, breaks the chain at that record: recomputing the
hashes (:class:`ChainChecker`) finds it. The last record of a chain can be removed without a
trace in the chain itself; the bills' check (each bill against its settle record) covers the
records that matter for money.

Why a chain per person: a settle or revoke already holds the person's running-total row lock
(``SELECT … FOR UPDATE``), so appending to that person's chain needs no lock of its own and
two settles of different people never wait for each other; a single global chain would make
every settle in the province queue on one row.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

GENESIS = "0" * 64
"""``prev_hash`` of a chain's first record."""
SYSTEM_CHAIN = "system"
"""The chain of records that name no person (hospitals, regions)."""
_PERSON_PREFIX = "p:"
_PERSON_CONTEXT = b"medaid-audit-chain|"


def person_chain(id_number: str) -> str:
    """The chain of a person's records: ``p:`` and 32 hex digits of SHA-256 over the ID
    number (so the audit log does not carry ID numbers in clear; the bills do)."""
    digest = hashlib.sha256(_PERSON_CONTEXT + id_number.upper().encode("ascii")).hexdigest()
    return _PERSON_PREFIX + digest[:32]


def chain_of(person: str | None) -> str:
    return SYSTEM_CHAIN if person is None else person_chain(person)


def timestamp(moment: datetime) -> str:
    """A record's ``at`` in its canonical form (UTC, microseconds, ``Z``)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical(
    *,
    chain: str,
    seq: int,
    at: datetime,
    actor: str,
    action: str,
    subject: str,
    request_id: str | None,
    detail: str,
) -> bytes:
    """The bytes a record's hash covers (see the module's docstring)."""
    return json.dumps(
        {
            "action": action,
            "actor": actor,
            "at": timestamp(at),
            "chain": chain,
            "detail": detail,
            "request_id": request_id,
            "seq": seq,
            "subject": subject,
        },
        ensure_ascii=False,
        sort_keys=True,
        separators=(",", ":"),
    ).encode("utf-8")


def record_hash(prev_hash: str, body: bytes) -> str:
    return hashlib.sha256(prev_hash.encode("ascii") + b"\n" + body).hexdigest()


def seal(row: dict[str, Any], *, seq: int, prev_hash: str) -> dict[str, Any]:
    """``row`` (an audit row with its ``chain``) numbered ``seq`` after ``prev_hash``, with its
    hash: the values to insert."""
    body = canonical(
        chain=row["chain"],
        seq=seq,
        at=row["at"],
        actor=row["actor"],
        action=row["action"],
        subject=row["subject"],
        request_id=row["request_id"],
        detail=row["detail"],
    )
    return {**row, "seq": seq, "prev_hash": prev_hash, "hash": record_hash(prev_hash, body)}


@dataclass(frozen=True, slots=True)
class Break:
    """Where a chain stops holding: the record (``record_id``, its chain and ``seq``), what
    is wrong (``kind``: ``hash`` — the record differs from what was sealed; ``link`` — its
    ``prev_hash`` is not the previous record's hash; ``sequence`` — records are missing before
    it; ``bill`` — a bill's amounts differ from its record; ``missing`` — a bill has no
    record) and a sentence saying so."""

    record_id: int | None
    chain: str | None
    seq: int | None
    at: datetime | None
    kind: str
    message: str
    setl_id: str | None = None

    def order(self) -> tuple[datetime, int]:
        """Breaks sort by time, then record id: the first is the earliest in the log."""
        moment = self.at or datetime.max.replace(tzinfo=UTC)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return (moment, self.record_id or 0)


class ChainChecker:
    """Recomputes the chains from records fed in ``(chain, seq)`` order; ``feed`` yields a
    :class:`Break` for each record that does not hold. A chain's first record fed is checked
    against ``anchor`` (the previous record's stored hash, when the check starts inside the
    chain, or :data:`GENESIS` for ``seq`` 1)."""

    def __init__(self) -> None:
        self.records = 0
        self.chains = 0
        self._chain: str | None = None
        self._seq = 0
        self._hash = GENESIS
        self.open_anchors: list[Any] = []
        """The first records of chains fed from the middle (``seq`` > 1): :meth:`close`
        ties each to the stored hash of the record before it."""

    def feed(self, record: Any) -> Iterator[Break]:
        self.records += 1
        chain, seq = record.chain, record.seq
        if chain != self._chain:
            self.chains += 1
            self._chain = chain
            if seq != 1:
                self.open_anchors.append(record)
            elif record.prev_hash != GENESIS:
                yield self._break(record, "link", "the first record of its chain has a prev_hash")
        else:
            if seq != self._seq + 1:
                yield self._break(
                    record,
                    "sequence",
                    f"records {self._seq + 1}–{seq - 1} of its chain are missing",
                )
            elif record.prev_hash != self._hash:
                yield self._break(record, "link", "its prev_hash is not the previous record's hash")
        body = canonical(
            chain=chain,
            seq=seq,
            at=record.at,
            actor=record.actor,
            action=record.action,
            subject=record.subject,
            request_id=record.request_id,
            detail=record.detail,
        )
        if record_hash(record.prev_hash, body) != record.hash:
            yield self._break(record, "hash", "the record is not the one that was sealed")
        self._seq = seq
        self._hash = record.hash

    def places_before(self) -> list[tuple[str, int]]:
        """``(chain, seq)`` of the records :meth:`close` needs the stored hashes of."""
        return [(r.chain, r.seq - 1) for r in self.open_anchors]

    def close(self, stored: Mapping[tuple[str, int], str]) -> Iterator[Break]:
        """Tie the chains fed from the middle to ``stored`` (hashes by ``(chain, seq)`` of the
        records before them): a missing record is a ``sequence`` break, another hash a
        ``link`` break, at the first record fed."""
        for record in self.open_anchors:
            before = stored.get((record.chain, record.seq - 1))
            if before is None:
                yield self._break(
                    record, "sequence", f"records before {record.seq} of its chain are missing"
                )
            elif before != record.prev_hash:
                yield self._break(record, "link", "its prev_hash is not the previous record's hash")

    @staticmethod
    def _break(record: Any, kind: str, message: str) -> Break:
        return Break(
            record_id=record.id,
            chain=record.chain,
            seq=record.seq,
            at=record.at,
            kind=kind,
            message=f"audit record {record.id} ({record.action} {record.subject}): {message}",
        )
