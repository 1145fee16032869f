"""SIGKILL the settlement service while 32 clients settle; restart it; the clients retry with
their idempotency keys. Nothing is lost, nothing is doubled, nothing is half-written."""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.faults.clients import make_settles, run_workers, split
from tests.support.ledger import bills_by_key, ledger_problems
from tests.support.stack import Stack

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

CLIENTS = 32
SETTLES = 320
KILL_AFTER = 60  # bills answered before the crash


async def test_sigkill_mid_load_loses_and_doubles_nothing(stack: Stack) -> None:
    stack.ensure_running()
    # 40 patients for 320 bills: several bills of one person are in flight at once, so the
    # running-total row lock is contended when the process dies.
    settles = make_settles("crash", stack.patients[:40], SETTLES, seed=5)
    deadline = time.monotonic() + 120
    load = asyncio.create_task(
        run_workers(stack.settlement.base_url, stack.headers(), split(settles, CLIENTS), deadline)
    )
    while sum(s.setl_id is not None for s in settles) < KILL_AFTER:
        assert not load.done(), "the load finished before the crash"
        assert time.monotonic() < deadline - 60, (
            "too slow to reach the crash point\n" + stack.logs()
        )
        await asyncio.sleep(0.01)
    killed_pid = stack.settlement.pid
    await asyncio.to_thread(stack.settlement.kill)
    answered_before_restart = sum(s.setl_id is not None for s in settles)
    await asyncio.sleep(0.5)
    await asyncio.to_thread(stack.settlement.start, timeout=60)
    assert stack.settlement.pid != killed_pid
    await load

    unfinished = [s.key for s in settles if s.setl_id is None]
    assert not unfinished, f"{len(unfinished)} settles never got their bill\n" + stack.logs()
    errors = [f"{s.key}: {s.error}" for s in settles if s.error]
    assert not errors, errors[:5]
    # The crash was real: some clients saw the connection die and retried.
    retried = [s for s in settles if len(s.attempts) > 1]
    assert retried, "no request was interrupted by the crash"
    assert answered_before_restart < SETTLES

    # Exactly one bill per request, and it is the one the client was given.
    found = await bills_by_key(stack.settlement_db, [s.key for s in settles])
    for s in settles:
        rows = found.get(s.key, [])
        assert len(rows) == 1, f"{s.key}: {len(rows)} bills"
        assert rows[0]["setl_id"] == s.setl_id
        assert rows[0]["status"] == "settled"
    # No partial bill; running totals equal the sum of each person's settled bills.
    problems = await ledger_problems(stack.settlement_db)
    assert not problems, problems[:10]
