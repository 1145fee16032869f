"""Multi-host PostgreSQL URLs (``shared.dburl``): parsing, SQLAlchemy's form, asyncpg's
arguments, and the engine and both asyncpg pools connecting through a host list whose first
host is down."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect
from sqlalchemy.engine import make_url

from shared import dburl
from shared.db import async_url, is_sqlite, make_engine
from shared.dburl import DatabaseUrlError, Host, parse
from tests.support.processes import free_port

CLUSTER = "postgresql://medaid:s%40cr%2Ft@db1:5432,db2:5433,db3/settlement"


def sqlalchemy_args(url: str) -> dict[str, object]:
    """What SQLAlchemy's asyncpg dialect hands to asyncpg.connect() for the URL."""
    _, opts = asyncpg_dialect().create_connect_args(async_url(url))
    return {**opts, **dburl.sqlalchemy_connect_args(url)}


def test_hosts_ports_and_default_port() -> None:
    parsed = parse(CLUSTER + "?target_session_attrs=read-write")
    assert parsed.hosts == (Host("db1", 5432), Host("db2", 5433), Host("db3", None))
    assert parsed.multi_host
    assert (parsed.username, parsed.password, parsed.database) == (
        "medaid",
        "s@cr/t",
        "settlement",
    )
    assert parsed.option("target_session_attrs") == "read-write"


def test_one_host_stays_one_host() -> None:
    parsed = parse("postgres://u@db:6543/registry")
    assert parsed.hosts == (Host("db", 6543),)
    assert not parsed.multi_host
    assert async_url("postgres://u@db:6543/registry").render_as_string() == (
        "postgresql+asyncpg://u@db:6543/registry"
    )
    assert dburl.asyncpg_connect_kwargs("postgresql://u@db/registry") == {
        "host": "db",
        "user": "u",
        "database": "registry",
    }


def test_sqlalchemy_form_lists_every_host_with_its_port() -> None:
    url = async_url(CLUSTER + "?target_session_attrs=read-write&sslmode=require")
    assert url.drivername == "postgresql+asyncpg"
    assert url.host is None
    assert url.query["host"] == ("db1:5432", "db2:5433", "db3:5432")
    assert url.query["target_session_attrs"] == "read-write"
    assert url.query["ssl"] == "require"
    # The rendered URL reads back the same, and the dialect turns it into asyncpg's lists.
    rendered = url.render_as_string(hide_password=False)
    assert make_url(rendered).query == url.query
    args = sqlalchemy_args(CLUSTER + "?target_session_attrs=read-write")
    assert args["host"] == ["db1", "db2", "db3"]
    assert args["port"] == [5432, 5433, 5432]
    assert (args["user"], args["password"], args["database"]) == ("medaid", "s@cr/t", "settlement")
    assert args["target_session_attrs"] == "read-write"


def test_asyncpg_arguments_match_what_sqlalchemy_passes() -> None:
    url = CLUSTER + "?target_session_attrs=read-write&connect_timeout=4&application_name=medaid"
    kwargs = dburl.asyncpg_connect_kwargs(url)
    assert kwargs == {
        "host": ["db1", "db2", "db3"],
        "port": [5432, 5433, 5432],
        "user": "medaid",
        "password": "s@cr/t",
        "database": "settlement",
        "target_session_attrs": "read-write",
        "timeout": 4.0,
        "server_settings": {"application_name": "medaid"},
    }
    assert sqlalchemy_args(url) == kwargs


def test_server_settings_defaults_yield_to_the_url() -> None:
    kwargs = dburl.asyncpg_connect_kwargs(
        "postgresql://u@h/d?application_name=mine",
        server_settings={"application_name": "default", "jit": "off"},
    )
    assert kwargs["server_settings"] == {"application_name": "mine", "jit": "off"}


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://u@/settlement?host=db1:5432&host=db2:5433",  # SQLAlchemy's form
        "postgresql://u@/settlement?host=db1,db2&port=5432,5433",  # libpq's keyword form
        "postgresql+asyncpg://u@db1:5432,db2:5433/settlement",  # a driver named
        "postgresql://u@/settlement?host=db1,db2&port=5432,5433&dbname=other",  # path wins
    ],
)
def test_other_multi_host_forms(url: str) -> None:
    parsed = parse(url)
    assert parsed.hosts == (Host("db1", 5432), Host("db2", 5433))
    assert parsed.database == "settlement"


def test_one_port_for_all_hosts_and_ipv6() -> None:
    assert parse("postgresql://u@/d?host=a,b&port=6432").hosts == (Host("a", 6432), Host("b", 6432))
    parsed = parse("postgresql://u@[::1]:5444,[fe80::2]/d")
    assert parsed.hosts == (Host("::1", 5444), Host("fe80::2", None))
    args = sqlalchemy_args("postgresql://u@[::1]:5444,[fe80::2]/d")
    assert (args["host"], args["port"]) == (["::1", "fe80::2"], [5444, 5432])


def test_query_options_are_kept_in_order_and_typed() -> None:
    url = (
        "postgresql://u:p@a:1,b:2/d?target_session_attrs=primary&statement_cache_size=0"
        "&command_timeout=30&options=-c%20lock_timeout%3D5s&search_path=medaid"
    )
    parsed = parse(url)
    assert [k for k, _ in parsed.options] == [
        "target_session_attrs",
        "statement_cache_size",
        "command_timeout",
        "options",
        "search_path",
    ]
    kwargs = dburl.asyncpg_connect_kwargs(url)
    assert kwargs["statement_cache_size"] == 0
    assert kwargs["command_timeout"] == 30.0
    assert kwargs["server_settings"] == {"options": "-c lock_timeout=5s", "search_path": "medaid"}
    assert "prepared_statement_cache_size" not in kwargs


def test_statement_cache_off_turns_off_sqlalchemys_cache_too() -> None:
    url = "postgresql://u@bouncer:6432/settlement?statement_cache_size=0"
    assert dburl.statement_cache_disabled(url)
    assert async_url(url).query["prepared_statement_cache_size"] == "0"
    args = sqlalchemy_args(url)
    assert args["prepared_statement_cache_size"] == 0
    assert args["statement_cache_size"] == 0
    assert not dburl.statement_cache_disabled("postgresql://u@h/d?statement_cache_size=100")


def test_password_only_in_the_query_and_no_password() -> None:
    assert parse("postgresql://u@h/d?password=x%20y").password == "x y"
    assert parse("postgresql://u@h/d").password is None
    assert parse("postgresql://u:@h/d").password == ""


def test_socket_directories() -> None:
    parsed = parse("postgresql://u@/d?host=/run/postgresql")
    assert parsed.hosts == (Host("/run/postgresql", None),)
    assert dburl.asyncpg_connect_kwargs(parsed)["host"] == "/run/postgresql"
    args = sqlalchemy_args("postgresql://u@/d?host=/run/postgresql,/tmp&port=5433")
    assert (args["host"], args["port"]) == (["/run/postgresql", "/tmp"], [5433, 5433])


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("postgresql://u@a:5432,b:x/d", "invalid port 'x'"),
        ("postgresql://u@a:70000/d", "invalid port"),
        ("postgresql://u@a,b/d?port=1,2,3", "2 hosts but 3 ports"),
        ("postgresql://u@a,,b/d", "empty host"),
        ("postgresql://u@a/d?host=b", "both before the path and in ?host="),
        ("postgresql://u@a,b/d?target_session_attrs=master", "target_session_attrs must be"),
        ("postgresql://u@a/d?statement_cache_size=none", "statement_cache_size must be a number"),
        ("mysql://u@a/d", "not a PostgreSQL URL"),
        ("postgresql+pg8000://u@a/d", "unsupported PostgreSQL driver"),
    ],
)
def test_bad_urls_say_what_is_wrong(url: str, message: str) -> None:
    with pytest.raises(DatabaseUrlError, match=message.replace("?", r"\?")):
        parse(url)


def test_errors_never_show_the_password() -> None:
    with pytest.raises(DatabaseUrlError) as caught:
        parse("postgresql://u:hunter2@a,b/d?port=1,2,3")
    assert "hunter2" not in str(caught.value)


def test_sqlite_is_untouched() -> None:
    assert async_url("sqlite:///./var/x.db").drivername == "sqlite+aiosqlite"
    assert is_sqlite("sqlite:///./var/x.db")
    assert not is_sqlite(CLUSTER)
    assert not dburl.is_postgres("sqlite:///x.db")


# --------------------------------------------------------------------------- real connections


def _with_dead_first_host(admin_url: str) -> str:
    """The admin URL with a closed port listed before the real server."""
    parsed = parse(admin_url)
    live = parsed.hosts[0]
    auth = parsed.username + (f":{parsed.password}" if parsed.password else "") + "@"
    return (
        f"postgresql://{auth}127.0.0.1:{free_port()},{live.host}:{live.port_or_default}"
        f"/{parsed.database}?target_session_attrs=read-write&application_name=medaid-test"
    )


@pytest.mark.postgres
async def test_every_path_connects_past_a_dead_host(database_factory) -> None:
    """The engine, the services' statement pools (shared.db.Database: the settlement
    service's and the registry's eligibility lookup) and a plain asyncpg connection all skip
    a dead first host of a multi-host URL."""
    import asyncpg

    from shared.db import Database

    url = _with_dead_first_host(database_factory("postgres", "dburl"))
    engine = make_engine(url, pool_size=1)
    try:
        async with engine.connect() as conn:
            row = (
                await conn.execute(
                    text("SELECT current_setting('application_name'), pg_is_in_recovery()")
                )
            ).one()
        assert tuple(row) == ("medaid-test", False)
    finally:
        await engine.dispose()
    db = Database.from_url(url, pool_size=1, application_name="medaid-pool")
    try:
        async with db.read() as conn:
            setting = (
                await conn.execute(text("SELECT current_setting('application_name')"))
            ).scalar()
        # The URL's own application_name wins over the pool's default.
        assert setting == "medaid-test"
    finally:
        await db.dispose()
    conn = await asyncpg.connect(**dburl.asyncpg_connect_kwargs(url))
    await conn.close()


def test_logs_never_show_a_multi_host_password() -> None:
    from shared.observability import redact_text

    line = f"connecting to {CLUSTER}?target_session_attrs=read-write"
    assert "s%40cr" not in redact_text(line)
    assert "db1:5432,db2:5433,db3/settlement" in redact_text(line)


@pytest.mark.postgres
def test_migrations_take_a_percent_encoded_password(database_factory) -> None:
    from registry.database import MIGRATIONS
    from shared.db import run_migrations

    url = database_factory("postgres", "dburl_migrate")
    parsed = parse(url)
    if parsed.password is not None:
        pytest.skip("the test server's URL has a password of its own")
    # The suite's server trusts local connections, so the password is sent and ignored; what
    # is tested is that Alembic's configuration takes the "%" of the encoding.
    with_password = url.replace(f"{parsed.username}@", f"{parsed.username}:p%40ss%25w0rd@", 1)
    run_migrations(MIGRATIONS, with_password)
