"""Load for the fault tests: HIS-like clients that settle bills and retry with the same
``Idempotency-Key`` and body until they get the bill, recording every attempt."""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import httpx

from tests.support.data import Patient, inpatient_items, settle_body

RETRY_PAUSE_S = 0.2


@dataclass
class Attempt:
    started: float
    ended: float
    outcome: int | str  # HTTP status or the transport error's class name
    retry_after: str | None = None
    content_type: str | None = None


@dataclass
class Settle:
    key: str
    patient: Patient
    body: dict[str, Any]
    attempts: list[Attempt] = field(default_factory=list)
    setl_id: str | None = None
    error: str | None = None

    @property
    def done(self) -> bool:
        return self.setl_id is not None or self.error is not None


def make_settles(
    prefix: str, patients: list[Patient], count: int, *, seed: int = 1, per_person: int = 1
) -> list[Settle]:
    """``count`` distinct settles (own key and visit) spread over ``patients``. With
    ``per_person`` > 1 each person has that many stays next to each other in the list (so
    concurrent clients settle them at once and queue on the person's running-total row).
    A person's stays never overlap (a person is in one stay at a time): five nights each,
    ten days apart."""
    rng = random.Random(seed)
    rounds = -(-count // (per_person * len(patients)))
    first = date.today() - timedelta(days=10 * per_person * rounds + 10)
    out = []
    for i in range(count):
        key = f"{prefix}-{i:05d}"
        group = i // per_person
        patient = patients[group % len(patients)]
        slot = (group // len(patients)) * per_person + i % per_person
        admitted = first + timedelta(days=10 * slot)
        body = settle_body(patient, key, inpatient_items(rng), admitted_on=admitted, days=5)
        out.append(Settle(key, patient, body))
    return out


async def attempt(client: httpx.AsyncClient, settle: Settle, headers: dict[str, str]) -> Attempt:
    """One POST; records the outcome; sets ``setl_id`` on 200/201, ``error`` on a final
    answer that is not a bill (anything but 503 or a transport error)."""
    started = time.monotonic()
    try:
        response = await client.post(
            "/v1/settlements",
            json=settle.body,
            headers={**headers, "Idempotency-Key": settle.key},
        )
    except httpx.TransportError as exc:
        result = Attempt(started, time.monotonic(), type(exc).__name__)
    else:
        result = Attempt(
            started,
            time.monotonic(),
            response.status_code,
            response.headers.get("retry-after"),
            response.headers.get("content-type"),
        )
        if response.status_code in (200, 201):
            settle.setl_id = response.json()["setl_id"]
        elif response.status_code != 503:
            settle.error = f"{response.status_code}: {response.text[:500]}"
    settle.attempts.append(result)
    return result


async def settle_with_retries(
    client: httpx.AsyncClient, settle: Settle, headers: dict[str, str], deadline: float
) -> None:
    """Retry the same key and body until a bill or a final error, or the deadline."""
    while not settle.done and time.monotonic() < deadline:
        result = await attempt(client, settle, headers)
        if not settle.done:
            pause = RETRY_PAUSE_S
            if isinstance(result.outcome, int) and result.retry_after:
                pause = min(RETRY_PAUSE_S, float(result.retry_after))
            await asyncio.sleep(pause)


async def run_workers(
    base_url: str,
    headers: dict[str, str],
    queues: list[list[Settle]],
    deadline: float,
    *,
    timeout: float = 20,
) -> None:
    """One client per queue, each settling its queue in order with retries."""
    limits = httpx.Limits(max_connections=len(queues), max_keepalive_connections=len(queues))
    async with httpx.AsyncClient(base_url=base_url, timeout=timeout, limits=limits) as client:

        async def worker(queue: list[Settle]) -> None:
            for settle in queue:
                await settle_with_retries(client, settle, headers, deadline)

        await asyncio.gather(*(worker(q) for q in queues))


def split(items: list[Settle], parts: int) -> list[list[Settle]]:
    return [items[i::parts] for i in range(parts)]
