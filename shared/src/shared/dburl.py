"""PostgreSQL URLs with one host or several, for SQLAlchemy and for asyncpg (pure functions).

A replicated PostgreSQL cluster is named by the libpq multi-host form::

    postgresql://user:secret@db1:5432,db2:5433,db3/settlement?target_session_attrs=read-write

Each host is tried in turn; ``target_session_attrs=read-write`` accepts only the server that
takes writes (the primary), so after a failover new connections find the promoted standby by
themselves. A host without a port uses 5432. The forms SQLAlchemy writes are read too: hosts in
the query (``?host=db1:5432&host=db2:5433``, or ``?host=db1,db2&port=5432,5433``).

:func:`parse` reads any of them into a :class:`PgUrl`; from it

* :func:`sqlalchemy_url` and :func:`sqlalchemy_connect_args` give what SQLAlchemy's asyncpg
  dialect takes (several hosts as ``?host=h1:5432&host=h2:5433``, every port written out, as
  its multi-host form requires);
* :func:`asyncpg_connect_kwargs` gives the keyword arguments of ``asyncpg.connect()`` and
  ``asyncpg.create_pool()`` (``host`` and ``port`` as lists for several hosts).

Query options mean the same on every path:

* ``target_session_attrs`` (``any``, ``read-write``, ``primary``, …), ``ssl`` (or libpq's
  ``sslmode``), ``passfile``, ``krbsrvname``, ``gsslib``: asyncpg's connect arguments.
* ``connect_timeout`` (libpq's name; seconds), ``command_timeout``, ``statement_cache_size``,
  ``max_cached_statement_lifetime``, ``max_cacheable_statement_size``: asyncpg's, as numbers.
  ``statement_cache_size=0`` is the switch for PgBouncer in transaction pooling mode: asyncpg
  then sends unnamed statements, parsed again on each execution, and SQLAlchemy's own
  prepared-statement cache is turned off with it (``prepared_statement_cache_size=0``).
* ``prepared_statement_cache_size``: SQLAlchemy's adapter only (asyncpg never sees it).
* anything else (``application_name``, ``options``, ``search_path``…): a server setting sent
  when the connection starts, as asyncpg does with a DSN's unknown options.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from sqlalchemy.engine import URL

DEFAULT_PORT = 5432
SCHEMES = ("postgresql", "postgres")
DRIVERS = ("", "asyncpg", "psycopg", "psycopg2")
"""Drivers a URL may name; every one of them is served by asyncpg."""
ASYNC_DRIVERNAME = "postgresql+asyncpg"

_STRING_OPTIONS = ("target_session_attrs", "ssl", "passfile", "krbsrvname", "gsslib")
_NUMBER_OPTIONS: dict[str, type[int] | type[float]] = {
    "timeout": float,
    "command_timeout": float,
    "statement_cache_size": int,
    "max_cached_statement_lifetime": float,
    "max_cacheable_statement_size": int,
}
_ALIASES = {"sslmode": "ssl", "connect_timeout": "timeout"}
_ADAPTER_OPTIONS = ("prepared_statement_cache_size",)
"""Options of SQLAlchemy's asyncpg adapter, not of asyncpg."""
_ADDRESS_OPTIONS = ("host", "port", "user", "password", "dbname", "database")
_TARGET_SESSION_ATTRS = ("any", "primary", "standby", "prefer-standby", "read-write", "read-only")
_IPV6 = re.compile(r"^\[([^\]]+)\](?::(.*))?$")


class DatabaseUrlError(ValueError):
    """The database URL cannot be understood (the message never contains the password)."""


@dataclass(frozen=True)
class Host:
    host: str
    """A name, an IPv4 or IPv6 address, a Unix socket directory (``/run/postgresql``), or
    empty: the driver's default (``PGHOST``, then the local socket or localhost)."""
    port: int | None = None
    """None: the default, 5432."""

    @property
    def is_socket(self) -> bool:
        return self.host.startswith("/")

    @property
    def port_or_default(self) -> int:
        return DEFAULT_PORT if self.port is None else self.port

    def spec(self) -> str:
        """``host:port`` as SQLAlchemy's multi-host query form writes it (port always given;
        for a socket directory it names the socket file ``.s.PGSQL.<port>``)."""
        return f"{self.host}:{self.port_or_default}"


@dataclass(frozen=True)
class PgUrl:
    """A parsed PostgreSQL URL. ``options`` keeps the query in order (libpq names as written),
    without the address parts (``host``, ``port``, ``user``, ``password``, ``dbname``)."""

    driver: str
    username: str | None
    password: str | None = field(repr=False)
    hosts: tuple[Host, ...]
    database: str | None
    options: tuple[tuple[str, str], ...] = ()

    @property
    def multi_host(self) -> bool:
        return len(self.hosts) > 1

    def option(self, name: str) -> str | None:
        """The last value given for ``name`` (or its libpq alias), or None."""
        found = None
        for key, value in self.options:
            if _ALIASES.get(key, key) == name:
                found = value
        return found


def is_postgres(url: str) -> bool:
    """True for a ``postgresql://`` / ``postgres://`` URL (optionally naming a driver above)."""
    scheme = url.partition("://")[0].lower()
    backend, _, driver = scheme.partition("+")
    return backend in SCHEMES and driver in DRIVERS


def parse(url: str) -> PgUrl:
    """Read a PostgreSQL URL with one host or several (see the module docs for the forms).
    Raises :class:`DatabaseUrlError` naming what is wrong."""
    if "://" not in url:
        raise DatabaseUrlError("a database URL starts with postgresql://")
    scheme, _, _ = url.partition("://")
    backend, _, driver = scheme.lower().partition("+")
    if backend not in SCHEMES:
        raise DatabaseUrlError(f"not a PostgreSQL URL (scheme {scheme!r})")
    if driver not in DRIVERS:
        raise DatabaseUrlError(f"unsupported PostgreSQL driver {driver!r} (asyncpg is used)")
    parts = urlsplit(url)
    userinfo, at, hostlist = parts.netloc.rpartition("@")
    if not at:
        userinfo, hostlist = "", parts.netloc
    username, colon, password = userinfo.partition(":")
    query = parse_qsl(parts.query, keep_blank_values=True)

    database = unquote(parts.path[1:]) if parts.path.startswith("/") else unquote(parts.path)
    query_hosts: list[str] = []
    query_ports: list[str] = []
    options: list[tuple[str, str]] = []
    for key, value in query:
        if key == "host":
            query_hosts.extend(value.split(","))
        elif key == "port":
            query_ports.extend(value.split(","))
        elif key == "user":
            username = username or value
        elif key == "password":
            if not colon:
                password, colon = value, ":"
        elif key in ("dbname", "database"):
            database = database or value
        else:
            options.append((key, value))

    if query_hosts and hostlist:
        raise DatabaseUrlError("hosts are given both before the path and in ?host=")
    hosts = _hosts(",".join(query_hosts) if query_hosts else unquote(hostlist), query_ports)
    if len(hosts) > 1 and not all(h.host for h in hosts):
        raise DatabaseUrlError("an empty host in the list of hosts")

    result = PgUrl(
        driver=driver,
        username=unquote(username) or None,
        password=unquote(password) if colon else None,
        hosts=hosts,
        database=database or None,
        options=tuple(options),
    )
    _check_options(result)
    return result


def _hosts(hostlist: str, hostlist_ports: list[str]) -> tuple[Host, ...]:
    specs = hostlist.split(",") if hostlist else [""]
    hosts: list[Host] = []
    for spec in specs:
        if spec.startswith("/"):
            hosts.append(Host(spec))
            continue
        match = _IPV6.match(spec)
        if match:
            name, port = match.group(1), match.group(2) or ""
        else:
            name, _, port = spec.partition(":")
        hosts.append(Host(name, _port(port) if port else None))
    if hostlist_ports:
        if len(hostlist_ports) == 1:
            hostlist_ports = hostlist_ports * len(hosts)
        if len(hostlist_ports) != len(hosts):
            raise DatabaseUrlError(
                f"{len(hosts)} hosts but {len(hostlist_ports)} ports in ?port= "
                "(give one port for all, or one per host)"
            )
        merged = []
        for host, port in zip(hosts, hostlist_ports, strict=True):
            if host.port is not None and port:
                raise DatabaseUrlError(f"host {host.host!r} has a port twice")
            merged.append(Host(host.host, _port(port) if port else host.port))
        hosts = merged
    return tuple(hosts)


def _port(text: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise DatabaseUrlError(f"invalid port {text!r} in the database URL")
    return int(text)


def _check_options(url: PgUrl) -> None:
    attrs = url.option("target_session_attrs")
    if attrs is not None and attrs not in _TARGET_SESSION_ATTRS:
        raise DatabaseUrlError(
            f"target_session_attrs must be one of {', '.join(_TARGET_SESSION_ATTRS)}"
        )
    for name, kind in _NUMBER_OPTIONS.items():
        value = url.option(name)
        if value is not None:
            try:
                number = kind(value)
            except ValueError:
                raise DatabaseUrlError(f"{name} must be a number, not {value!r}") from None
            if number < 0:
                raise DatabaseUrlError(f"{name} must not be negative")


# --------------------------------------------------------------------------- option groups


def _split_options(
    url: PgUrl,
) -> tuple[dict[str, str], dict[str, int | float], dict[str, str], dict[str, str]]:
    """(asyncpg string options, asyncpg number options, server settings, adapter options);
    a name given twice keeps its last value."""
    strings: dict[str, str] = {}
    numbers: dict[str, int | float] = {}
    settings: dict[str, str] = {}
    adapter: dict[str, str] = {}
    for key, value in url.options:
        name = _ALIASES.get(key, key)
        if name in _STRING_OPTIONS:
            strings[name] = value
        elif name in _NUMBER_OPTIONS:
            numbers[name] = _NUMBER_OPTIONS[name](value)
        elif name in _ADAPTER_OPTIONS:
            adapter[name] = value
        elif name in _ADDRESS_OPTIONS:  # pragma: no cover - taken out by parse()
            continue
        else:
            settings[name] = value
    return strings, numbers, settings, adapter


def statement_cache_disabled(url: str | PgUrl) -> bool:
    """True when the URL says ``statement_cache_size=0`` (PgBouncer in transaction mode)."""
    parsed = parse(url) if isinstance(url, str) else url
    value = parsed.option("statement_cache_size")
    return value is not None and int(value) == 0


# --------------------------------------------------------------------------- SQLAlchemy


def sqlalchemy_url(url: str | PgUrl) -> URL:
    """The URL for ``create_async_engine`` (asyncpg dialect): several hosts as
    ``?host=h1:5432&host=h2:5433`` with every port written out; ``target_session_attrs``,
    ``ssl`` and the adapter's options in the query. Numbers and server settings are not in the
    URL (SQLAlchemy would hand them to asyncpg as strings): :func:`sqlalchemy_connect_args`."""
    parsed = parse(url) if isinstance(url, str) else url
    strings, _, _, adapter = _split_options(parsed)
    if statement_cache_disabled(parsed):
        adapter.setdefault("prepared_statement_cache_size", "0")
    query: dict[str, str | tuple[str, ...]] = {**strings, **adapter}
    host: str | None = None
    port: int | None = None
    only = parsed.hosts[0]
    if parsed.multi_host and any(":" in h.host for h in parsed.hosts):
        # SQLAlchemy splits ``host:port`` at every colon: IPv6 addresses go in its other form.
        query = {
            "host": ",".join(h.host for h in parsed.hosts),
            "port": ",".join(str(h.port_or_default) for h in parsed.hosts),
            **query,
        }
    elif parsed.multi_host:
        query = {"host": tuple(h.spec() for h in parsed.hosts), **query}
    elif only.is_socket:
        query = {"host": only.host, **query}
        port = only.port
    else:
        host, port = only.host or None, only.port
    return URL.create(
        ASYNC_DRIVERNAME,
        username=parsed.username,
        password=parsed.password,
        host=host,
        port=port,
        database=parsed.database,
        query=query,
    )


def sqlalchemy_connect_args(url: str | PgUrl) -> dict[str, Any]:
    """``connect_args`` for ``create_async_engine``: asyncpg's number options (typed) and the
    server settings the URL carries; empty when it carries none."""
    parsed = parse(url) if isinstance(url, str) else url
    _, numbers, settings, _ = _split_options(parsed)
    args: dict[str, Any] = dict(numbers)
    if settings:
        args["server_settings"] = settings
    return args


# --------------------------------------------------------------------------- asyncpg


def asyncpg_connect_kwargs(
    url: str | PgUrl, *, server_settings: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """Keyword arguments of ``asyncpg.connect()`` / ``asyncpg.create_pool()``: ``host`` and
    ``port`` (lists for several hosts; a port left out means 5432), ``user``, ``password``,
    ``database`` and the options. ``server_settings`` are defaults the URL's own override."""
    parsed = parse(url) if isinstance(url, str) else url
    strings, numbers, settings, _ = _split_options(parsed)
    kwargs: dict[str, Any] = {}
    if parsed.multi_host:
        kwargs["host"] = [h.host for h in parsed.hosts]
        kwargs["port"] = [h.port_or_default for h in parsed.hosts]
    else:
        if parsed.hosts[0].host:
            kwargs["host"] = parsed.hosts[0].host
        if parsed.hosts[0].port is not None:
            kwargs["port"] = parsed.hosts[0].port
    for name, value in (
        ("user", parsed.username),
        ("password", parsed.password),
        ("database", parsed.database),
    ):
        if value is not None:
            kwargs[name] = value
    kwargs.update(strings)
    kwargs.update(numbers)
    merged = {**(server_settings or {}), **settings}
    if merged:
        kwargs["server_settings"] = merged
    return kwargs
