"""Benchmark of the settlement engine alone: a 20-item inpatient bill, bills per second on one core.

Run: .venv/bin/python bench/engine_bench.py [--seconds N]
"""

from __future__ import annotations

import argparse
import statistics
import time
from decimal import Decimal

from settlement.engine import FeeItem, PolicySet, compute, default_policy_dir


def sample_items() -> list[FeeItem]:
    """A 20-item inpatient bill: A, B and C items, some with price caps and given amounts."""
    items = []
    for i in range(20):
        category = ("A", "B", "A", "C", "B")[i % 5]
        unit_price = Decimal(f"{37 + 13 * i}.{(i * 7) % 100:02d}")
        quantity = Decimal((i % 4) + 1)
        items.append(
            FeeItem(
                code=f"X{i:04d}",
                name=f"item {i}",
                category=category,  # type: ignore[arg-type]
                unit_price=unit_price,
                quantity=quantity,
                amount=(unit_price * quantity).quantize(Decimal("0.01")) if i % 2 else None,
                price_cap=unit_price - Decimal(5) if i % 7 == 0 else None,
            )
        )
    return items


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds")
    parser.add_argument("--seconds", type=int, default=1, help="length of a round")
    args = parser.parse_args()
    policy = PolicySet.from_dir(default_policy_dir()).policies[-1]
    items = sample_items()
    totals = {
        "390100.inpatient": Decimal("12000.00"),
        "390200.base": Decimal("9000.00"),
        "390200": Decimal("1500.00"),
        "610100": Decimal("3000.00"),
        "640100.cash_base": Decimal("2500.00"),
    }

    def one() -> None:
        compute(
            policy,
            hospital_level=2,
            visit_type="inpatient",
            aid_class="key",
            items=items,
            totals=totals,
        )

    for _ in range(500):
        one()
    rates = []
    for _ in range(args.rounds):
        count = 0
        start = time.process_time()
        deadline = start + args.seconds
        while True:
            for _ in range(200):
                one()
            count += 200
            now = time.process_time()
            if now >= deadline:
                break
        rates.append(count / (now - start))
    # The best round is the figure least disturbed by other work on the machine.
    print(
        f"engine: {int(max(rates))} bills/s "
        f"(best of {args.rounds} rounds; median {int(statistics.median(rates))})"
    )


if __name__ == "__main__":
    main()
