"""Statements of the national interface's tables (messages, persons, visits)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite

from settlement.database import AnyRow, Conn, table_of
from settlement.national.models import DONE, PENDING, NationalMessage, NationalPerson, NationalVisit

messages = table_of(NationalMessage)
persons = table_of(NationalPerson)
visits = table_of(NationalVisit)

_MESSAGE = (messages.c.hospital_id == bindparam("hosp")) & (messages.c.msgid == bindparam("msg"))

_CLAIM = {
    "postgresql": postgresql.insert(messages).on_conflict_do_nothing().returning(messages.c.msgid),
    "sqlite": sqlite.insert(messages).on_conflict_do_nothing().returning(messages.c.msgid),
}
_GET_MESSAGE = select(messages).where(_MESSAGE)
_TAKE_OVER = (
    update(messages)
    .where(
        _MESSAGE,
        messages.c.state == PENDING,
        messages.c.updated_at == bindparam("was"),
    )
    .values(updated_at=bindparam("now"), fingerprint=bindparam("fp"))
    .returning(messages.c.msgid)
)
_FINISH = (
    update(messages)
    .where(_MESSAGE)
    .values(
        state=DONE,
        answer=bindparam("ans"),
        subject=bindparam("subj"),
        mdtrt_id=bindparam("visit"),
        updated_at=bindparam("now"),
    )
)
_RELEASE = delete(messages).where(_MESSAGE, messages.c.state == PENDING)
_MARK_REVERSED = (
    update(messages)
    .where(_MESSAGE, messages.c.reversed_by.is_(None))
    .values(reversed_by=bindparam("by"), updated_at=bindparam("now"))
    .returning(messages.c.msgid)
)
_DONE_OF_VISIT = (
    select(messages.c.msgid, messages.c.subject)
    .where(
        messages.c.hospital_id == bindparam("hosp"),
        messages.c.mdtrt_id == bindparam("visit"),
        messages.c.infno == bindparam("inf"),
        messages.c.state == DONE,
    )
    .order_by(messages.c.created_at)
)


async def claim(conn: Conn, values: dict[str, Any]) -> bool:
    """Insert a ``pending`` message; ``False`` when the hospital already has that ``msgid``."""
    return (await conn.execute(_CLAIM[conn.dialect], values)).first() is not None


async def message(conn: Conn, hospital_id: int, msgid: str) -> AnyRow | None:
    return (await conn.execute(_GET_MESSAGE, {"hosp": hospital_id, "msg": msgid})).first()


async def take_over(
    conn: Conn, hospital_id: int, msgid: str, was: datetime, now: datetime, fingerprint: str
) -> bool:
    """Claim a ``pending`` message left behind (its ``updated_at`` still ``was``)."""
    params = {
        "hosp": hospital_id,
        "msg": msgid,
        "was": was,
        "now": now,
        "fp": fingerprint,
    }
    return (await conn.execute(_TAKE_OVER, params)).first() is not None


async def finish(
    conn: Conn,
    hospital_id: int,
    msgid: str,
    *,
    answer: str,
    subject: str | None,
    mdtrt_id: str | None,
    now: datetime,
) -> None:
    params = {
        "hosp": hospital_id,
        "msg": msgid,
        "ans": answer,
        "subj": subject,
        "visit": mdtrt_id,
        "now": now,
    }
    await conn.execute(_FINISH, params)


async def release(conn: Conn, hospital_id: int, msgid: str) -> None:
    """Remove a ``pending`` claim (the transaction failed; nothing of it is kept)."""
    await conn.execute(_RELEASE, {"hosp": hospital_id, "msg": msgid})


async def mark_reversed(conn: Conn, hospital_id: int, msgid: str, by: str, now: datetime) -> bool:
    """Record the 2601 that undid a message; ``False`` when one already did."""
    params = {"hosp": hospital_id, "msg": msgid, "by": by, "now": now}
    return (await conn.execute(_MARK_REVERSED, params)).first() is not None


async def done_of_visit(
    conn: Conn, hospital_id: int, mdtrt_id: str, infno: str
) -> Sequence[AnyRow]:
    """A visit's answered messages of one transaction, oldest first (``msgid``, ``subject``)."""
    params = {"hosp": hospital_id, "visit": mdtrt_id, "inf": infno}
    return (await conn.execute(_DONE_OF_VISIT, params)).all()


def _upsert_person(stmt: Any) -> Any:
    return stmt.on_conflict_do_update(
        index_elements=[persons.c.hospital_id, persons.c.psn_no],
        set_={
            "id_number": stmt.excluded.id_number,
            "psn_name": stmt.excluded.psn_name,
            "updated_at": stmt.excluded.updated_at,
        },
    )


_UPSERT_PERSON = {
    "postgresql": _upsert_person(postgresql.insert(persons)),
    "sqlite": _upsert_person(sqlite.insert(persons)),
}
_GET_PERSON = select(persons).where(
    persons.c.hospital_id == bindparam("hosp"), persons.c.psn_no == bindparam("psn")
)


async def save_person(conn: Conn, values: dict[str, Any]) -> None:
    """Insert or refresh a hospital's ``psn_no`` → ID number (and name)."""
    await conn.execute(_UPSERT_PERSON[conn.dialect], values)


async def person(conn: Conn, hospital_id: int, psn_no: str) -> AnyRow | None:
    return (await conn.execute(_GET_PERSON, {"hosp": hospital_id, "psn": psn_no})).first()


_PERSONS_OF = select(persons.c.psn_no, persons.c.id_number).where(
    persons.c.hospital_id == bindparam("hosp"),
    persons.c.psn_no.in_(bindparam("psns", expanding=True)),
)


async def persons_of(conn: Conn, hospital_id: int, psn_nos: Sequence[str]) -> dict[str, str]:
    """``{psn_no: ID number}`` of the hospital's persons among ``psn_nos``."""
    out: dict[str, str] = {}
    for start in range(0, len(psn_nos), 1000):
        chunk = list(psn_nos[start : start + 1000])
        rows = (await conn.execute(_PERSONS_OF, {"hosp": hospital_id, "psns": chunk})).all()
        out.update({row.psn_no: row.id_number for row in rows})
    return out


_VISIT = (visits.c.hospital_id == bindparam("hosp")) & (visits.c.mdtrt_id == bindparam("visit"))
_GET_VISIT = select(visits).where(_VISIT)
_INSERT_VISIT = {
    "postgresql": postgresql.insert(visits).on_conflict_do_nothing(),
    "sqlite": sqlite.insert(visits).on_conflict_do_nothing(),
}
_DISCHARGE = (
    update(visits)
    .where(_VISIT)
    .values(
        discharged_on=bindparam("dscg"),
        diagnoses=bindparam("diags"),
        updated_at=bindparam("now"),
    )
)


async def visit(conn: Conn, hospital_id: int, mdtrt_id: str) -> AnyRow | None:
    return (await conn.execute(_GET_VISIT, {"hosp": hospital_id, "visit": mdtrt_id})).first()


async def add_visit(conn: Conn, values: dict[str, Any]) -> None:
    """Record a visit's national details unless it has them already."""
    await conn.execute(_INSERT_VISIT[conn.dialect], values)


async def discharge(
    conn: Conn, hospital_id: int, mdtrt_id: str, on: date, diagnoses: str, now: datetime
) -> None:
    params = {
        "hosp": hospital_id,
        "visit": mdtrt_id,
        "dscg": on,
        "diags": diagnoses,
        "now": now,
    }
    await conn.execute(_DISCHARGE, params)
