"""Restart PostgreSQL mid-load: requests fail cleanly (503 problem+json with Retry-After,
never a 500, a dropped connection or a hang past a bound), and the services' pools recover by
themselves.

This restarts the machine's shared cluster (``pg_ctlcluster … restart``): every open
connection of the test run is dropped. The test waits until the server accepts connections
again before it ends; pools elsewhere in the suite pre-ping and reconnect. It needs root and a
``pg_ctlcluster``-managed cluster on 127.0.0.1:5432, and skips otherwise.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter

import httpx
import pytest

from tests.conftest import postgres_admin_dsn
from tests.faults.clients import Settle, attempt, make_settles, settle_with_retries
from tests.support import postgres
from tests.support.ledger import bills_by_key, ledger_problems
from tests.support.stack import Stack

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

CLIENTS = 8
PAUSE_S = 0.05
ATTEMPT_BOUND_S = 15.0  # no request may hang longer than this


async def test_postgres_restart_fails_cleanly_and_recovers(stack: Stack) -> None:
    dsn = postgres_admin_dsn() or ""
    if not postgres.can_restart() or "@127.0.0.1:5432/" not in dsn:
        pytest.skip("needs root and the local pg_ctlcluster-managed cluster on 127.0.0.1:5432")
    stack.ensure_running()
    pids = (stack.settlement.pid, stack.registry.pid)
    pool = make_settles("pgrestart", stack.patients[1700:2900], 1200, seed=13)
    queue = iter(pool)
    sent: list[Settle] = []
    stop = asyncio.Event()
    headers = stack.headers()
    problems: list[str] = []

    async with httpx.AsyncClient(
        base_url=stack.settlement.base_url, timeout=ATTEMPT_BOUND_S + 5
    ) as client:

        async def client_loop() -> None:
            while not stop.is_set():
                settle = next(queue, None)
                if settle is None:
                    return
                sent.append(settle)
                await attempt(client, settle, headers)
                await asyncio.sleep(PAUSE_S)

        clients = [asyncio.create_task(client_loop()) for _ in range(CLIENTS)]
        try:
            await asyncio.sleep(1.0)
            await asyncio.to_thread(postgres.restart)
            ready_at = time.monotonic()
            await asyncio.sleep(4.0)
        finally:
            stop.set()
            await asyncio.gather(*clients)
            postgres.wait_until_ready()

        # Both services lived through it; nobody restarted them.
        if (stack.settlement.pid, stack.registry.pid) != pids or not (
            stack.settlement.running() and stack.registry.running()
        ):
            problems.append("a service died or was restarted")
        attempts = [a for s in sent for a in s.attempts]
        outcomes = Counter(a.outcome for a in attempts)
        if set(outcomes) - {201, 503}:
            problems.append(f"requests did not fail cleanly (want 201 or 503): {dict(outcomes)}")
        slowest = max(a.ended - a.started for a in attempts)
        if slowest >= ATTEMPT_BOUND_S:
            problems.append(f"a request took {slowest:.1f} s")
        if any(s.attempts[0].outcome == 503 and not s.attempts[0].retry_after for s in sent):
            problems.append("a 503 without Retry-After")
        # The pools recovered by themselves: requests sent a while after the restart succeed.
        late = [s for s in sent if s.attempts[0].started > ready_at + 2.0]
        late_failed = [(s.key, s.attempts[0].outcome) for s in late if s.attempts[0].outcome != 201]
        if not late or late_failed:
            problems.append(
                f"no recovery after the restart: {len(late)} late, failed {late_failed[:5]}"
            )

        # Every refused request succeeds when retried with its key, exactly once.
        for s in sent:
            s.error = None  # a 500 was recorded as final; retry it too
        deadline = time.monotonic() + 60
        for s in sent:
            await settle_with_retries(client, s, headers, deadline)
        missing = [s.key for s in sent if not s.setl_id]
        if missing:
            problems.append(f"{len(missing)} requests never got their bill: {missing[:3]}")

    found = await bills_by_key(stack.settlement_db, [s.key for s in sent])
    doubled = [s.key for s in sent if len(found.get(s.key, [])) != 1]
    if doubled:
        problems.append(f"not exactly one bill: {doubled[:5]}")
    problems += await ledger_problems(stack.settlement_db)
    assert not problems, "\n".join(problems) + "\n" + stack.logs()
