"""Database access shared by the services: URLs, engines, sessions and Alembic upgrades.

Ops teams write plain ``sqlite:///…`` and ``postgresql://…`` URLs; :func:`async_url` picks the
driver (aiosqlite, asyncpg). SQLite is the embedded default for ``make run``; PostgreSQL is
production and the test suite.
"""

from __future__ import annotations

import asyncio
import re
from collections import OrderedDict
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, cast

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy import DateTime, Insert, MetaData, Table, Update, event, insert, text
from sqlalchemy.engine import URL, Dialect, make_url
from sqlalchemy.exc import DBAPIError, IntegrityError, NoResultFound, OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.sql.base import Executable
from sqlalchemy.types import TypeDecorator

from shared import dburl

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def new_metadata() -> MetaData:
    """A MetaData with the project's constraint naming convention (stable migration names)."""
    return MetaData(naming_convention=NAMING_CONVENTION)


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on both backends (SQLite stores it naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("timestamps must be timezone-aware")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):  # pragma: no cover - SQLite without type detection
            value = datetime.fromisoformat(value)
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def async_url(url: str) -> URL:
    """``sqlite:///x.db`` → ``sqlite+aiosqlite:///x.db``; ``postgresql://…`` or ``postgres://…``
    → ``postgresql+asyncpg://…``. A URL that already names another driver is kept.

    PostgreSQL URLs may list several hosts (``postgresql://u@h1:5432,h2:5433/db?
    target_session_attrs=read-write``): :mod:`shared.dburl` turns them into SQLAlchemy's
    multi-host form."""
    if dburl.is_postgres(url):
        return dburl.sqlalchemy_url(url)
    parsed = make_url(url)
    backend, _, driver = parsed.drivername.partition("+")
    if backend == "sqlite" and driver in ("", "pysqlite"):
        return parsed.set(drivername="sqlite+aiosqlite")
    return parsed


def is_sqlite(url: str | URL) -> bool:
    return (url if isinstance(url, URL) else async_url(url)).get_backend_name() == "sqlite"


def _prepare_sqlite_file(url: URL) -> None:
    database = url.database
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).parent.mkdir(parents=True, exist_ok=True)


def make_engine(url: str, *, pool_size: int = 10, echo: bool = False) -> AsyncEngine:
    """An async engine for a plain or driver-qualified URL.

    SQLite gets WAL, foreign keys and a busy timeout; PostgreSQL a pre-pinged pool so a
    restarted server is reconnected to without restarting the service (and, with several
    hosts and ``target_session_attrs=read-write``, the promoted standby after a failover).
    """
    target = async_url(url)
    kwargs: dict[str, Any] = {"echo": echo}
    if target.get_backend_name() == "sqlite":
        _prepare_sqlite_file(target)
        kwargs["connect_args"] = {"timeout": 30}
    else:
        kwargs.update(
            pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True, pool_recycle=1800
        )
        if dburl.is_postgres(url):  # typed asyncpg options and server settings of the URL
            kwargs["connect_args"] = dburl.sqlalchemy_connect_args(url)
    engine = create_async_engine(target, **kwargs)
    if target.get_backend_name() == "sqlite":
        _sqlite_pragmas(engine)
    return engine


def _sqlite_pragmas(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:  # pragma: no cover - driver hook
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


async def session_scope(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncSession]:
    """One transaction per request: commit on success, roll back on any error.

    Services only ``flush()``; the request boundary commits.
    """
    async with sessionmaker() as session:
        try:
            yield session
        except BaseException:
            await session.rollback()
            raise
        else:
            await session.commit()


def run_migrations(script_location: str | Path, url: str, revision: str = "head") -> None:
    """Alembic upgrade of a service's own history (sync entry point for the CLI and tests)."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(script_location))
    # Alembic's options are ConfigParser values: a percent-encoded password needs "%%".
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    cfg.attributes["configure_logger"] = False
    command.upgrade(cfg, revision)


def run_async_migrations(target_metadata: MetaData) -> None:
    """Body of a service's ``migrations/env.py``: run online migrations on an async engine."""
    from alembic import context

    config = context.config
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("sqlalchemy.url is not set")

    def do_run(connection: Any) -> None:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            compare_type=True,
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            context.run_migrations()

    async def main() -> None:
        engine = make_engine(url, pool_size=1)
        try:
            async with engine.connect() as connection:
                await connection.run_sync(do_run)
        finally:
            await engine.dispose()

    asyncio.run(main())


# ----------------------------------------------------------------------------- statements
#
# Every statement is written once, as SQLAlchemy Core. On PostgreSQL it is compiled once for
# asyncpg (``$n`` placeholders, the types' bind processors) and run on one asyncpg pool: no
# ORM session, no pre-ping, no reset query per checkout. On SQLite it runs through the
# SQLAlchemy engine. Callers see one connection type, :class:`Conn`, either way.


Params = Mapping[str, Any] | Sequence[Mapping[str, Any]] | None
"""One parameter set, or several (the statement runs once per set)."""


class Result:
    """The rows a statement returned (attribute and index access, like SQLAlchemy's rows)."""

    __slots__ = ("_rows",)

    def __init__(self, rows: Sequence[Any]) -> None:
        self._rows = rows

    def all(self) -> Sequence[Any]:
        return self._rows

    def __iter__(self) -> Iterator[Any]:
        return iter(self._rows)

    def first(self) -> Any | None:
        return self._rows[0] if self._rows else None

    def one(self) -> Any:
        if len(self._rows) != 1:
            raise NoResultFound(f"expected one row, got {len(self._rows)}")
        return self._rows[0]

    def scalar(self) -> Any:
        return self._rows[0][0] if self._rows else None

    def scalar_one(self) -> Any:
        return self.one()[0]

    def scalars(self) -> list[Any]:
        return [row[0] for row in self._rows]


class Conn(Protocol):
    """A connection of :class:`Database` (inside its read or write block)."""

    dialect: str
    """``postgresql`` or ``sqlite``."""

    async def execute(
        self,
        stmt: Executable,
        params: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None,
    ) -> Result:
        """Run a Core statement; a sequence of parameter sets runs it once per set (no rows
        come back then)."""

    def stream(
        self,
        stmt: Executable,
        params: Mapping[str, Any] | None = None,
        *,
        batch: int,
        tuples: bool = False,
    ) -> AsyncIterator[Sequence[Any]]:
        """The rows of a large query in batches, from a server-side cursor; with ``tuples``
        each row is a plain tuple of its values (no access by name: cheaper per row)."""

    async def copy(
        self, table: Table, columns: Sequence[str], records: Sequence[Sequence[Any]]
    ) -> None:
        """Insert many rows in one go (bulk imports): PostgreSQL's binary ``COPY``, each value
        of the column's Python type (``Decimal`` for numeric and money columns, ``date``,
        ``str``, aware ``datetime``); on SQLite one executemany ``INSERT`` through the
        columns' types."""


class _Record:
    """An asyncpg record read by attribute too, like a SQLAlchemy row."""

    __slots__ = ("_record",)

    def __init__(self, record: Any) -> None:
        self._record = record

    def __getattr__(self, name: str) -> Any:
        try:
            return self._record[name]
        except KeyError:
            raise AttributeError(name) from None

    def __getitem__(self, key: int | str) -> Any:
        return self._record[key]

    def __len__(self) -> int:
        return len(self._record)

    def __iter__(self) -> Iterator[Any]:
        return iter(self._record)  # an asyncpg record iterates over its values

    def _asdict(self) -> dict[str, Any]:
        return dict(self._record.items())


class _Compiled:
    """A statement compiled for asyncpg: SQL text, parameter order, literal values and the
    bind processors of the parameters' types."""

    __slots__ = ("_compiled", "expanding", "names", "processors", "sql", "values")

    def __init__(self, stmt: Executable, dialect: Dialect, column_keys: tuple[str, ...]) -> None:
        compiled = cast(Any, stmt).compile(dialect=dialect, column_keys=list(column_keys) or None)
        self._compiled = compiled
        self.sql: str = compiled.string
        self.names: tuple[str, ...] = tuple(compiled.positiontup or ())
        self.values: dict[str, Any] = compiled.construct_params(_check=False)
        bind_processors = compiled._bind_processors
        self.processors = tuple(bind_processors.get(name) for name in self.names)
        # IN lists: the SQL depends on the list's length, so it is rendered per execution.
        self.expanding = any(b.expanding for b in compiled.binds.values())

    def args(self, params: Mapping[str, Any] | None) -> list[Any]:
        out = []
        for name, process in zip(self.names, self.processors, strict=True):
            value = params[name] if params is not None and name in params else self.values[name]
            out.append(process(value) if process is not None and value is not None else value)
        return out

    def render(self, params: Mapping[str, Any] | None) -> tuple[str, list[Any]]:
        """SQL text and positional arguments for one execution."""
        if not self.expanding:
            return self.sql, self.args(params)
        merged = {**self.values, **(params or {})}
        state = self._compiled.construct_expanded_state(merged)
        processors = state.processors
        args = [
            processors[name](value) if name in processors and value is not None else value
            for name, value in zip(state.positiontup, state.positional_parameters, strict=True)
        ]
        return state.statement, args


class _StatementCache:
    """Compiled statements by identity, most recently used kept: a statement built once at
    import is compiled once; one built per request is compiled per request."""

    def __init__(self, dialect: Dialect, size: int = 512) -> None:
        self._dialect = dialect
        self._size = size
        self._entries: OrderedDict[tuple[int, tuple[str, ...]], tuple[Executable, _Compiled]]
        self._entries = OrderedDict()

    def get(self, stmt: Executable, params: Mapping[str, Any] | None) -> _Compiled:
        column_keys = tuple(params) if params is not None and _is_dml(stmt) else ()
        key = (id(stmt), column_keys)
        entry = self._entries.get(key)
        if entry is not None and entry[0] is stmt:
            self._entries.move_to_end(key)
            return entry[1]
        compiled = _Compiled(stmt, self._dialect, column_keys)
        self._entries[key] = (stmt, compiled)  # the statement is kept so its id stays unique
        if len(self._entries) > self._size:
            self._entries.popitem(last=False)
        return compiled


def _is_dml(stmt: Executable) -> bool:
    return isinstance(stmt, Insert | Update)


def _driver_error(exc: BaseException, sql: str) -> BaseException:
    """asyncpg's errors as SQLAlchemy's, so callers catch one kind on either backend: an
    integrity violation as ``IntegrityError``, an outage as ``OperationalError`` (the outage
    handler answers it with a 503), any other server error as ``DBAPIError``."""
    from shared.outage import database_unavailable

    if isinstance(exc, asyncpg.IntegrityConstraintViolationError):
        return IntegrityError(sql, None, cast(Exception, exc))
    if database_unavailable(exc):
        return OperationalError(sql, None, cast(Exception, exc), connection_invalidated=True)
    if isinstance(exc, asyncpg.PostgresError):
        return DBAPIError(sql, None, cast(Exception, exc))
    return exc


class _PgConn:
    __slots__ = ("_cache", "_conn")
    dialect = "postgresql"

    def __init__(self, conn: Any, cache: _StatementCache) -> None:
        self._conn = conn
        self._cache = cache

    async def execute(
        self,
        stmt: Executable,
        params: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None,
    ) -> Result:
        many = params is not None and not isinstance(params, Mapping)
        first = cast(Sequence[Mapping[str, Any]], params)[0] if many and params else params
        compiled = self._cache.get(stmt, cast(Mapping[str, Any] | None, first))
        try:
            if many:
                sets = cast(Sequence[Mapping[str, Any]], params)
                if sets:
                    await self._conn.executemany(compiled.sql, [compiled.args(p) for p in sets])
                return Result(())
            sql, args = compiled.render(cast(Mapping[str, Any] | None, params))
            rows = await self._conn.fetch(sql, *args)
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:
            raise _driver_error(exc, compiled.sql) from exc
        return Result([_Record(r) for r in rows])

    async def stream(
        self,
        stmt: Executable,
        params: Mapping[str, Any] | None = None,
        *,
        batch: int,
        tuples: bool = False,
    ) -> AsyncIterator[Sequence[Any]]:
        compiled = self._cache.get(stmt, params)
        transaction = None if self._conn.is_in_transaction() else self._conn.transaction()
        if transaction is not None:
            await transaction.start()
        try:
            sql, args = compiled.render(params)
            cursor = await self._conn.cursor(sql, *args)
            while records := await cursor.fetch(batch):
                rows = list(map(tuple, records)) if tuples else [_Record(r) for r in records]
                del records  # with tuples, the driver's records go now (fewer objects to scan)
                yield rows
        finally:
            if transaction is not None:
                await transaction.rollback()

    async def copy(
        self, table: Table, columns: Sequence[str], records: Sequence[Sequence[Any]]
    ) -> None:
        if not records:
            return
        try:
            await self._conn.copy_records_to_table(
                table.name, records=records, columns=list(columns), schema_name=table.schema
            )
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:
            raise _driver_error(exc, f"COPY {table.name}") from exc


class _CoreConn:
    """The same interface on a SQLAlchemy connection (SQLite)."""

    __slots__ = ("_conn", "dialect")

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn
        self.dialect = conn.dialect.name

    async def execute(
        self,
        stmt: Executable,
        params: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None,
    ) -> Result:
        if params is not None and not isinstance(params, Mapping):
            if params:
                await self._conn.execute(stmt, [dict(p) for p in params])
            return Result(())
        result = await self._conn.execute(stmt, dict(params) if params else None)
        return Result(result.all() if result.returns_rows else ())

    async def stream(
        self,
        stmt: Executable,
        params: Mapping[str, Any] | None = None,
        *,
        batch: int,
        tuples: bool = False,
    ) -> AsyncIterator[Sequence[Any]]:
        result = await self._conn.stream(
            cast(Any, stmt).execution_options(yield_per=batch), dict(params) if params else None
        )
        async for rows in result.partitions(batch):
            yield list(map(tuple, rows)) if tuples else rows

    async def copy(
        self, table: Table, columns: Sequence[str], records: Sequence[Sequence[Any]]
    ) -> None:
        if records:
            names = list(columns)
            await self._conn.execute(
                insert(table), [dict(zip(names, record, strict=True)) for record in records]
            )


async def session_conn(session: AsyncSession) -> Conn:
    """The session's connection, in the session's transaction, as a :class:`Conn`: for
    ``copy`` and ``stream`` (and set-based statements) in a service that works on a session.
    On PostgreSQL the statements run on the asyncpg connection underneath; SQLAlchemy's
    session sees their effects as its own (one connection, one transaction)."""
    connection = await session.connection()
    if connection.dialect.name != "postgresql":
        return _CoreConn(connection)
    raw = await connection.get_raw_connection()
    driver = raw.driver_connection
    assert driver is not None
    if not driver.is_in_transaction():  # SQLAlchemy begins at the session's first statement
        await connection.exec_driver_sql("SELECT 1")
    return _PgConn(driver, _StatementCache(connection.dialect))


class _AsyncpgPoolStats:
    """An asyncpg pool read like SQLAlchemy's (for the pool metrics)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def size(self) -> int:
        return self._db._max_size

    def checkedout(self) -> int:
        pool = self._db._pool
        return 0 if pool is None else pool.get_size() - pool.get_idle_size()

    def checkedin(self) -> int:
        pool = self._db._pool
        return 0 if pool is None else pool.get_idle_size()

    def overflow(self) -> int:
        return 0


async def _keep_session(_conn: Any) -> None:
    """Pool reset hook: the statements leave no session state behind (no ``SET`` outside a
    transaction, no ``LISTEN``, cursors or advisory locks), so the reset query asyncpg runs on
    every release by default is skipped; a transaction left open is still rolled back."""


CONNECT_TIMEOUT_S = 10.0

_SNAPSHOT_ID = re.compile(r"[0-9A-F]{8}-[0-9A-F]{8}-[0-9]+")
"""The shape of the id ``pg_export_snapshot()`` answers."""
_EXPORT_SNAPSHOT = text("SELECT pg_export_snapshot()")


async def export_snapshot(conn: Conn) -> str:
    """The id of the snapshot of ``conn``'s transaction (PostgreSQL, inside
    :meth:`Database.snapshot`): other connections share it with ``snapshot(shared=...)`` while
    the transaction is open."""
    return str((await conn.execute(_EXPORT_SNAPSHOT)).scalar_one())


class Database:
    """A service's database: Core statements on one pool, one write discipline per backend.

    PostgreSQL: one asyncpg pool (opened on first use, so a service starts while the server
    is down; a broken connection is dropped and replaced). Concurrent writers of one person
    queue on row locks. SQLite: the SQLAlchemy engine; SQLite has no row locks, so write
    transactions are serialised in the process and take SQLite's write lock at
    ``BEGIN IMMEDIATE`` (another process cannot slip in between a read and a write).
    """

    def __init__(
        self,
        engine: AsyncEngine,
        url: str,
        *,
        pool_size: int = 10,
        application_name: str = "medaid",
    ) -> None:
        self.engine = engine
        self._url = url
        """SQLAlchemy's engine: runs the statements on SQLite; unused at run time on
        PostgreSQL (migrations open their own)."""
        self.dialect: str = engine.dialect.name
        self.sqlite = self.dialect == "sqlite"
        self._write_lock = asyncio.Lock()
        self._max_size = pool_size
        self._pool: Any = None
        self._pool_lock = asyncio.Lock()
        self._cache = _StatementCache(engine.dialect)
        self._application_name = application_name

    @classmethod
    def from_url(
        cls, url: str, *, pool_size: int = 10, application_name: str = "medaid"
    ) -> Database:
        return cls(
            make_engine(url, pool_size=pool_size),
            url,
            pool_size=pool_size,
            application_name=application_name,
        )

    @property
    def pool(self) -> Any:
        """The pool's sizes, read as SQLAlchemy's pool is (``size()``, ``checkedout()`` …)."""
        return self.engine.pool if self.sqlite else _AsyncpgPoolStats(self)

    def _pool_options(self) -> dict[str, Any]:
        """Every host of a multi-host URL and its options (:mod:`shared.dburl`)."""
        options = dburl.asyncpg_connect_kwargs(
            self._url, server_settings={"application_name": self._application_name}
        )
        options.setdefault("timeout", CONNECT_TIMEOUT_S)
        return options

    async def _asyncpg_pool(self) -> Any:
        if self._pool is None:
            async with self._pool_lock:
                if self._pool is None:
                    self._pool = await asyncpg.create_pool(
                        min_size=0,
                        max_size=self._max_size,
                        max_inactive_connection_lifetime=300,
                        reset=_keep_session,
                        **self._pool_options(),
                    )
        return self._pool

    @asynccontextmanager
    async def _acquire(self) -> AsyncIterator[Any]:
        pool = await self._asyncpg_pool()
        try:
            connection = await pool.acquire()
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError) as exc:
            raise _driver_error(exc, "connect") from exc
        try:
            yield connection
        finally:
            await pool.release(connection)

    @asynccontextmanager
    async def read(self) -> AsyncIterator[Conn]:
        """A connection for reads: each statement sees the latest committed data."""
        if self.sqlite:
            async with self.engine.connect() as conn:
                yield _CoreConn(conn)
            return
        async with self._acquire() as connection:
            yield _PgConn(connection, self._cache)

    @property
    def url(self) -> str:
        """The database URL the service was given (for a worker process to open its own)."""
        return self._url

    @asynccontextmanager
    async def snapshot(self, *, shared: str | None = None) -> AsyncIterator[Conn]:
        """A read-only transaction: every statement sees the same data (reports, replays).

        PostgreSQL only: ``shared`` is the id of another transaction's snapshot
        (:func:`export_snapshot`, ``'00000003-0000001B-1'``), so this one sees exactly the
        data that one sees (a worker process reading its share of a replay); that
        transaction must still be open. ``ValueError`` for an id of another shape."""
        if self.sqlite:
            if shared is not None:
                raise ValueError("SQLite has no shared snapshots")
            async with self.engine.connect() as conn:
                yield _CoreConn(conn)
            return
        if shared is not None and not _SNAPSHOT_ID.fullmatch(shared):
            raise ValueError(f"not a snapshot id: {shared!r}")
        async with self._acquire() as connection:
            transaction = connection.transaction(isolation="repeatable_read", readonly=True)
            await transaction.start()
            try:
                if shared is not None:
                    # A utility statement (no parameters); the id's shape is checked above.
                    await connection.execute(f"SET TRANSACTION SNAPSHOT '{shared}'")
                yield _PgConn(connection, self._cache)
            finally:
                await transaction.rollback()

    @asynccontextmanager
    async def write(self) -> AsyncIterator[Conn]:
        """One write transaction: committed when the block ends, rolled back on any error."""
        if not self.sqlite:
            async with self._acquire() as connection:
                transaction = connection.transaction()
                await transaction.start()
                try:
                    yield _PgConn(connection, self._cache)
                except BaseException:
                    await transaction.rollback()
                    raise
                try:
                    await transaction.commit()
                except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:
                    raise _driver_error(exc, "COMMIT") from exc
            return
        async with self._write_lock, self.engine.connect() as conn:
            await conn.execute(text("BEGIN IMMEDIATE"))
            try:
                yield _CoreConn(conn)
            except BaseException:
                await conn.rollback()
                raise
            await conn.commit()

    async def ping(self) -> None:
        async with self.read() as conn:
            await conn.execute(_PING)

    async def dispose(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()
        await self.engine.dispose()


_PING = text("SELECT 1")
