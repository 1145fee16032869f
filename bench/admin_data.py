"""Synthetic bills for the reconciliation and report benchmarks, bulk-loaded into a fresh
PostgreSQL database with COPY (asyncpg). Each bill keeps the invariants (medfee = funds + cash,
funds = hifp + hifmi + maf + oth) and carries realistic-sized ``items`` and ``trace`` JSON, so
the table is as wide as a real one."""

from __future__ import annotations

import asyncio
import json
import os
import random
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg

from tests.support.data import id_number, inpatient_items

BILL_COLUMNS = (
    "setl_id",
    "hospital_id",
    "visit_id",
    "visit_type",
    "idempotency_key",
    "request_hash",
    "status",
    "id_number",
    "patient_name",
    "admitted_on",
    "discharged_on",
    "acc_year",
    "setl_time",
    "setl_date",
    "revoked_at",
    "policy_version",
    "hospital_level",
    "aid_class",
    "categories",
    "registered",
    "eligibility_on",
    "eligibility_source",
    "diagnoses",
    "items",
    "item_count",
    "trace",
    "deltas",
    "medfee_sumamt",
    "fulamt_ownpay_amt",
    "overlmt_selfpay",
    "preselfpay_amt",
    "inscp_scp_amt",
    "act_pay_dedc",
    "hifp_pay",
    "hifmi_pay",
    "maf_pay",
    "oth_pay",
    "fund_pay_sumamt",
    "psn_cash_pay",
    "request_id",
    "refd_setl_flag",
    "init_setl_id",
    "revoked_on",
)
FUND_COLUMNS = (
    "setl_id",
    "seq",
    "fund_pay_type",
    "fund_pay_type_name",
    "setlinfo_field",
    "inscp_scp_amt",
    "crt_payb_lmt_amt",
    "fund_payamt",
    "setl_proc_info",
    "setl_date",
    "refd_setl_flag",
)
"""``bill_funds``' columns: the ``setldetail`` fields, then the bill's date and reversal flag
(``settlement.bills.models.FUND_BILL_FIELDS``)."""
FUNDS = (
    ("hifp_pay", "390100", "城乡居民基本医疗保险基金"),
    ("hifmi_pay", "390200", "城乡居民大病医疗保险基金"),
    ("maf_pay", "610100", "医疗救助基金"),
    ("oth_pay", "640100", "政府兜底基金"),
)
CENT = Decimal("0.01")


def admin_dsn() -> str:
    candidates = (
        [os.environ["MEDAID_BENCH_PG"]]
        if os.environ.get("MEDAID_BENCH_PG")
        else [
            "postgresql://postgres@127.0.0.1:5432/postgres",
            "postgresql://root@127.0.0.1:5432/postgres",
        ]
    )

    async def probe(dsn: str) -> bool:
        try:
            conn = await asyncpg.connect(dsn, timeout=3)
        except (OSError, asyncpg.PostgresError, TimeoutError):
            return False
        await conn.close()
        return True

    for dsn in candidates:
        if asyncio.run(probe(dsn)):
            return dsn
    raise SystemExit(f"PostgreSQL is not reachable at {candidates[0]} (set MEDAID_BENCH_PG)")


async def _admin(dsn: str, sql: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def create_database(dsn: str, label: str) -> tuple[str, str]:
    """A new empty database: (its URL, its name)."""
    name = f"medaid_bench_{label}_{uuid.uuid4().hex[:8]}"
    asyncio.run(_admin(dsn, f'CREATE DATABASE "{name}"'))
    return f"{dsn.rpartition('/')[0]}/{name}", name


def drop_database(dsn: str, name: str) -> None:
    asyncio.run(_admin(dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@contextmanager
def settlement_database(label: str, url: str | None, *, keep: bool) -> Iterator[tuple[str, bool]]:
    """(URL, fresh): ``url`` as given (a database an earlier ``--keep`` run loaded), or a new
    settlement database, migrated, dropped on the way out unless ``keep``."""
    if url:
        yield url, False
        return
    from settlement.cli import MIGRATIONS
    from shared.db import run_migrations

    dsn = admin_dsn()
    url, name = create_database(dsn, label)
    try:
        run_migrations(MIGRATIONS, url)
        print(f"  database {name}", flush=True)
        yield url, True
    finally:
        if not keep:
            drop_database(dsn, name)


ADMIN_TOKEN = "bench-admin-token-0123456789abcdef"


def service_settings(url: str, **extra: Any) -> Any:
    """The settlement service's settings for an in-process benchmark on ``url`` (the admin
    token ``ADMIN_TOKEN``). The supervision medians are not refreshed in the background: that
    refresh, run at start-up, reads every bill loaded and would be timed with the request."""
    from settlement.config import Settings

    return Settings(
        env="test",
        database_url=url,
        admin_token=ADMIN_TOKEN,
        registry_token="bench-registry-token-0123456789",
        receipt_secret="bench-receipt-secret-0123456789",
        supervision_refresh_s=0,
        **extra,
    )


def _texts(count: int, seed: int) -> list[tuple[str, str, int]]:
    """Realistic ``items`` and ``trace`` JSON of ``count`` different bills."""
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        items = inpatient_items(rng, rng.randint(8, 20))
        trace = [
            {"step": "scope", "items": str(len(items)), "medfee_sumamt": "1234.56"},
            {"step": "basic", "fund_pay_type": "390100", "base": "1000.00", "ratio": "75%"},
            {"step": "critical_illness", "fund_pay_type": "390200", "base": "0.00"},
            {"step": "medical_assistance", "fund_pay_type": "610100", "ratio": "70%"},
            {"step": "patient", "fund_pay_sumamt": "1000.00", "psn_cash_pay": "234.56"},
        ]
        out.append((json.dumps(items, ensure_ascii=False), json.dumps(trace), len(items)))
    return out


def amounts(rng: random.Random) -> dict[str, Decimal]:
    hifp = Decimal(rng.randint(0, 900_000)) * CENT
    hifmi = Decimal(rng.randint(0, 300_000)) * CENT if rng.random() < 0.3 else Decimal("0.00")
    maf = Decimal(rng.randint(0, 200_000)) * CENT if rng.random() < 0.5 else Decimal("0.00")
    oth = Decimal(rng.randint(0, 50_000)) * CENT if rng.random() < 0.1 else Decimal("0.00")
    cash = Decimal(rng.randint(0, 300_000)) * CENT
    fund = hifp + hifmi + maf + oth
    return {
        "medfee_sumamt": fund + cash,
        "hifp_pay": hifp,
        "hifmi_pay": hifmi,
        "maf_pay": maf,
        "oth_pay": oth,
        "fund_pay_sumamt": fund,
        "psn_cash_pay": cash,
    }


def bill_records(
    count: int,
    *,
    hospitals: Sequence[tuple[int, int]],
    days: Sequence[date],
    seed: int,
    revoked_share: float = 0.03,
    prefix: str = "S",
    persons: int = 400_000,
    first_person: int = 0,
) -> Iterator[tuple[tuple[Any, ...], list[tuple[Any, ...]]]]:
    """``count`` (bill record, fund records) in ``BILL_COLUMNS`` / ``FUND_COLUMNS`` order, each
    revoked bill followed by its reversal (same day, amounts negated, ``refd_setl_flag`` 1).
    ``hospitals``: (id, level) pairs; the n-th bill is patient ``first_person + n % persons``'s
    (patients of different calls must differ where their stays would overlap)."""
    rng = random.Random(seed)
    texts = _texts(200, seed)
    deltas = json.dumps({"390100.inpatient": "1000.00"})
    for n in range(count):
        hospital_id, level = hospitals[n % len(hospitals)]
        day = days[n % len(days)]
        moment = datetime(day.year, day.month, day.day, 2, 0, tzinfo=UTC) + timedelta(
            seconds=n % 50_000
        )
        setl_id = f"{prefix}{day:%Y%m%d}{n:09d}"
        status = "revoked" if rng.random() < revoked_share else "settled"
        aid_class = ("key", "key", "assisted", "none")[n % 4]
        money = amounts(rng)
        items, trace, item_count = texts[n % len(texts)]
        bill = (
            setl_id,
            hospital_id,
            f"ZY{prefix}{n:010d}",
            "inpatient",
            f"idem-{prefix}{n}",
            "0" * 64,
            status,
            id_number(first_person + n % persons),
            "王芳",
            day - timedelta(days=5),
            day,
            day.year,
            moment,
            day,
            moment if status == "revoked" else None,
            "2020",
            level,
            aid_class,
            '["dibao"]' if aid_class == "key" else "[]",
            aid_class != "none",
            day - timedelta(days=5),
            "settlement",
            '["J18.900"]',
            items,
            item_count,
            trace,
            deltas,
            money["medfee_sumamt"],
            money["psn_cash_pay"],
            Decimal("0.00"),
            Decimal("0.00"),
            money["fund_pay_sumamt"],
            Decimal("0.00"),
            money["hifp_pay"],
            money["hifmi_pay"],
            money["maf_pay"],
            money["oth_pay"],
            money["fund_pay_sumamt"],
            money["psn_cash_pay"],
            None,
            0,
            None,
            day if status == "revoked" else None,
        )
        funds = [
            (
                setl_id,
                seq,
                code,
                name,
                field,
                money["fund_pay_sumamt"],
                None,
                money[field],
                f"{name}：支付{money[field]}元",
                day,
                0,
            )
            for seq, (field, code, name) in enumerate(FUNDS, start=1)
            if money[field]
        ]
        yield bill, funds
        if status == "revoked":
            yield _reversal(bill, funds, moment)


_NEGATED_BILL = frozenset(
    BILL_COLUMNS.index(c)
    for c in (
        "medfee_sumamt",
        "fulamt_ownpay_amt",
        "overlmt_selfpay",
        "preselfpay_amt",
        "inscp_scp_amt",
        "act_pay_dedc",
        "hifp_pay",
        "hifmi_pay",
        "maf_pay",
        "oth_pay",
        "fund_pay_sumamt",
        "psn_cash_pay",
    )
)
_NEGATED_FUND = frozenset(FUND_COLUMNS.index(c) for c in ("inscp_scp_amt", "fund_payamt"))
_FUND_FLAG = FUND_COLUMNS.index("refd_setl_flag")
_SETL_DATE = BILL_COLUMNS.index("setl_date")


def _reversal(
    bill: tuple[Any, ...], funds: list[tuple[Any, ...]], moment: datetime
) -> tuple[tuple[Any, ...], list[tuple[Any, ...]]]:
    """The reversal record of a revoked bill, booked the same day."""
    setl_id = "R" + bill[0]
    values = dict(zip(BILL_COLUMNS, bill, strict=True))
    values.update(
        setl_id=setl_id,
        idempotency_key=f"reversal {bill[0]}",
        setl_time=moment + timedelta(seconds=1),
        revoked_at=None,
        revoked_on=None,
        refd_setl_flag=1,
        init_setl_id=bill[0],
        items="[]",
        item_count=0,
    )
    record = tuple(
        Decimal(0) - v if i in _NEGATED_BILL else v
        for i, v in enumerate(values[c] for c in BILL_COLUMNS)
    )
    negated = [
        tuple(
            setl_id
            if i == 0
            else 1
            if i == _FUND_FLAG
            else (Decimal(0) - v if i in _NEGATED_FUND else v)
            for i, v in enumerate(fund)
        )
        for fund in funds
    ]
    return record, negated


async def _connect(url: str, attempts: int = 60) -> asyncpg.Connection:
    """Connect, waiting up to a minute for a server that is restarting."""
    for attempt in range(attempts):
        try:
            return await asyncpg.connect(url, timeout=5)
        except (OSError, asyncpg.PostgresError, TimeoutError):
            if attempt == attempts - 1:
                raise
            await asyncio.sleep(1)
    raise AssertionError("unreachable")


async def copy_bills(
    url: str,
    records: Iterator[tuple[tuple[Any, ...], list[tuple[Any, ...]]]],
    *,
    batch: int = 50_000,
) -> int:
    """COPY the records into ``bills`` and ``bill_funds`` (one transaction per batch, retried
    if the connection drops); returns the number of bills. The monthly partitions of the
    batch's dates are created first (``ensure_months``), so the bills land in their months,
    as the service's would, not in ``bills_default``."""
    total = 0
    conn = await _connect(url)
    bills: list[tuple[Any, ...]] = []
    funds: list[tuple[Any, ...]] = []
    months: set[date] = set()

    async def flush() -> None:
        nonlocal conn
        await _ensure_months({bill[_SETL_DATE].replace(day=1) for bill in bills} - months)
        for attempt in range(5):
            try:
                async with conn.transaction():
                    await conn.copy_records_to_table("bills", records=bills, columns=BILL_COLUMNS)
                    await conn.copy_records_to_table(
                        "bill_funds", records=funds, columns=FUND_COLUMNS
                    )
                break
            except (
                OSError,
                asyncpg.exceptions.ConnectionDoesNotExistError,
                asyncpg.exceptions.AdminShutdownError,
            ):
                if attempt == 4:
                    raise
                print("  connection lost while loading; reconnecting and retrying the batch")
                conn = await _connect(url)
        bills.clear()
        funds.clear()

    async def _ensure_months(new: set[date]) -> None:
        from settlement.bills.partitions import ensure_months
        from settlement.database import Database

        if not new:
            return
        db = Database.from_url(url, pool_size=1)
        try:
            for month in sorted(new):
                await ensure_months(db, month, ahead=0)
        finally:
            await db.dispose()
        months.update(new)

    try:
        for bill, fund_rows in records:
            bills.append(bill)
            funds.extend(fund_rows)
            total += 1
            if len(bills) >= batch:
                await flush()
        if bills:
            await flush()
    finally:
        await conn.close()
    return total


_COPY_SUFFIXED = ("setl_id", "visit_id", "idempotency_key", "init_setl_id")
"""The bill columns that must differ between copies (keys and unique indexes)."""
_COPY_PERSON = "overlay(id_number placing lpad((k + 10)::text, 2, '0') from 3 for 2)"
"""Each copy's patients are others (digits 3-4 of the area code, so no two stays overlap)."""


async def replicate_bills(url: str, copies: int) -> None:
    """Make the loaded bills (and their fund rows) ``copies`` times as many in SQL, each copy's
    keys suffixed ``-k`` (``INSERT … SELECT`` over ``generate_series``): a million realistic
    bills in the time PostgreSQL takes to write them, not the time Python takes to make them.
    Dates, hospitals and amounts repeat the originals'; ``copies`` ≤ 89. The bills go in
    before the reversals (a reversal's ``init_setl_id`` must name a bill already in
    ``bill_keys``; the heap's order is not the order of the ``COPY``)."""
    if copies <= 1:
        return
    suffix = "|| '-' || k"
    bill_exprs = ", ".join(
        f"{c} {suffix}" if c in _COPY_SUFFIXED else _COPY_PERSON if c == "id_number" else c
        for c in BILL_COLUMNS
    )
    fund_exprs = ", ".join(f"{c} {suffix}" if c == "setl_id" else c for c in FUND_COLUMNS)
    conn = await _connect(url)
    try:
        async with conn.transaction():
            for flag in (0, 1):
                await conn.execute(
                    f"INSERT INTO bills ({', '.join(BILL_COLUMNS)}) SELECT {bill_exprs} "
                    f"FROM bills, generate_series(2, {copies}) AS k WHERE refd_setl_flag = {flag}"
                )
            await conn.execute(
                f"INSERT INTO bill_funds ({', '.join(FUND_COLUMNS)}) SELECT {fund_exprs} "
                f"FROM bill_funds, generate_series(2, {copies}) AS k"
            )
    finally:
        await conn.close()


async def add_hospitals(url: str, count: int, regions: Sequence[str]) -> list[tuple[int, int, str]]:
    """``count`` hospitals: (id, level, code)."""
    conn = await _connect(url)
    try:
        out = []
        for n in range(count):
            code = f"H{n:04d}"
            level = 1 + n % 3
            hospital_id = await conn.fetchval(
                "INSERT INTO hospitals (code, name, level, region_code, api_key_hash, created_at)"
                " VALUES ($1, $2, $3, $4, $5, now()) RETURNING id",
                code,
                f"第{n + 1}人民医院",
                level,
                regions[n % len(regions)],
                uuid.uuid4().hex + uuid.uuid4().hex,
            )
            out.append((int(hospital_id), level, code))
        return out
    finally:
        await conn.close()


async def vacuum_analyze(url: str) -> None:
    conn = await _connect(url)
    try:
        await conn.execute("VACUUM ANALYZE bills")
        await conn.execute("VACUUM ANALYZE bill_funds")
        await conn.execute("VACUUM ANALYZE hospitals")
    finally:
        await conn.close()
