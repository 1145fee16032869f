"""Lose the primary in the middle of a settle load and fail over to the synchronous standby.

A primary and a synchronous standby (Debian's PostgreSQL, run as the ``postgres`` user on free
ports, ``tests.support.pgcluster``) hold both services' databases; registry and settlement
run as real processes against the multi-host URL
``postgresql://postgres@127.0.0.1:<primary>,127.0.0.1:<standby>/<db>?target_session_attrs=read-write``.
HIS-like clients settle bills concurrently, each retrying with the same ``Idempotency-Key``
until it has its bill. In the middle the primary is stopped hard (``pg_ctl stop -m
immediate``); while no server takes writes both services report not ready; then the standby
is promoted (``pg_ctl promote``), as Patroni or CloudNativePG would, and the services find it
without a restart.

Then: every bill a client was given (2xx) is on the new primary, once; the running totals of
every person equal the sum over their bills; every request caught by the failover was answered
503 with ``Retry-After`` (no 500, no dropped connection); settling goes on. The time from the
stop to the first successful settle is reported (``figure``); it leaves out how long a cluster
manager takes to notice and promote, which the test does at once.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable, Iterator

import httpx
import pytest

from tests.cluster.conftest import Figure
from tests.faults.clients import Settle, make_settles, settle_with_retries
from tests.support.data import make_patients
from tests.support.ledger import bills_by_key, ledger_problems
from tests.support.pgcluster import Pair, make_root, missing_postgres, remove_root, require
from tests.support.stack import Stack, running_stack

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

PATIENTS = 1500
BILLS_PER_PERSON = 3
CLIENTS = 8
BEFORE_STOP = 150  # bills settled before the primary goes
AFTER_PROMOTE = 150  # bills settled on the new primary before the load ends
PHASE_TIMEOUT_S = 60.0
READY_TIMEOUT_S = 20.0


@pytest.fixture(scope="module")
def pair() -> Iterator[Pair]:
    require(missing_postgres())
    root = make_root("medaid-failover-")
    pair = Pair(root)
    try:
        pair.start()
        pair.primary.sql("CREATE DATABASE registry", "CREATE DATABASE settlement")
        yield pair
    finally:
        pair.stop()
        remove_root(root)


@pytest.fixture(scope="module")
def stack(pair: Pair, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(
        pair.url("registry"),
        pair.url("settlement"),
        tmp_path_factory.mktemp("failover-logs"),
        make_patients(PATIENTS, seed=41, start=800_000),
    ) as stack:
        yield stack


async def readiness(client: httpx.AsyncClient, base_url: str) -> int:
    try:
        return (await client.get(base_url + "/readyz", timeout=10)).status_code
    except httpx.TransportError:
        return 0


async def wait_readiness(
    client: httpx.AsyncClient, stack: Stack, want: int, timeout: float
) -> dict[str, int]:
    """Poll both services' ``/readyz`` until both answer ``want`` (or the time is up)."""
    deadline = time.monotonic() + timeout
    while True:
        states = {
            "registry": await readiness(client, stack.registry.base_url),
            "settlement": await readiness(client, stack.settlement.base_url),
        }
        if all(code == want for code in states.values()) or time.monotonic() > deadline:
            return states
        await asyncio.sleep(0.1)


def settled(sent: list[Settle]) -> int:
    return sum(1 for s in sent if s.setl_id)


async def wait_until(predicate: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(0.05)
    return False


async def test_failover_keeps_every_acknowledged_bill(
    pair: Pair, stack: Stack, figure: Figure
) -> None:
    assert pair.standby is not None
    primary, standby = pair.primary, pair.standby
    pids = (stack.settlement.pid, stack.registry.pid)
    bills = make_settles(
        "failover",
        stack.patients,
        PATIENTS * BILLS_PER_PERSON,
        seed=17,
        per_person=BILLS_PER_PERSON,
    )
    queue = iter(bills)
    sent: list[Settle] = []
    headers = stack.headers()
    stop_load = asyncio.Event()
    problems: list[str] = []
    limits = httpx.Limits(max_connections=CLIENTS + 2, max_keepalive_connections=CLIENTS + 2)

    async with httpx.AsyncClient(
        base_url=stack.settlement.base_url, timeout=30, limits=limits
    ) as client:
        assert await wait_readiness(client, stack, 200, READY_TIMEOUT_S) == {
            "registry": 200,
            "settlement": 200,
        }, stack.logs()

        async def his_client() -> None:
            while not stop_load.is_set():
                settle = next(queue, None)
                if settle is None:
                    return
                sent.append(settle)
                await settle_with_retries(
                    client, settle, headers, time.monotonic() + 4 * PHASE_TIMEOUT_S
                )

        clients = [asyncio.create_task(his_client()) for _ in range(CLIENTS)]
        try:
            if not await wait_until(lambda: settled(sent) >= BEFORE_STOP, PHASE_TIMEOUT_S):
                pytest.fail(f"only {settled(sent)} bills before the stop\n{stack.logs()}")
            acknowledged_before = {s.key: s.setl_id for s in sent if s.setl_id}

            # The standby is synchronous: every acknowledged commit is on it too.
            await asyncio.to_thread(pair.wait_synchronous, 5)
            stopping_at = time.monotonic()
            await asyncio.to_thread(primary.stop, "immediate")
            stopped_at = time.monotonic()  # pg_ctl returned: the primary is gone

            # No server takes writes: the standby refuses read-write sessions, so neither
            # service may say it is ready.
            while_down = await wait_readiness(client, stack, 503, READY_TIMEOUT_S)
            if while_down != {"registry": 503, "settlement": 503}:
                problems.append(f"/readyz while only the standby runs: {while_down}")

            promote_started = time.monotonic()
            await asyncio.to_thread(standby.promote)
            promoted_at = time.monotonic()

            at_promotion = settled(sent)
            if not await wait_until(
                lambda: settled(sent) >= at_promotion + AFTER_PROMOTE, PHASE_TIMEOUT_S
            ):
                problems.append(
                    f"settling did not go on after the promotion: "
                    f"{settled(sent) - at_promotion} bills in {PHASE_TIMEOUT_S:.0f} s"
                )
        finally:
            stop_load.set()
            await asyncio.gather(*clients)

        after = await wait_readiness(client, stack, 200, READY_TIMEOUT_S)
        if after != {"registry": 200, "settlement": 200}:
            problems.append(f"/readyz after the promotion: {after}")

    # The services lived through it: nobody restarted them.
    if (stack.settlement.pid, stack.registry.pid) != pids or not (
        stack.settlement.running() and stack.registry.running()
    ):
        problems.append("a service died or was restarted")

    attempts = [(s, a) for s in sent for a in s.attempts]
    outcomes = Counter(a.outcome for _, a in attempts)
    if set(outcomes) - {200, 201, 503}:
        problems.append(f"answers other than 200, 201 or 503: {dict(outcomes)}")
    refused = [a for _, a in attempts if a.outcome == 503]
    if not refused:
        problems.append("no request was refused: the failover was not under load")
    if any(not a.retry_after or "problem+json" not in (a.content_type or "") for a in refused):
        problems.append("a 503 without Retry-After or not problem+json")
    in_flight = [a for _, a in attempts if a.started < stopped_at and a.ended > stopping_at]
    if not any(a.outcome == 503 for a in in_flight) or any(
        a.outcome not in (200, 201, 503) for a in in_flight
    ):
        problems.append(f"requests caught by the stop: {Counter(a.outcome for a in in_flight)}")
    unfinished = [(s.key, s.error) for s in sent if not s.setl_id]
    if unfinished:
        problems.append(f"{len(unfinished)} settles never got their bill: {unfinished[:3]}")
    while_down_ok = [
        a
        for _, a in attempts
        if a.outcome in (200, 201) and stopped_at < a.started and a.ended < promote_started
    ]
    if while_down_ok:
        problems.append(f"{len(while_down_ok)} bills acknowledged while no primary ran")

    # Every acknowledged bill is on the new primary, exactly once, with the id the client got.
    new_primary = standby.dsn("settlement")
    found = await bills_by_key(new_primary, [s.key for s in sent])
    lost = [
        k for k, sid in acknowledged_before.items() if [b["setl_id"] for b in found[k]] != [sid]
    ]
    if lost:
        problems.append(f"bills acknowledged before the stop missing or changed: {lost[:5]}")
    wrong = [
        s.key
        for s in sent
        if s.setl_id and [b["setl_id"] for b in found.get(s.key, [])] != [s.setl_id]
    ]
    if wrong:
        problems.append(f"not exactly the acknowledged bill: {wrong[:5]}")
    problems += await ledger_problems(new_primary)

    first_after = min(
        (a.ended for _, a in attempts if a.outcome in (200, 201) and a.started >= stopped_at),
        default=None,
    )
    assert not problems, "\n".join(problems) + "\n" + stack.logs()
    assert first_after is not None
    figure("failover_stop_to_first_settle", f"{first_after - stopped_at:.3f} s")
    figure("failover_promote_to_first_settle", f"{first_after - promoted_at:.3f} s")
    figure("failover_pg_ctl_promote", f"{promoted_at - promote_started:.3f} s")
    figure("failover_bills", f"{settled(sent)} settled, {len(refused)} answers 503")
