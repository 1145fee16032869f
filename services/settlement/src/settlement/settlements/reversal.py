"""The reversal of a bill (冲销记录): the record a revoke adds to the books.

A revoke never changes a closed day. It adds a ``bills`` row of its own, dated on the local day
of the revoke: every ``setlinfo`` amount and every fund row's ``inscp_scp_amt`` and
``fund_payamt`` negated, ``refd_setl_flag`` 1 (the national 退费结算标志), ``init_setl_id``
naming the bill, status ``revoked`` (so it never counts as the visit's settled bill). Its
idempotency key is derived from the bill's ``setl_id`` and holds a space, which no HIS key
can (``Idempotency-Key`` is printable ASCII without spaces), so the two never collide. The
bill keeps its row, date and amounts. Every figure of a period is then the sum over the rows
dated in it, and a day's figures are final when the day ends.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from settlement.bills.models import FUND_FIELDS, REVERSAL_FLAG, REVOKED
from settlement.database import dump_json
from settlement.engine import SETLINFO_FIELDS
from shared.money import ZERO

REVERSAL_STEP = "reversal"
_NEGATED_FUND_FIELDS = ("inscp_scp_amt", "fund_payamt")
# Columns a reversal takes from its bill unchanged: who, where, which visit and year, which
# policy and eligibility.
_COPIED = (
    "hospital_id",
    "visit_id",
    "visit_type",
    "id_number",
    "patient_name",
    "admitted_on",
    "discharged_on",
    "acc_year",
    "policy_version",
    "hospital_level",
    "aid_class",
    "categories",
    "registered",
    "eligibility_on",
    "eligibility_source",
    "diagnoses",
    "diagnosis_names",
)


def new_reversal_id(now: datetime) -> str:
    """Like a bill's ``setl_id``, with ``R`` for ``S``: UTC timestamp to the microsecond and
    6 random hex, so reversals sort by time among themselves."""
    return f"R{now.strftime('%Y%m%d%H%M%S%f')}{secrets.token_hex(3)}"


def reversal_key(setl_id: str) -> str:
    """The reversal's idempotency key: one reversal per bill, never an HIS key."""
    return f"reversal {setl_id}"


def _negate(value: Decimal) -> Decimal:
    return ZERO - value  # never -0.00


def reversal_row(
    bill: Any,
    *,
    setl_id: str,
    now: datetime,
    day: date,
    reason: str | None,
    request_id: str | None,
) -> dict[str, Any]:
    """The ``bills`` row of the reversal of ``bill`` (a stored row), made at ``now`` on the
    local date ``day``."""
    key = reversal_key(bill.setl_id)
    deltas = json.loads(bill.deltas) if bill.deltas else {}
    step = {"step": REVERSAL_STEP, "init_setl_id": bill.setl_id}
    if reason:
        step["reason"] = reason
    return {
        **{name: getattr(bill, name) for name in _COPIED},
        "setl_id": setl_id,
        "idempotency_key": key,
        "request_hash": hashlib.sha256(key.encode()).hexdigest(),
        "status": REVOKED,
        "setl_time": now,
        "setl_date": day,
        "revoked_at": None,
        "revoked_on": None,
        "items": "[]",
        "item_count": 0,
        "trace": dump_json([step]),
        "deltas": dump_json({k: _negate(Decimal(str(v))) for k, v in deltas.items()}),
        "request_id": request_id,
        "refd_setl_flag": REVERSAL_FLAG,
        "init_setl_id": bill.setl_id,
        **{name: _negate(getattr(bill, name)) for name in SETLINFO_FIELDS},
    }


def reversal_funds(bill_setl_id: str, setl_id: str, funds: Sequence[Any]) -> list[dict[str, Any]]:
    """The reversal's fund rows: the bill's, numbered alike, with ``inscp_scp_amt`` and
    ``fund_payamt`` negated (``crt_payb_lmt_amt`` is the limit as the bill saw it)."""
    rows = []
    for seq, fund in enumerate(funds, start=1):
        row = {"setl_id": setl_id, "seq": seq, **{n: getattr(fund, n) for n in FUND_FIELDS}}
        for name in _NEGATED_FUND_FIELDS:
            row[name] = _negate(row[name])
        row["setl_proc_info"] = f"冲销结算 {bill_setl_id}：{row['setl_proc_info']}"
        rows.append(row)
    return rows
