"""The bills' storage: on PostgreSQL a table partitioned by month with the global keys on
``bill_keys`` (migration 0010), on SQLite one plain table; the bill statements behave alike on
both (a duplicate bill is skipped, a taken reversal raises)."""

from __future__ import annotations

import contextlib
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from settlement.bills import repository
from settlement.bills.partitions import ensure_months, months_from, partition_name
from settlement.database import Database
from tests.settlement.admin.conftest import Service, unique
from tests.settlement.conftest import local_today

bills = repository.bills


class RolledBack(Exception):
    """Raised to end a write block without committing."""


async def inserted_and_rolled_back(db: Database, values: dict[str, Any]) -> bool:
    """Whether ``insert_bill`` takes the bill (then rolled back: the suite's books stay
    whole)."""
    inserted = False
    with contextlib.suppress(RolledBack):
        async with db.write() as conn:
            inserted = await repository.insert_bill(conn, values)
            raise RolledBack
    return inserted


async def stored(db: Database, setl_id: str) -> dict[str, Any]:
    async with db.read() as conn:
        row = (await conn.execute(select(bills).where(bills.c.setl_id == setl_id))).one()
    return dict(row._asdict())


async def rows_of(db: Database, table: str, setl_id: str) -> int:
    async with db.read() as conn:
        result = await conn.execute(
            text(f"SELECT count(*) FROM {table} WHERE setl_id = :s"), {"s": setl_id}
        )
        return int(result.scalar_one())


async def test_the_layout(svc: Service) -> None:
    db = svc.app.state.ctx.db
    async with db.read() as conn:
        if svc.backend == "sqlite":
            names = (await conn.execute(text("SELECT name FROM sqlite_master"))).scalars()
            assert "bills" in names
            assert "bill_keys" not in names
            assert "bills_default" not in names
            return
        kinds = await conn.execute(
            text(
                "SELECT relname, relkind::text FROM pg_class "
                "WHERE relname IN ('bills', 'bill_keys', 'bills_default')"
            )
        )
        parts = await conn.execute(
            text(
                "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                "WHERE i.inhparent = 'bills'::regclass"
            )
        )
        keys = await conn.execute(
            text(
                "SELECT conname FROM pg_constraint WHERE conrelid = 'bill_keys'::regclass "
                "UNION SELECT indexname FROM pg_indexes WHERE tablename = 'bill_keys'"
            )
        )
        bill_indexes = await conn.execute(
            text("SELECT indexname FROM pg_indexes WHERE tablename = 'bills'")
        )
    assert dict(kinds.all()) == {"bills": "p", "bill_keys": "r", "bills_default": "r"}
    coming = {partition_name(m) for m in months_from(local_today(), 3)}
    assert coming | {"bills_default"} <= set(parts.scalars())
    assert {
        "pk_bill_keys",
        "uq_bills_idempotency",
        "uq_bills_settled_visit",
        "uq_bills_init_setl_id",
        "ex_bills_inpatient_stay",
        "fk_bill_keys_init_setl_id_bill_keys",
    } <= set(keys.scalars())
    assert {"pk_bills", "ix_bills_idempotency", "ix_bills_init_setl_id"} <= set(
        bill_indexes.scalars()
    )
    assert await ensure_months(db, local_today()) == []  # all there already


async def test_a_duplicate_bill_is_skipped_and_a_taken_reversal_raises(svc: Service) -> None:
    db = svc.app.state.ctx.db
    hospital = await svc.hospital()
    bill = await svc.settle(hospital, svc.patient())
    row = await stored(db, bill["setl_id"])
    again = {**row, "setl_id": unique("S-DUP"), "visit_id": unique("V-DUP")}
    same_id = {**row, "idempotency_key": unique("k"), "visit_id": unique("V-DUP")}
    async with db.write() as conn:
        assert await repository.insert_bill(conn, again) is False  # its idempotency key
        assert await repository.insert_bill(conn, same_id) is False  # its setl_id
    assert await rows_of(db, "bills", again["setl_id"]) == 0
    if svc.backend == "postgres":
        assert await rows_of(db, "bill_keys", again["setl_id"]) == 0
        # Another visit's stay overlapping this one: ex_bills_inpatient_stay on bill_keys.
        overlap = {**again, "idempotency_key": unique("k")}
        async with db.write() as conn:
            assert await repository.insert_bill(conn, overlap) is False
        # A stay that does not overlap goes in.
        later = {"admitted_on": row["discharged_on"], "discharged_on": row["discharged_on"]}
        assert await inserted_and_rolled_back(db, {**overlap, **later}) is True

    revoked = await svc.revoke(hospital, bill["setl_id"])
    reversal = await stored(db, revoked["reversal"]["setl_id"])
    second = {**reversal, "setl_id": unique("R-DUP"), "idempotency_key": unique("k")}
    with pytest.raises(IntegrityError):  # uq_bills_init_setl_id: one reversal per bill
        async with db.write() as conn:
            await repository.insert_reversal(conn, second, [])
    assert await rows_of(db, "bills", second["setl_id"]) == 0


async def test_a_bill_moved_to_another_month_keeps_its_keys(svc: Service) -> None:
    if svc.backend != "postgres":
        pytest.skip("partitions are PostgreSQL's")
    db = svc.app.state.ctx.db
    hospital = await svc.hospital()
    bill = await svc.settle(hospital, svc.patient())
    moved_to = date.fromisoformat(bill["setl_date"]).replace(day=1) - timedelta(days=400)
    async with db.write() as conn:
        await conn.execute(
            text("UPDATE bills SET setl_date = :d WHERE setl_id = :s"),
            {"d": moved_to, "s": bill["setl_id"]},
        )
    async with db.read() as conn:
        where = await conn.execute(
            text(
                "SELECT b.tableoid::regclass::text AS part, k.setl_date FROM bills b "
                "JOIN bill_keys k USING (setl_id) WHERE setl_id = :s"
            ),
            {"s": bill["setl_id"]},
        )
        (part, key_date), *_ = where.all()
    assert (part, key_date) == ("bills_default", moved_to)
    assert await rows_of(db, "bill_funds", bill["setl_id"]) == len(bill["setldetail"])
    assert partition_name(moved_to) in await ensure_months(db, moved_to, ahead=0)
    row = await stored(db, bill["setl_id"])
    async with db.write() as conn:
        duplicate = {**row, "setl_id": unique("S-DUP"), "visit_id": unique("V-DUP")}
        assert await repository.insert_bill(conn, duplicate) is False
    # The revoke still finds and updates it: status on both tables.
    await svc.revoke(hospital, bill["setl_id"])
    async with db.read() as conn:
        status = await conn.execute(
            text("SELECT status FROM bill_keys WHERE setl_id = :s"), {"s": bill["setl_id"]}
        )
        assert status.scalar_one() == "revoked"


async def test_a_settled_bill_its_fund_rows_and_totals_are_written_together(
    svc: Service,
) -> None:
    """``insert_settled``: on PostgreSQL one statement, on SQLite one each; both write the
    bill, every fund row and the moved totals (answering the statement's returned value),
    and a duplicate writes no bill or fund row."""
    from types import SimpleNamespace

    from settlement.accumulators import repository as accumulators
    from settlement.bills.models import FUND_FIELDS

    db = svc.app.state.ctx.db
    hospital = await svc.hospital()
    patient = svc.patient()
    bill = await svc.settle(hospital, patient)
    row = await stored(db, bill["setl_id"])
    async with db.read() as conn:
        funds = (await repository.funds_of(conn, [row["setl_id"]]))[row["setl_id"]]
    detail = [SimpleNamespace(**{name: getattr(f, name) for name in FUND_FIELDS}) for f in funds]
    earlier = row["discharged_on"] - timedelta(days=200)
    copy = {
        **row,
        "setl_id": unique("S-TOG"),
        "visit_id": unique("V-TOG"),
        "idempotency_key": unique("k"),
        "admitted_on": earlier,
        "discharged_on": earlier,
    }
    totals = {"medfee_sumamt": row["medfee_sumamt"] * 2}
    moved = accumulators.moved(row["id_number"], row["acc_year"], totals, 1)
    async with db.write() as conn:
        assert await repository.insert_settled(conn, copy, detail, [moved]) == [2]  # bills
    async with db.read() as conn:
        written = (await repository.funds_of(conn, [copy["setl_id"]]))[copy["setl_id"]]
        now = await accumulators.totals(conn, row["id_number"], row["acc_year"])
    assert [tuple(f)[1:] for f in written] == [tuple(f)[1:] for f in funds]
    assert now == totals
    assert (await stored(db, copy["setl_id"]))["medfee_sumamt"] == row["medfee_sumamt"]

    again = {**copy, "setl_id": unique("S-TOG")}  # the same idempotency key
    with contextlib.suppress(RolledBack):
        async with db.write() as conn:
            assert await repository.insert_settled(conn, again, detail, [moved]) is None
            raise RolledBack  # what the settle does on a duplicate
    assert await rows_of(db, "bills", again["setl_id"]) == 0
    assert await rows_of(db, "bill_funds", again["setl_id"]) == 0
