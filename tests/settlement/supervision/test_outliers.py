"""The outlier rules: an item's amount or a bill's total above a multiple of the median for
its item code (visit type) and hospital level over the last 90 days. The medians are
computed in SQL by the background refresh, never per settle; here the tests refresh them."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select, text

from settlement.supervision import repository
from tests.settlement.conftest import Hospital, Service, admin_headers, unique
from tests.settlement.supervision.conftest import TODAY, days_ago, person, rule_codes, settled, stay

OUTLIERS = """
version = "test-outliers"

[[rules]]
code = "ITEM-OUTLIER"
kind = "item_outlier"
title = "项目金额远高于同级医院中位数"
severity = "medium"
multiple = 5
window_days = 90
min_samples = 5

[[rules]]
code = "BILL-OUTLIER"
kind = "bill_outlier"
title = "医疗费用总额远高于同级医院中位数"
severity = "low"
multiple = 10
window_days = 90
min_samples = 5
"""


def line(code: str, amount: str, name: str = "检查费") -> dict[str, Any]:
    return {"code": code, "name": name, "category": "A", "unit_price": amount, "quantity": 1}


async def bill_with(svc: Service, hospital: Hospital, *lines: dict[str, Any]) -> dict[str, Any]:
    # Each bill a patient of its own, a one-night stay: no other rule comes near it.
    return await settled(
        svc, hospital, stay(person(svc), days_ago(3), days_ago(2), items=list(lines))
    )


async def refresh(svc: Service) -> None:
    assert await svc.app.state.ctx.supervision.refresh_stats() is True


async def test_an_item_far_above_its_median_is_flagged(rules_app: Any, svc: Service) -> None:
    app: Service = await rules_app("outliers", svc.backend, OUTLIERS)
    level2, level3 = await app.hospital(level=2), await app.hospital(level=3)
    code = unique("CT-")
    for amount in ("90.00", "95.00", "100.00", "105.00", "110.00", "300.00"):
        await bill_with(app, level2, line(code, amount), line(unique("U-"), "50.00"))
    # Amounts older than the window do not count: these five, moved 91 days back, would
    # lift the median to 1000.
    old = [await bill_with(app, level2, line(code, "1000.00")) for _ in range(5)]
    async with app.app.state.ctx.db.write() as conn:
        for bill in old:
            await conn.execute(
                text("UPDATE bills SET setl_date = :d WHERE setl_id = :s"),
                {"d": TODAY - timedelta(days=91), "s": bill["setl_id"]},
            )
    await refresh(app)
    # The median of 90, 95, 100, 105, 110, 300 is 102.50: 5 × 102.50 = 512.50.
    median = app.app.state.ctx.supervision.median("item", code, 2)
    assert (str(median.median), median.samples) == ("102.50", 6)
    flagged = await bill_with(app, level2, line(code, "520.00", "CT检查"))
    assert rule_codes(flagged) == ["ITEM-OUTLIER"]
    flag = flagged["flags"][0]
    assert flag["field"] == "items[0].amount"
    assert "520.00" in flag["message"]
    assert "102.50" in flag["message"]
    assert "5 倍" in flag["message"]
    # At the limit, and at another hospital level (no median there), nothing.
    assert (await bill_with(app, level2, line(code, "512.50")))["flags"] == []
    assert (await bill_with(app, level3, line(code, "5200.00")))["flags"] == []


async def test_a_bill_far_above_the_median_of_its_visit_type_and_level(
    rules_app: Any, svc: Service
) -> None:
    app: Service = await rules_app("outliers", svc.backend, OUTLIERS)
    level1 = await app.hospital(level=1)
    for amount in ("800.00", "900.00", "1000.00", "1100.00", "1200.00"):
        await bill_with(app, level1, line(unique("B-"), amount))
    await refresh(app)
    median = app.app.state.ctx.supervision.median("bill", "inpatient", 1)
    assert median is not None
    assert str(median.median) == "1000.00"
    big = await bill_with(app, level1, line(unique("B-"), "10000.01"))
    assert rule_codes(big) == ["BILL-OUTLIER"]
    assert big["flags"][0]["field"] == "items"
    assert "10000.01" in big["flags"][0]["message"]
    assert (await bill_with(app, level1, line(unique("B-"), "10000.00")))["flags"] == []


async def test_the_refresh_adds_new_bills_and_the_background_task_runs_it(
    rules_app: Any, svc: Service, database_factory: Any, tmp_path: Any
) -> None:
    app: Service = await rules_app("outliers", svc.backend, OUTLIERS)
    hospital = await app.hospital(level=2)
    code = unique("INC-")
    for _ in range(4):
        await bill_with(app, hospital, line(code, "200.00"))
    await refresh(app)
    median = app.app.state.ctx.supervision.median("item", code, 2)
    assert (str(median.median), median.samples) == ("200.00", 4)
    # Four samples are fewer than min_samples: no flag yet.
    assert (await bill_with(app, hospital, line(code, "1000.01")))["flags"] == []
    await refresh(app)  # only the bills since the last refresh are read again
    median = app.app.state.ctx.supervision.median("item", code, 2)
    assert (str(median.median), median.samples) == ("200.00", 5)
    flagged = await bill_with(app, hospital, line(code, "1000.01"))
    assert rule_codes(flagged) == ["ITEM-OUTLIER"]

    # An app whose lifespan task refreshes by itself.
    from tests.settlement.conftest import migrate, start_service

    url = database_factory(svc.backend, "supervision_background")
    await asyncio.to_thread(migrate, url)
    rules = tmp_path / "rules.toml"
    rules.write_text(OUTLIERS, encoding="utf-8")
    background, lifespan = await start_service(
        url, svc.backend, supervision_rules=rules, supervision_refresh_s=0.5
    )
    try:
        for _ in range(200):
            listed = await background.client.get("/v1/supervision/rules", headers=admin_headers())
            if listed.json()["stats_refreshed_at"] is not None:
                break
            await asyncio.sleep(0.05)
        assert listed.json()["stats_refreshed_at"] is not None
    finally:
        await background.client.aclose()
        await lifespan.__aexit__(None, None, None)


async def test_samples_are_written_in_the_callers_transaction_keeping_lines_already_there(
    svc: Service,
) -> None:
    """``insert_samples`` (PostgreSQL: ``COPY`` into a temporary table, then an insert that
    skips the lines already there): a line copied twice, in one transaction or two, stays as
    first written; a transaction that fails leaves no line and no temporary table behind."""
    db = svc.app.state.ctx.db
    first, second = unique("S"), unique("S")
    lines = [
        (first, 0, "CT", 2, TODAY, Decimal("12.30")),
        (first, 1, "CT", 2, TODAY, Decimal("0.01")),
    ]
    async with db.write() as conn:
        await repository.insert_samples(conn, lines)
        await repository.insert_samples(
            conn, [*lines, (first, 2, "MR", 3, TODAY, Decimal("999999.99"))]
        )
    async with db.write() as conn:
        await repository.insert_samples(conn, [(first, 0, "XX", 9, TODAY, Decimal("1.00"))])

    async def fails_after_the_samples() -> None:
        async with db.write() as conn:
            await repository.insert_samples(conn, [(second, 0, "CT", 2, TODAY, Decimal("5.00"))])
            raise RuntimeError("the rest of the transaction failed")

    with pytest.raises(RuntimeError):
        await fails_after_the_samples()
    async with db.write() as conn:  # the same connection again: no table left over
        await repository.insert_samples(conn, [(second, 1, "CT", 2, TODAY, Decimal("6.00"))])
    async with db.read() as conn:
        rows = (
            await conn.execute(
                select(*(repository.samples.c[c] for c in repository.SAMPLE_COLUMNS))
                .where(repository.samples.c.setl_id.in_([first, second]))
                .order_by(repository.samples.c.setl_id, repository.samples.c.line)
            )
        ).all()
    assert [tuple(r) for r in rows] == [
        (first, 0, "CT", 2, TODAY, Decimal("12.30")),
        (first, 1, "CT", 2, TODAY, Decimal("0.01")),
        (first, 2, "MR", 3, TODAY, Decimal("999999.99")),
        (second, 1, "CT", 2, TODAY, Decimal("6.00")),
    ]
    assert [str(r[5]) for r in rows] == ["12.30", "0.01", "999999.99", "6.00"]
