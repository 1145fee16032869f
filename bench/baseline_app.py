"""The physical limit of this stack on this machine: a minimal ASGI app (no framework) that
does the same-shaped durable transaction as a settle, with raw asyncpg.

``POST /settle`` reads the same JSON body as ``POST /v1/settlements`` and, in one transaction,
locks the person's row for the year (``SELECT … FOR UPDATE``), inserts a bill and three fund
rows, updates the person's running totals and commits. ``GET /v1/persons/{id}/eligibility``
is the bare endpoint the registry's lookups are compared with: a fixed small JSON answer,
no database. Run with one uvicorn worker::

    BASELINE_DATABASE_URL=postgresql://… uvicorn bench.baseline_app:app --workers 1
"""

from __future__ import annotations

import json
import os
from decimal import Decimal
from typing import Any

import asyncpg

SCHEMA = """
CREATE TABLE IF NOT EXISTS person_year (
    id bigserial PRIMARY KEY,
    id_number text NOT NULL,
    year integer NOT NULL,
    medfee_sumamt numeric(14, 2) NOT NULL DEFAULT 0,
    hifp_pay numeric(14, 2) NOT NULL DEFAULT 0,
    hifmi_pay numeric(14, 2) NOT NULL DEFAULT 0,
    maf_pay numeric(14, 2) NOT NULL DEFAULT 0,
    UNIQUE (id_number, year)
);
CREATE TABLE IF NOT EXISTS bill (
    id bigserial PRIMARY KEY,
    idempotency_key text NOT NULL UNIQUE,
    person_year_id bigint NOT NULL REFERENCES person_year (id),
    visit_id text NOT NULL,
    medfee_sumamt numeric(14, 2) NOT NULL,
    fund_pay_sumamt numeric(14, 2) NOT NULL,
    psn_cash_pay numeric(14, 2) NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS bill_fund (
    id bigserial PRIMARY KEY,
    bill_id bigint NOT NULL REFERENCES bill (id),
    fund_code text NOT NULL,
    fund_payamt numeric(14, 2) NOT NULL
);
CREATE INDEX IF NOT EXISTS ix_bill_fund_bill_id ON bill_fund (bill_id);
"""

FEN = Decimal("0.01")
FUNDS = (("390100", Decimal("0.60")), ("390200", Decimal("0.20")), ("610100", Decimal("0.10")))
ELIGIBILITY = json.dumps(
    {
        "id_number_masked": "370305********0003",
        "name": "王伟",
        "household_code": "H3703050000000",
        "region_code": "370305",
        "categories": ["registered_poor"],
        "registered": True,
    }
).encode()


async def setup(dsn: str, id_numbers: list[str], year: int) -> None:
    """Create the tables and one running-total row per person for ``year``."""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(SCHEMA)
        await conn.executemany(
            "INSERT INTO person_year (id_number, year) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            [(i, year) for i in id_numbers],
        )
    finally:
        await conn.close()


class BaselineApp:
    def __init__(self) -> None:
        self.pool: asyncpg.Pool | None = None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif scope["type"] == "http":
            path = scope["path"]
            if scope["method"] == "POST" and path == "/settle":
                await self._settle(scope, receive, send)
            elif path.startswith("/v1/persons/") or path == "/healthz":
                await _respond(send, 200, ELIGIBILITY)
            else:
                await _respond(send, 404, b'{"status":404}')

    async def _lifespan(self, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self.pool = await asyncpg.create_pool(
                    os.environ["BASELINE_DATABASE_URL"], min_size=10, max_size=20
                )
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self.pool is not None:
                    await self.pool.close()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _settle(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        key = dict(scope["headers"]).get(b"idempotency-key", b"").decode()
        data = json.loads(body)
        total = sum(
            (
                Decimal(str(item["unit_price"])) * Decimal(item["quantity"])
                for item in data["items"]
            ),
            Decimal(0),
        ).quantize(FEN)
        pays = [(code, (total * ratio).quantize(FEN)) for code, ratio in FUNDS]
        fund_sum = sum((amount for _, amount in pays), Decimal(0))
        discharged = data["visit"]["discharged_on"]
        assert self.pool is not None
        async with self.pool.acquire() as conn, conn.transaction():
            person_year_id = await conn.fetchval(
                "SELECT id FROM person_year WHERE id_number = $1 AND year = $2 FOR UPDATE",
                data["patient"]["id_number"],
                int(discharged[:4]),
            )
            bill_id = await conn.fetchval(
                "INSERT INTO bill (idempotency_key, person_year_id, visit_id, medfee_sumamt,"
                " fund_pay_sumamt, psn_cash_pay) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
                key,
                person_year_id,
                data["visit"]["visit_id"],
                total,
                fund_sum,
                total - fund_sum,
            )
            await conn.executemany(
                "INSERT INTO bill_fund (bill_id, fund_code, fund_payamt) VALUES ($1, $2, $3)",
                [(bill_id, code, amount) for code, amount in pays],
            )
            await conn.execute(
                "UPDATE person_year SET medfee_sumamt = medfee_sumamt + $2,"
                " hifp_pay = hifp_pay + $3, hifmi_pay = hifmi_pay + $4, maf_pay = maf_pay + $5"
                " WHERE id = $1",
                person_year_id,
                total,
                pays[0][1],
                pays[1][1],
                pays[2][1],
            )
        answer = {
            "setl_id": str(bill_id),
            "medfee_sumamt": str(total),
            "fund_pay_sumamt": str(fund_sum),
            "psn_cash_pay": str(total - fund_sum),
            "setldetail": [{"fund_pay_type": c, "fund_payamt": str(a)} for c, a in pays],
        }
        await _respond(send, 201, json.dumps(answer).encode())


async def _respond(send: Any, status: int, body: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


app = BaselineApp()
