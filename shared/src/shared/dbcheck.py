"""Is a service's database there and migrated? Asked by the command lines before they touch it.

A command that needs the schema (``serve``, ``hospital add``, ``import``, …) run against a
database that was never migrated would otherwise print a long traceback ending in ``no such
table``, and for SQLite it would first create an empty file (and its folder) wherever it was
started. :func:`database_problem` answers in one line what is wrong and which database was
opened; the command prints it with what to run and exits 2.

The rules: a SQLite file that does not exist is never created here; a database without
Alembic's version table, or at a revision older than the code's latest, is not migrated. A
database at a revision the code does not know is newer than the code (a rolling upgrade ran
``migrate`` first) and is accepted.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError

from shared import dburl
from shared.db import async_url, make_engine


class DatabaseUnreachable(Exception):
    """The database server did not answer (the caller decides whether that is fatal)."""


def sqlite_file(url: str) -> Path | None:
    """The file of a ``sqlite:///…`` URL (absolute), or None for another backend or memory."""
    if dburl.is_postgres(url):
        return None
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    database = parsed.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database).resolve()


def describe(url: str) -> str:
    """The URL as an operator recognises it, without its password; SQLite with its full path."""
    try:
        parsed = async_url(url)  # a multi-host PostgreSQL URL too
    except (ArgumentError, ValueError):
        return repr(url)
    shown = parsed.render_as_string(hide_password=True)
    path = sqlite_file(url)
    return f"{shown} ({path})" if path is not None and str(path) != parsed.database else shown


def _revisions(script_location: Path) -> tuple[set[str], set[str]]:
    """(the heads, every revision) of a service's Alembic history."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory(str(script_location))
    return set(script.get_heads()), {r.revision for r in script.walk_revisions()}


async def _stored_revisions(url: str) -> set[str] | None:
    engine = make_engine(url, pool_size=1)
    try:
        async with engine.connect() as conn:
            has_table = await conn.run_sync(lambda sync: inspect(sync).has_table("alembic_version"))
            if not has_table:
                return None
            rows = await conn.execute(text("SELECT version_num FROM alembic_version"))
            return {str(r[0]) for r in rows}
    except (OSError, DBAPIError, TimeoutError) as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        raise DatabaseUnreachable(reason[0] if reason else type(exc).__name__) from None
    finally:
        await engine.dispose()


def database_problem(url: str, script_location: Path) -> str | None:
    """None when the database at ``url`` is migrated to the code's latest revision (or newer);
    else one line saying what is wrong. Raises :class:`DatabaseUnreachable` when the server
    cannot be reached. Never creates a SQLite file."""
    try:
        async_url(url)
    except ArgumentError:
        return "is not a database URL (write sqlite:///path.db or postgresql://…)"
    path = sqlite_file(url)
    if path is not None and not path.is_file():
        return "does not exist"
    stored = asyncio.run(_stored_revisions(url))
    if not stored:
        return "is not migrated (it has no schema yet)"
    heads, known = _revisions(script_location)
    if stored - known:
        return None  # migrated by a newer version of the code
    if stored != heads:
        return (
            f"is at schema revision {', '.join(sorted(stored))}, older than this version's "
            f"{', '.join(sorted(heads))}"
        )
    return None


def migration_refusal(
    service: str, url: str, script_location: Path, *, unreachable_ok: bool = False
) -> str | None:
    """The one line a command prints before exiting 2 when the service's database is missing,
    not migrated or (unless ``unreachable_ok``: a server answers 503 until its database is
    back) cannot be reached; None when the command may go on. ``service`` is ``registry`` or
    ``settlement``."""
    where = f"the {service} database {describe(url)}"
    try:
        problem = database_problem(url, script_location)
    except DatabaseUnreachable as exc:
        return None if unreachable_ok else f"medaid-{service}: cannot open {where}: {exc}"
    if problem is None:
        return None
    return (
        f"medaid-{service}: {where} {problem}; run `medaid-{service} migrate` first "
        f"({service.upper()}_DATABASE_URL chooses the database)"
    )
