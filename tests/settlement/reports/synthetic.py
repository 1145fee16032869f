"""Bills written straight into the database (any settlement date, exact amounts) for the
report tests: each one keeps the bill invariants and has its fund rows; a revoked bill has its
reversal (negative amounts, ``refd_setl_flag`` 1) on the day of the revoke."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

from sqlalchemy import insert, select

from settlement.bills.models import BillFundRow, BillRow
from settlement.bills.repository import with_bill_fields
from settlement.database import Database, table_of
from settlement.hospitals.models import Hospital as HospitalRow

bills = table_of(BillRow)
bill_funds = table_of(BillFundRow)
hospitals = table_of(HospitalRow)

FUNDS = (
    ("hifp_pay", "390100", "城乡居民基本医疗保险基金"),
    ("hifmi_pay", "390200", "城乡居民大病医疗保险基金"),
    ("maf_pay", "610100", "医疗救助基金"),
    ("oth_pay", "640100", "政府兜底基金"),
)
AMOUNTS = (
    "medfee_sumamt",
    "hifp_pay",
    "hifmi_pay",
    "maf_pay",
    "oth_pay",
    "fund_pay_sumamt",
    "psn_cash_pay",
)


@dataclass(frozen=True)
class Bill:
    setl_id: str
    hospital_code: str
    region_code: str
    setl_date: date
    status: str
    aid_class: str
    amounts: dict[str, Decimal]
    refd_setl_flag: int = 0


def negated(amounts: dict[str, Decimal]) -> dict[str, Decimal]:
    return {name: Decimal("0.00") - value for name, value in amounts.items()}


def _fen(rng: random.Random, high: int) -> Decimal:
    return Decimal(rng.randint(0, high)) / 100


def make_amounts(rng: random.Random) -> dict[str, Decimal]:
    hifp = _fen(rng, 900_000)
    hifmi = _fen(rng, 300_000) if rng.random() < 0.4 else Decimal("0.00")
    maf = _fen(rng, 200_000) if rng.random() < 0.6 else Decimal("0.00")
    oth = _fen(rng, 50_000) if rng.random() < 0.2 else Decimal("0.00")
    cash = _fen(rng, 300_000)
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


def bill_values(
    setl_id: str,
    hospital_id: int,
    setl_date: date,
    status: str,
    aid_class: str,
    amounts: dict[str, Decimal],
    *,
    id_number: str = "370305198001011237",
    init_setl_id: str | None = None,
    revoked_on: date | None = None,
) -> dict[str, Any]:
    """A bill's row, or (``init_setl_id``) a reversal's, whose ``amounts`` are negative."""
    moment = datetime.combine(setl_date, time(4, 0), tzinfo=UTC)
    reversal = init_setl_id is not None
    return {
        "setl_id": setl_id,
        "hospital_id": hospital_id,
        "visit_id": f"V-{setl_id}",
        "visit_type": "inpatient",
        "idempotency_key": f"k-{setl_id}",
        "request_hash": "0" * 64,
        "status": status,
        "id_number": id_number,
        "patient_name": "合成",
        "admitted_on": setl_date,
        "discharged_on": setl_date,
        "acc_year": setl_date.year,
        "setl_time": moment,
        "setl_date": setl_date,
        "revoked_at": moment if status == "revoked" and not reversal else None,
        "revoked_on": revoked_on,
        "refd_setl_flag": 1 if reversal else 0,
        "init_setl_id": init_setl_id,
        "policy_version": "2020",
        "hospital_level": 2,
        "aid_class": aid_class,
        "categories": "[]",
        "registered": aid_class != "none",
        "eligibility_on": setl_date,
        "eligibility_source": "settlement",
        "diagnoses": "[]",
        "items": "[]",
        "item_count": 0,
        "trace": "[]",
        "deltas": json.dumps({}),
        "fulamt_ownpay_amt": amounts["psn_cash_pay"],
        "overlmt_selfpay": Decimal("0.00"),
        "preselfpay_amt": Decimal("0.00"),
        "inscp_scp_amt": amounts["fund_pay_sumamt"],
        "act_pay_dedc": Decimal("0.00"),
        "request_id": None,
        **amounts,
    }


def fund_rows(setl_id: str, amounts: dict[str, Decimal]) -> list[dict[str, Any]]:
    rows = []
    for seq, (field, code, name) in enumerate(FUNDS, start=1):
        if amounts[field]:
            rows.append(
                {
                    "setl_id": setl_id,
                    "seq": seq,
                    "fund_pay_type": code,
                    "fund_pay_type_name": name,
                    "setlinfo_field": field,
                    "inscp_scp_amt": amounts["fund_pay_sumamt"],
                    "crt_payb_lmt_amt": None,
                    "fund_payamt": amounts[field],
                    "setl_proc_info": f"{name}：合成",
                }
            )
    return rows


async def hospital_ids(db: Database, codes: list[str]) -> dict[str, int]:
    async with db.read() as conn:
        rows = await conn.execute(
            select(hospitals.c.code, hospitals.c.id).where(hospitals.c.code.in_(codes))
        )
        return {r.code: int(r.id) for r in rows}


async def insert_bills(
    db: Database, rows: list[dict[str, Any]], funds: list[dict[str, Any]]
) -> None:
    """The bills' ``rows`` and their ``funds`` (each with its bill's date and reversal flag,
    as the service writes them)."""
    by_id = {row["setl_id"]: row for row in rows}
    funds = [f for fund in funds for f in with_bill_fields(by_id[fund["setl_id"]], [fund])]
    async with db.write() as conn:
        if rows:
            await conn.execute(insert(bills), rows)
        if funds:
            await conn.execute(insert(bill_funds), funds)
