"""Both services through Debian's PgBouncer in transaction pooling mode.

The test starts a PgBouncer on a free port in front of the machine's PostgreSQL server
(``pool_mode = transaction``, a small server pool per database), then migrates, imports,
serves and settles with every database URL pointing at PgBouncer and carrying
``statement_cache_size=0``: asyncpg sends unnamed statements that are parsed again on each
execution and SQLAlchemy keeps no prepared statements, so no statement outlives the
transaction that made it (PgBouncer before 1.21 cannot carry named ones from one server
connection to another). A concurrent settle load then runs through it; the ledger must be
whole, and the server must never see more connections per database than the pool. A second
test shows the setting is the one that matters: with asyncpg's statement cache on, a statement
named on one server connection is run on another and PostgreSQL does not know it.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections import Counter
from collections.abc import Iterator

import asyncpg
import httpx
import pytest

from shared import dburl
from tests.cluster.conftest import Figure
from tests.conftest import DatabaseFactory, require_postgres
from tests.faults.clients import make_settles, run_workers, split
from tests.support.data import make_patients
from tests.support.ledger import bills_by_key, ledger_problems
from tests.support.pgcluster import Pgbouncer, make_root, missing_pgbouncer, remove_root, require
from tests.support.stack import Stack, running_stack

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

PATIENTS = 200
BILLS_PER_PERSON = 2
CLIENTS = 16
POOL_SIZE = 6
"""Server connections PgBouncer keeps per database: fewer than the services' own pools
(the settlement service alone opens up to 40 client connections)."""


@pytest.fixture(scope="module")
def bouncer() -> Iterator[Pgbouncer]:
    require(missing_pgbouncer())
    admin = require_postgres()
    user = admin.split("://", 1)[1].split("@", 1)[0].split(":", 1)[0]
    port = int(admin.rsplit("@", 1)[1].split("/", 1)[0].rsplit(":", 1)[1])
    root = make_root("medaid-pgbouncer-")
    bouncer = Pgbouncer(root, server_port=port, pool_size=POOL_SIZE, user=user)
    try:
        yield bouncer.start()
    finally:
        bouncer.stop()
        remove_root(root)


def database_name(url: str) -> str:
    return url.rsplit("/", 1)[1]


@pytest.fixture(scope="module")
def stack(
    bouncer: Pgbouncer,
    database_factory: DatabaseFactory,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Stack]:
    registry_db = database_factory("postgres", "bouncer_registry")
    settlement_db = database_factory("postgres", "bouncer_settlement")
    through = {"statement_cache_size": "0"}
    with running_stack(
        bouncer.url(database_name(registry_db), **through),
        bouncer.url(database_name(settlement_db), **through),
        tmp_path_factory.mktemp("pgbouncer-logs"),
        make_patients(PATIENTS, seed=53, start=900_000),
    ) as stack:
        # The ledger helpers read the server directly, not through PgBouncer.
        stack.extra.update(direct_settlement=settlement_db, direct_registry=registry_db)
        yield stack


async def server_connections(dsn: str, database: str) -> int:
    conn = await asyncpg.connect(dsn, timeout=10)
    try:
        count: int = await conn.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
            database,
        )
        return count
    finally:
        await conn.close()


async def test_settle_load_through_pgbouncer_transaction_pooling(
    bouncer: Pgbouncer, stack: Stack, figure: Figure
) -> None:
    direct = stack.extra["direct_settlement"]
    databases = [database_name(stack.extra["direct_settlement"])]
    databases.append(database_name(stack.extra["direct_registry"]))
    admin = require_postgres()
    settles = make_settles(
        "bouncer", stack.patients, PATIENTS * BILLS_PER_PERSON, seed=7, per_person=BILLS_PER_PERSON
    )
    peak = dict.fromkeys(databases, 0)
    done = asyncio.Event()

    async def watch() -> None:
        while not done.is_set():
            for name in databases:
                peak[name] = max(peak[name], await server_connections(admin, name))
            await asyncio.sleep(0.05)

    async with httpx.AsyncClient(timeout=10) as probe:
        for service in (stack.registry, stack.settlement):
            ready = await probe.get(service.base_url + "/readyz")
            assert ready.status_code == 200, ready.text

    watcher = asyncio.create_task(watch())
    started = time.monotonic()
    try:
        await run_workers(
            stack.settlement.base_url,
            stack.headers(),
            split(settles, CLIENTS),
            time.monotonic() + 240,
        )
    finally:
        elapsed = time.monotonic() - started
        done.set()
        await watcher

    problems: list[str] = []
    outcomes = Counter(a.outcome for s in settles for a in s.attempts)
    if set(outcomes) != {201}:
        problems.append(f"every settle should answer 201 at once: {dict(outcomes)}")
    errors = [(s.key, s.error) for s in settles if s.error or not s.setl_id]
    if errors:
        problems.append(f"{len(errors)} settles failed: {errors[:3]}")
    found = await bills_by_key(direct, [s.key for s in settles])
    wrong = [s.key for s in settles if [b["setl_id"] for b in found.get(s.key, [])] != [s.setl_id]]
    if wrong:
        problems.append(f"not exactly the acknowledged bill: {wrong[:5]}")
    problems += await ledger_problems(direct)
    crowded = {name: n for name, n in peak.items() if n > POOL_SIZE}
    if crowded:
        problems.append(f"more server connections than the pool of {POOL_SIZE}: {crowded}")
    assert not problems, "\n".join(problems) + "\n" + stack.logs() + "\n" + bouncer.log_tail()

    latencies = sorted(a.ended - a.started for s in settles for a in s.attempts if a.outcome == 201)
    figure("pgbouncer_version", Pgbouncer.version())
    figure("pgbouncer_settles", f"{len(settles)} bills by {CLIENTS} clients in {elapsed:.2f} s")
    figure("pgbouncer_settles_per_second", f"{len(settles) / elapsed:.1f}")
    figure(
        "pgbouncer_settle_latency",
        f"p50 {statistics.median(latencies) * 1000:.0f} ms, "
        f"p95 {latencies[int(0.95 * (len(latencies) - 1))] * 1000:.0f} ms",
    )
    figure("pgbouncer_peak_server_connections", f"{max(peak.values())} per database")


async def prepared_twice_across_servers(url: str) -> None:
    """Run a statement on connection A, let connection B hold that server connection in a
    transaction, then run the statement on A again: PgBouncer hands A another server
    connection, which has never seen a statement A named."""
    kwargs = dburl.asyncpg_connect_kwargs(url)
    a = await asyncpg.connect(**kwargs)
    b = await asyncpg.connect(**kwargs)
    try:
        assert await a.fetchval("SELECT 41 + $1::int", 1) == 42
        async with b.transaction():
            await b.fetchval("SELECT pg_backend_pid()")
            assert await a.fetchval("SELECT 41 + $1::int", 1) == 42
    finally:
        await a.close()
        await b.close()


async def test_statement_cache_off_is_what_makes_transaction_pooling_work(
    bouncer: Pgbouncer, database_factory: DatabaseFactory
) -> None:
    name = database_name(database_factory("postgres", "bouncer_statements"))
    with pytest.raises(asyncpg.exceptions.InvalidSQLStatementNameError):
        await prepared_twice_across_servers(bouncer.url(name))
    await prepared_twice_across_servers(bouncer.url(name, statement_cache_size="0"))
