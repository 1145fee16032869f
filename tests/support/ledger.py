"""Consistency of the settlement database, read directly (PostgreSQL): the one place that
knows the settlement service's tables for the fault tests.

``ledger_problems`` checks, for every bill, that it is whole (its fund rows add up to its
``fund_pay_sumamt``, its ``setlinfo`` split adds up) and, for every person and year, that the
running totals equal the sum of the deltas of their settled, unrevoked bills.
"""

from __future__ import annotations

import json
from collections import defaultdict
from decimal import Decimal
from typing import Any

import asyncpg

BILLS_SQL = """
SELECT b.setl_id, b.hospital_id, b.idempotency_key, b.visit_id, b.status, b.id_number,
       b.acc_year, b.deltas, b.medfee_sumamt, b.fund_pay_sumamt, b.psn_cash_pay,
       b.hifp_pay, b.hifmi_pay, b.maf_pay, b.oth_pay,
       COUNT(f.setl_id) AS fund_rows, COALESCE(SUM(f.fund_payamt), 0) AS fund_rows_sum
FROM bills b LEFT JOIN bill_funds f ON f.setl_id = b.setl_id
GROUP BY b.setl_id
"""
ACCUMULATORS_SQL = "SELECT id_number, year, totals, bills FROM accumulators"


async def fetch(dsn: str) -> tuple[list[asyncpg.Record], list[asyncpg.Record]]:
    conn = await asyncpg.connect(dsn, timeout=10)
    try:
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            bills = await conn.fetch(BILLS_SQL)
            accumulators = await conn.fetch(ACCUMULATORS_SQL)
    finally:
        await conn.close()
    return bills, accumulators


def _decimals(text: str) -> dict[str, Decimal]:
    return {k: Decimal(str(v)) for k, v in json.loads(text).items()}


async def ledger_problems(dsn: str) -> list[str]:
    """Every inconsistency found, as readable lines (empty: the ledger is consistent)."""
    bills, accumulators = await fetch(dsn)
    problems: list[str] = []
    expected: dict[tuple[str, int], dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    counts: dict[tuple[str, int], int] = defaultdict(int)
    for bill in bills:
        sid = bill["setl_id"]
        if bill["medfee_sumamt"] != bill["fund_pay_sumamt"] + bill["psn_cash_pay"]:
            problems.append(f"bill {sid}: medfee_sumamt != fund_pay_sumamt + psn_cash_pay")
        funds = bill["hifp_pay"] + bill["hifmi_pay"] + bill["maf_pay"] + bill["oth_pay"]
        if bill["fund_pay_sumamt"] != funds:
            problems.append(f"bill {sid}: fund_pay_sumamt != hifp + hifmi + maf + oth")
        if bill["fund_rows_sum"] != bill["fund_pay_sumamt"]:
            problems.append(
                f"bill {sid}: fund rows sum {bill['fund_rows_sum']} != fund_pay_sumamt "
                f"{bill['fund_pay_sumamt']} ({bill['fund_rows']} rows)"
            )
        if bill["fund_pay_sumamt"] > 0 and bill["fund_rows"] == 0:
            problems.append(f"bill {sid}: no fund rows")
        if bill["status"] == "settled":
            key = (bill["id_number"], bill["acc_year"])
            counts[key] += 1
            for name, amount in _decimals(bill["deltas"]).items():
                expected[key][name] += amount
    seen = set()
    for acc in accumulators:
        key = (acc["id_number"], acc["year"])
        seen.add(key)
        totals = _decimals(acc["totals"])
        want = expected.get(key, {})
        for name in set(totals) | set(want):
            if totals.get(name, Decimal(0)) != want.get(name, Decimal(0)):
                problems.append(
                    f"accumulator {key[0][:6]}…{key[0][-4:]} {key[1]} {name}: "
                    f"{totals.get(name, 0)} != sum of bills {want.get(name, 0)}"
                )
        if acc["bills"] != counts.get(key, 0):
            problems.append(
                f"accumulator {key[0][:6]}…{key[0][-4:]} {key[1]}: bills {acc['bills']} != "
                f"settled bills {counts.get(key, 0)}"
            )
    for key, want in expected.items():
        if key not in seen and any(want.values()):
            problems.append(f"person {key[0][:6]}…{key[0][-4:]} {key[1]}: bills but no totals")
    return problems


async def bills_by_key(dsn: str, keys: list[str]) -> dict[str, list[dict[str, Any]]]:
    """Bills per idempotency key (any hospital), to count them."""
    conn = await asyncpg.connect(dsn, timeout=10)
    try:
        rows = await conn.fetch(
            "SELECT idempotency_key, setl_id, status, visit_id FROM bills"
            " WHERE idempotency_key = ANY($1::text[])",
            keys,
        )
    finally:
        await conn.close()
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        out[row["idempotency_key"]].append(dict(row))
    return out


async def accumulator_people(dsn: str, id_numbers: list[str]) -> set[str]:
    """Which of these people have a running-total row."""
    conn = await asyncpg.connect(dsn, timeout=10)
    try:
        rows = await conn.fetch(
            "SELECT DISTINCT id_number FROM accumulators WHERE id_number = ANY($1::text[])",
            id_numbers,
        )
    finally:
        await conn.close()
    return {row["id_number"] for row in rows}
