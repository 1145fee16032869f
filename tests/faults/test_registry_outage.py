"""Stop the registry mid-load: settles answer 503 with Retry-After and write nothing; start it
again and the same settles succeed, without restarting the settlement service."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from tests.faults.clients import Settle, attempt, make_settles, settle_with_retries
from tests.support.ledger import accumulator_people, bills_by_key, ledger_problems
from tests.support.stack import Stack

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

CLIENTS = 8
PAUSE_S = 0.05  # between a client's requests: bounded load while the registry is down


async def test_registry_outage_answers_503_and_writes_nothing(stack: Stack) -> None:
    stack.ensure_running()
    settlement_pid = stack.settlement.pid
    # Every request is for a patient nobody has settled yet, so no cached eligibility can
    # answer for the registry.
    pool = make_settles("outage", stack.patients[500:1700], 1200, seed=9)
    queue = iter(pool)
    sent: list[Settle] = []
    phase = {"name": "up"}
    down_window: list[float] = []  # [stopped, restarting]
    restart_s: list[float] = []  # how long the registry took to come back
    stop = asyncio.Event()
    headers = stack.headers()

    async def client_loop(client: httpx.AsyncClient) -> None:
        while not stop.is_set():
            settle = next(queue, None)
            if settle is None:
                return
            sent.append(settle)
            await attempt(client, settle, headers)
            await asyncio.sleep(PAUSE_S)

    async with httpx.AsyncClient(base_url=stack.settlement.base_url, timeout=20) as client:
        clients = [asyncio.create_task(client_loop(client)) for _ in range(CLIENTS)]
        await asyncio.sleep(1.0)
        await asyncio.to_thread(stack.registry.stop)
        phase["name"] = "down"
        down_window.append(time.monotonic())
        await asyncio.sleep(2.0)
        down_window.append(time.monotonic())
        began = time.monotonic()
        await asyncio.to_thread(stack.registry.start, timeout=60)
        restart_s.append(time.monotonic() - began)
        phase["name"] = "up again"
        await asyncio.sleep(1.5)
        stop.set()
        await asyncio.gather(*clients)

        assert stack.settlement.pid == settlement_pid
        assert stack.settlement.running()
        outcomes = {a.outcome for s in sent for a in s.attempts}
        assert outcomes <= {201, 503}, f"unexpected outcomes {outcomes}\n" + stack.logs()
        refused = [s for s in sent if s.attempts[0].outcome == 503]
        for s in refused:
            first = s.attempts[0]
            assert (first.retry_after or "").isdigit(), s.key
            assert first.content_type
            assert "problem+json" in first.content_type
        # Sent after the registry was gone and answered before it came back: refused.
        inside = [
            s
            for s in sent
            if s.attempts[0].started > down_window[0] and s.attempts[0].ended < down_window[1]
        ]
        assert inside, "no request fell inside the outage"
        assert all(s.attempts[0].outcome == 503 for s in inside), [
            (s.key, s.attempts[0].outcome) for s in inside if s.attempts[0].outcome != 503
        ]
        # Before and after the outage, settles succeed.
        assert any(s.attempts[0].outcome == 201 for s in sent[:CLIENTS])
        restarted = down_window[1] + restart_s[0]
        late = [s for s in sent if s.attempts[0].started > restarted + 0.5]
        assert late
        failed = [
            (s.key, s.attempts[0].outcome, round(s.attempts[0].started - restarted, 2))
            for s in late
            if s.attempts[0].outcome != 201
        ]
        assert not failed, (
            f"{len(failed)} of {len(late)} failed after the restart: {failed[:5]}\n" + stack.logs()
        )

        # Nothing was written for a refused settle: no bill, no running totals.
        written = await bills_by_key(stack.settlement_db, [s.key for s in refused])
        assert not written, sorted(written)[:5]
        touched = await accumulator_people(
            stack.settlement_db, [s.patient.id_number for s in refused]
        )
        assert not touched

        # The same requests, retried with their keys, now succeed.
        deadline = time.monotonic() + 60
        for s in refused:
            await settle_with_retries(client, s, headers, deadline)
        assert all(s.setl_id for s in refused), [s.key for s in refused if not s.setl_id][:5]
        assert all(s.attempts[-1].outcome == 201 for s in refused)

    problems = await ledger_problems(stack.settlement_db)
    assert not problems, problems[:10]
