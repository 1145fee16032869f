"""Migration 0003: bills revoked before reversals existed get their reversal, dated on the
local date of the revoke; the new checks refuse a negative bill and a positive reversal."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from settlement.cli import MIGRATIONS
from settlement.database import Database
from shared.db import run_migrations

BACKENDS = [pytest.param("sqlite", id="sqlite"), pytest.param("postgres", id="postgres")]
AMOUNTS = {
    "medfee_sumamt": "5000.00",
    "fulamt_ownpay_amt": "0.00",
    "overlmt_selfpay": "0.00",
    "preselfpay_amt": "0.00",
    "inscp_scp_amt": "5000.00",
    "act_pay_dedc": "500.00",
    "hifp_pay": "3600.00",
    "hifmi_pay": "0.00",
    "maf_pay": "710.00",
    "oth_pay": "0.00",
    "fund_pay_sumamt": "4310.00",
    "psn_cash_pay": "690.00",
}


def _money(backend: str, value: str) -> Any:
    """An amount as the column stores it: integer fen on SQLite, yuan on PostgreSQL."""
    amount = Decimal(value)
    return int(amount * 100) if backend == "sqlite" else amount


def _yuan(backend: str, value: Any) -> Decimal:
    return (Decimal(value) / 100 if backend == "sqlite" else Decimal(value)).quantize(
        Decimal("0.01")
    )


async def _legacy_bills(db: Database, backend: str) -> None:
    """At revision 0002: a hospital, a settled bill and a bill revoked at 2026-03-12 17:30 UTC
    (2026-03-13 in UTC+8), each with two fund rows."""
    async with db.write() as conn:
        await conn.execute(
            text(
                "INSERT INTO hospitals (id, code, name, level, region_code, api_key_hash, "
                "created_at) VALUES (1, 'HM', 'm', 3, '370305', 'x', :at)"
            ),
            {"at": datetime(2026, 3, 1)},
        )
        for setl_id, revoked_at in (("S-KEPT", None), ("S-GONE", datetime(2026, 3, 12, 17, 30))):
            values: dict[str, Any] = {
                "setl_id": setl_id,
                "key": f"k-{setl_id}",
                "visit": f"V-{setl_id}",
                "status": "revoked" if revoked_at else "settled",
                "setl_time": datetime(2026, 3, 12, 1, 0),
                "setl_date": date(2026, 3, 12),
                "revoked_at": revoked_at,
                "on": date(2026, 3, 2),
                **{name: _money(backend, v) for name, v in AMOUNTS.items()},
            }
            columns = ", ".join(AMOUNTS)
            params = ", ".join(f":{name}" for name in AMOUNTS)
            await conn.execute(
                text(
                    "INSERT INTO bills (setl_id, hospital_id, visit_id, visit_type, "
                    "idempotency_key, request_hash, status, id_number, patient_name, "
                    "admitted_on, discharged_on, acc_year, setl_time, setl_date, revoked_at, "
                    "policy_version, hospital_level, aid_class, categories, registered, "
                    "eligibility_on, eligibility_source, diagnoses, items, item_count, trace, "
                    f"deltas, {columns}) VALUES (:setl_id, 1, :visit, 'inpatient', "
                    ":key, 'h', :status, '370305197712120136', 'n', :on, :on, 2026, "
                    ":setl_time, :setl_date, :revoked_at, '2020', 3, 'key', '[]', true, :on, "
                    "'settlement', '[]', '[{\"code\": \"x\"}]', 1, '[]', "
                    f'\'{{"hifp_pay": "3600.00"}}\', {params})'
                ),
                values,
            )
            for seq, (field, code, amount) in enumerate(
                (("hifp_pay", "390100", "3600.00"), ("maf_pay", "610100", "710.00")), start=1
            ):
                await conn.execute(
                    text(
                        "INSERT INTO bill_funds (setl_id, seq, fund_pay_type, "
                        "fund_pay_type_name, setlinfo_field, inscp_scp_amt, crt_payb_lmt_amt, "
                        "fund_payamt, setl_proc_info) VALUES (:s, :seq, :code, 'f', :field, "
                        ":inscp, NULL, :amount, 'line')"
                    ),
                    {
                        "s": setl_id,
                        "seq": seq,
                        "code": code,
                        "field": field,
                        "inscp": _money(backend, "5000.00"),
                        "amount": _money(backend, amount),
                    },
                )


@pytest.mark.parametrize("backend", BACKENDS)
def test_earlier_revokes_are_booked_on_their_day(
    backend: str, database_factory: Callable[[str, str], str]
) -> None:
    url = database_factory(backend, "reversal_migration")
    run_migrations(MIGRATIONS, url, "0002")

    async def before() -> None:
        db = Database.from_url(url, pool_size=1)
        try:
            await _legacy_bills(db, backend)
        finally:
            await db.dispose()

    asyncio.run(before())
    run_migrations(MIGRATIONS, url)

    async def after() -> None:
        db = Database.from_url(url, pool_size=1)
        try:
            async with db.read() as conn:
                rows = {
                    r.setl_id: r
                    for r in (
                        await conn.execute(
                            text(
                                "SELECT setl_id, status, setl_date, revoked_on, refd_setl_flag, "
                                "init_setl_id, idempotency_key, item_count, deltas, "
                                f"{', '.join(AMOUNTS)} FROM bills"
                            )
                        )
                    ).all()
                }
                funds = (
                    await conn.execute(
                        text(
                            "SELECT f.setl_id, f.fund_payamt, f.inscp_scp_amt FROM bill_funds f "
                            "JOIN bills b ON b.setl_id = f.setl_id WHERE b.refd_setl_flag = 1 "
                            "ORDER BY f.seq"
                        )
                    )
                ).all()
            (reversal_id,) = set(rows) - {"S-KEPT", "S-GONE"}
            reversal, gone, kept = rows[reversal_id], rows["S-GONE"], rows["S-KEPT"]
            assert reversal_id.startswith("R20260312173000")
            assert (reversal.status, reversal.refd_setl_flag, reversal.init_setl_id) == (
                "revoked",
                1,
                "S-GONE",
            )
            assert str(reversal.setl_date)[:10] == "2026-03-13"  # 17:30 UTC is the 13th at +8
            assert str(gone.revoked_on)[:10] == "2026-03-13"
            assert kept.revoked_on is None
            assert kept.refd_setl_flag == 0
            assert gone.refd_setl_flag == 0
            assert str(gone.setl_date)[:10] == "2026-03-12"
            assert reversal.idempotency_key == "reversal S-GONE"
            assert reversal.item_count == 0
            assert '"-3600.00"' in reversal.deltas
            for name, value in AMOUNTS.items():
                assert _yuan(backend, getattr(reversal, name)) == -Decimal(value)
                assert _yuan(backend, getattr(gone, name)) == Decimal(value)
            negated = [
                (_yuan(backend, f.fund_payamt), _yuan(backend, f.inscp_scp_amt)) for f in funds
            ]
            assert negated == [
                (Decimal("-3600.00"), Decimal("-5000.00")),
                (Decimal("-710.00"), Decimal("-5000.00")),
            ]
            # A bill may not be negative, a reversal not positive, nor name no bill.
            for change in (
                "UPDATE bills SET psn_cash_pay = -psn_cash_pay, medfee_sumamt = fund_pay_sumamt "
                "- psn_cash_pay WHERE setl_id = 'S-KEPT'",
                f"UPDATE bills SET psn_cash_pay = 0 - psn_cash_pay, medfee_sumamt = "
                f"fund_pay_sumamt - psn_cash_pay WHERE setl_id = '{reversal_id}'",
                f"UPDATE bills SET init_setl_id = NULL WHERE setl_id = '{reversal_id}'",
                "UPDATE bills SET refd_setl_flag = 1 WHERE setl_id = 'S-KEPT'",
            ):
                with pytest.raises(IntegrityError):
                    async with db.write() as conn:
                        await conn.execute(text(change))
        finally:
            await db.dispose()

    asyncio.run(after())
