"""Benchmark of the settlement engine alone: a 20-item inpatient bill, bills per second on one core.

``--policy default`` (the newest default sample, 2020: four tiers) or ``--policy ladder`` (the
2023 sample of the plan's whole ladder: seven tiers for a key patient, on running totals of a
year under way). The goal is 20,000 bills/s for either.

Run: .venv/bin/python bench/engine_bench.py [--policy default|ladder] [--seconds N]
"""

from __future__ import annotations

import argparse
import statistics
import time
from decimal import Decimal

from settlement.engine import (
    FeeItem,
    Policy,
    PolicySet,
    compute,
    default_policy_dir,
    ladder_policy_dir,
    load_policy_file,
)


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


def policy_and_totals(which: str) -> tuple[Policy, dict[str, Decimal]]:
    """The policy and a key patient's running totals of a year under way, consistent with it
    (each cumulative tier has paid its target of the year's base)."""
    if which == "ladder":
        return load_policy_file(ladder_policy_dir() / "2023.toml"), {
            "390100.inpatient": Decimal("12000.00"),
            "390200.base": Decimal("9000.00"),
            "390200": Decimal("1650.00"),  # (9,000 − 6,000) × 55 %
            "990101": Decimal("1200.00"),
            "610100.base": Decimal("2400.00"),
            "610100": Decimal("1680.00"),  # 2,400 × 70 %
            "610300.cash_base": Decimal("720.00"),
            "640100.cash_base": Decimal("720.00"),
        }
    return PolicySet.from_dir(default_policy_dir()).policies[-1], {
        "390100.inpatient": Decimal("12000.00"),
        "390200.base": Decimal("9000.00"),
        "390200": Decimal("1500.00"),
        "610100": Decimal("3000.00"),
        "640100.cash_base": Decimal("2500.00"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds")
    parser.add_argument("--seconds", type=int, default=1, help="length of a round")
    parser.add_argument("--policy", choices=("default", "ladder"), default="default")
    args = parser.parse_args()
    policy, totals = policy_and_totals(args.policy)
    items = sample_items()

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
    label = "engine" if args.policy == "default" else "engine (ladder)"
    print(
        f"{label}: {int(max(rates))} bills/s "
        f"(policy {policy.version}; best of {args.rounds} rounds; "
        f"median {int(statistics.median(rates))})"
    )


if __name__ == "__main__":
    main()
