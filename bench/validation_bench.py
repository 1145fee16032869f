"""Micro-benchmark of the settle path's request validation and answer building.

Validates a 20-item inpatient ``SettleRequest`` from a JSON-decoded dict, fingerprints it,
classifies its lines (no catalogue, and a 200,000-code catalogue with the hospital's mapping
of every line), builds the stored lines and the ``BillOut`` answer from the engine's bill
(``line_records``, ``bill_values`` → ``bill_out``) and serialises it; prints µs per
operation.

Run: .venv/bin/python -m bench.validation_bench [--number N]
"""

from __future__ import annotations

import argparse
import json
import random
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal

from settlement.catalogue.cache import EMPTY_VIEW, CatalogueView, Entry
from settlement.eligibility import UsedEligibility
from settlement.engine import PolicySet, compute, default_policy_dir
from settlement.hospitals.repository import HospitalRef
from settlement.settlements.answers import bill_out
from settlement.settlements.lines import classify, dump_records, line_records
from settlement.settlements.schemas import SettleRequest
from settlement.settlements.service import bill_values, request_hash
from tests.support.data import inpatient_items, make_patients, settle_body


def _time(label: str, number: int, fn: Callable[[], object]) -> float:
    for _ in range(min(number, 200)):
        fn()
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        best = min(best, (time.perf_counter() - start) / number)
    print(f"{label:<40} {best * 1e6:9.1f} µs")
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--number", type=int, default=2000, help="operations per timed round")
    args = parser.parse_args()
    rng = random.Random(11)
    patient = make_patients(1)[0]
    body = settle_body(patient, "ZY20260001", inpatient_items(rng), admitted_on=date(2026, 3, 2))
    raw = json.loads(json.dumps(body, ensure_ascii=False))
    req = SettleRequest.model_validate(raw)

    policy = PolicySet.from_dir(default_policy_dir()).for_date(req.visit.bill_date)
    totals = {"390100.inpatient": Decimal("12000.00"), "610100": Decimal("3000.00")}
    items = req.items or []
    declared = classify(EMPTY_VIEW, items, req.visit.bill_date)
    bill = compute(
        policy,
        hospital_level=2,
        visit_type="inpatient",
        aid_class="key",
        items=declared.items,
        totals=totals,
        grant_balance=Decimal(0),
    )
    # A national-size catalogue and a mapping of every line's code.
    entries = {
        f"X{n:08d}": (Entry(date(2020, 1, 1), None, ("01", "02", "03")[n % 3], None, None),)
        for n in range(200_000)
    }
    mapping = {line.code: f"X{n * 997:08d}" for n, line in enumerate(items)}
    view = CatalogueView(1, entries, mapping)
    records = line_records(declared, bill.lines, policy.b_self_pay_ratio)
    hospital = HospitalRef(id=1, code="H370305001", name="Hospital", level=2, region_code="370305")
    elig = UsedEligibility(("registered_poor",), True, req.visit.admitted_on, "settlement")
    now = datetime(2026, 3, 12, 0, 30, 15, 123456, tzinfo=UTC)

    def build() -> object:
        values = bill_values(bill, req, hospital, elig, setl_id="S1", now=now, local_tz=UTC)
        values["items"] = dump_records(line_records(declared, bill.lines, policy.b_self_pay_ratio))
        return bill_out(values, bill.setldetail, hospital.code)

    out = build()
    n = args.number
    _time("validate SettleRequest (20 items)", n, lambda: SettleRequest.model_validate(raw))
    _time("request_hash", n, lambda: request_hash(req))
    _time(
        "classify, no catalogue (20 lines)",
        n,
        lambda: classify(EMPTY_VIEW, items, date(2026, 3, 12)),
    )
    _time("classify, 200,000 codes (20 lines)", n, lambda: classify(view, items, date(2026, 3, 12)))
    _time(
        "line_records (20 lines)",
        n,
        lambda: line_records(declared, bill.lines, policy.b_self_pay_ratio),
    )
    _time("dump_records (items JSON)", n, lambda: dump_records(records))
    _time("bill_values + bill_out", n, build)
    _time("BillOut.model_dump_json", n, out.model_dump_json)
    _time("build + dump", n, lambda: build().model_dump_json())  # type: ignore[attr-defined]


if __name__ == "__main__":
    main()
