"""Policy what-if (政策测算): re-run the books of a period under a candidate policy.

Each patient's records are re-run in the order they were made: a bill with the engine, from
the stored fee items, visit type, hospital level and diagnoses with the patient's age on the
admission date (so the candidate's disease programmes and chronic-disease groups apply; the
aid class comes from the stored registry categories through the candidate's
``[aid_classes]`` map, the same class as stored unless the candidate changes the map; a
temporary-assistance grant pays at most what it paid on the stored bill); a reversal takes
the candidate's bill back out of the running totals, as the revoke did, and books the
negative of what the candidate paid on it. Running totals start from zero at the start of
each person's year, and the person's earlier records of that year are re-run too (only
records inside the period are counted), so the period starts from the totals the candidate
would have produced. "In force" is what the stored records paid (net),
so a period's figures, like its books, never change once it is over. Nothing is stored.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import aclosing
from datetime import date
from decimal import Decimal
from typing import Any, cast

from sqlalchemy.exc import DBAPIError

from settlement.database import Conn, Database
from settlement.engine import Policy, PolicyError, load_policy
from settlement.engine.policy import check_plan
from settlement.reports import repository as reports
from settlement.simulation import repository
from settlement.simulation.replay import (
    Figures,
    Replay,
    ReplayError,
    candidate_policy,
)
from settlement.simulation.schemas import (
    MAX_SIMULATION_DAYS,
    START_RULE,
    Comparison,
    FundComparison,
    SimulationResult,
)
from shared.db import export_snapshot
from shared.errors import Unprocessable
from shared.money import signed_money_str

ZERO = Decimal("0.00")
log = logging.getLogger("medaid.simulation")


def parse_candidate(text: str) -> Policy:
    """The candidate policy; an invalid one, or one that departs from the plan's fixed numbers
    (``check_plan``, as at start-up), is a 422 naming the key (``policy.funds[1].ratio``)."""
    try:
        candidate = load_policy(text, source="candidate policy")
        check_plan(candidate)
        return candidate
    except PolicyError as exc:
        field_name = f"policy.{exc.key}" if exc.key else "policy"
        raise Unprocessable(
            f"The candidate policy is invalid: {exc}",
            errors=[{"field": field_name, "message": exc.detail}],
        ) from None


def _comparison(in_force: Decimal, candidate: Decimal) -> dict[str, Any]:
    return {
        "in_force": in_force,
        "candidate": candidate,
        "difference": signed_money_str(candidate - in_force),
    }


def _raise(error: ReplayError) -> None:
    raise Unprocessable(
        f"The candidate policy cannot settle bill {error.setl_id}: {error.message}",
        errors=[{"field": error.field, "message": f"bill {error.setl_id}: {error.message}"}],
    )


async def _replay(
    db: Database,
    conn: Conn,
    policy_text: str,
    candidate: Policy,
    begin: date,
    end: date,
    processes: int,
) -> Figures:
    """The period's figures under the candidate, read in ``conn``'s snapshot. One process (or
    SQLite): the batches are re-run in a thread (the engine is CPU work); the stream is closed
    while the connection is held, also when a bill stops the run. Several (PostgreSQL):
    :func:`_replay_in_shares`."""
    if processes > 1 and not db.sqlite:
        shares = await repository.share_bounds(conn, begin, end, processes)
        snapshot = await export_snapshot(conn)
        try:
            return await _replay_in_shares(db.url, snapshot, policy_text, begin, end, shares)
        except DBAPIError as error:
            # A worker could not read the request's snapshot (a multi-host URL that took it
            # to another server, say): this process replays alone, in the same snapshot. An
            # outage fails here again, as a 503.
            log.warning("what-if workers failed (%s); replaying in one process", error.orig)
    replay = Replay(candidate, begin, end)
    async with aclosing(repository.stream_replay(conn, begin, end)) as batches:
        try:
            async for batch in batches:
                await asyncio.to_thread(replay.feed, batch)
        except ReplayError as error:
            _raise(error)
    return replay.figures()


_pools: dict[int, ProcessPoolExecutor] = {}


def _workers(processes: int) -> ProcessPoolExecutor:
    """``processes`` worker processes, spawned by the first what-if that needs them and kept
    for the next ones: a worker spends about a second of CPU importing the service before
    its first record, which a request spawning its own would pay every time. Stopped with the
    service (:func:`close_workers`)."""
    pool = _pools.get(processes)
    if pool is None:
        pool = ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("spawn"))
        _pools[processes] = pool
    return pool


def close_workers() -> None:
    """Stop the worker processes (at the service's shutdown; a what-if under way is
    cancelled)."""
    while _pools:
        _, pool = _pools.popitem()
        pool.shutdown(wait=True, cancel_futures=True)


async def _replay_in_shares(
    url: str,
    snapshot: str,
    policy_text: str,
    begin: date,
    end: date,
    shares: Sequence[repository.Persons],
) -> Figures:
    """The records re-run in a worker process per share of the persons (consecutive ranges
    of ID numbers; :func:`_workers`), each reading and re-running its share on a
    connection of its own in the request's snapshot, so nothing per record passes between
    processes. The shares are merged in order, so the figures, and the first bill the
    candidate cannot settle, are the ones a single process gives."""
    loop = asyncio.get_running_loop()
    pool = _workers(len(shares))
    try:
        results = await asyncio.gather(
            *(
                loop.run_in_executor(
                    pool, replay_share, url, snapshot, policy_text, begin, end, persons
                )
                for persons in shares
            )
        )
    except BrokenProcessPool:  # a worker died (killed): the next what-if starts new ones
        if _pools.get(len(shares)) is pool:
            del _pools[len(shares)]
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    figures = Figures()
    for result in results:
        if isinstance(result, ReplayError):
            _raise(result)
        else:
            figures.merge(result)
    return figures


def replay_share(
    url: str,
    snapshot: str,
    policy_text: str,
    begin: date,
    end: date,
    persons: repository.Persons,
) -> Figures | ReplayError:
    """A worker process's share (``persons``) of the replay, read in the exported
    ``snapshot`` on a connection of its own to ``url``: its figures, or the error of its
    first bill the candidate cannot settle."""
    return asyncio.run(_replay_share(url, snapshot, policy_text, begin, end, persons))


async def _replay_share(
    url: str,
    snapshot: str,
    policy_text: str,
    begin: date,
    end: date,
    persons: repository.Persons,
) -> Figures | ReplayError:
    db = Database.from_url(url, pool_size=1, application_name="medaid-simulation")
    replay = Replay(candidate_policy(policy_text), begin, end)
    try:
        async with (
            db.snapshot(shared=snapshot) as conn,
            aclosing(repository.stream_replay(conn, begin, end, persons)) as batches,
        ):
            async for batch in batches:
                replay.feed(batch)
    except ReplayError as error:
        return error
    finally:
        await db.dispose()
    return replay.figures()


async def simulate(
    db: Database, policy_text: str, begin: date, end: date, *, processes: int = 1
) -> SimulationResult:
    """The candidate's figures against the books of ``begin``..``end`` (local dates), the
    records re-run in ``processes`` worker processes (1: in this one). Raises
    ``Unprocessable`` for a bad period or candidate, or a bill the candidate cannot settle."""
    if end < begin:
        raise Unprocessable.field("to", "must not be before from")
    if (end - begin).days + 1 > MAX_SIMULATION_DAYS:
        raise Unprocessable.field(
            "to", f"the period must not be longer than {MAX_SIMULATION_DAYS} days"
        )
    candidate = parse_candidate(policy_text)
    async with db.snapshot() as conn:
        in_force_rows = await reports.by_fund(conn, begin, end)
        replay = await _replay(db, conn, policy_text, candidate, begin, end, processes)
    in_force = {cast(str, r.key): r.fund_payamt or ZERO for r in in_force_rows}
    names = {cast(str, r.key): cast(str, r.name) for r in in_force_rows}
    names.update(replay.names)
    funds = [
        FundComparison(
            fund_pay_type=code,
            fund_pay_type_name=names.get(code, code),
            **_comparison(in_force.get(code, ZERO), replay.paid.get(code, ZERO)),
        )
        for code in sorted(set(in_force) | set(replay.paid))
    ]
    more = sum(1 for a, b in replay.cash_by_patient.values() if b > a)
    less = sum(1 for a, b in replay.cash_by_patient.values() if b < a)
    return SimulationResult(
        from_=begin,
        to=end,
        candidate_version=candidate.version,
        policies_in_force=sorted(replay.versions),
        bills=replay.bills,
        reversals=replay.reversals,
        replayed_bills=replay.replayed,
        patients=len(replay.cash_by_patient),
        funds=funds,
        fund_pay_sumamt=Comparison(**_comparison(*replay.fund_sum)),
        psn_cash_pay=Comparison(**_comparison(*replay.cash_sum)),
        patients_paying_more=more,
        patients_paying_less=less,
        patients_paying_same=len(replay.cash_by_patient) - more - less,
        start=START_RULE,
    )
