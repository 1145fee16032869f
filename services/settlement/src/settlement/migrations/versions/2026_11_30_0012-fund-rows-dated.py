"""Fund rows carry their bill's date and reversal flag, so the fund report reads one table.

``bill_funds`` gains ``setl_date`` (the bill's local settlement date) and ``refd_setl_flag``
(1 on a reversal's rows), filled from ``bills`` and then NOT NULL, and the index
``ix_bill_funds_date_fund`` on ``(setl_date, fund_pay_type)``, which on PostgreSQL also carries
(``INCLUDE``) what the fund grouping reads: ``fund_payamt``, ``refd_setl_flag`` and
``fund_pay_type_name``. A period's fund grouping is then an index-only scan of the period's
fund rows, without the join with the year's bills.

Neither column changes after the bill is written. A trigger on ``bills``
(``bill_funds_follow``) copies a change of either, made by hand, to the bill's fund rows: on
PostgreSQL ``BEFORE UPDATE`` (an update that moves a bill to another month's partition fires
no ``AFTER UPDATE`` trigger), on SQLite ``AFTER UPDATE``.

The fill rewrites every fund row (PostgreSQL keeps the old versions until the next vacuum, and
the table is analysed at the end); on SQLite the table is rebuilt to make the columns NOT
NULL. The downgrade drops the trigger, the index and the columns.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = (("setl_date", sa.Date()), ("refd_setl_flag", sa.Integer()))
INDEX = "ix_bill_funds_date_fund"
INCLUDE = ["fund_payamt", "refd_setl_flag", "fund_pay_type_name"]
FILL = (
    "UPDATE bill_funds SET setl_date = bills.setl_date, refd_setl_flag = bills.refd_setl_flag "
    "FROM bills WHERE bills.setl_id = bill_funds.setl_id"
)
FOLLOW = (
    "UPDATE bill_funds SET setl_date = NEW.setl_date, refd_setl_flag = NEW.refd_setl_flag "
    "WHERE setl_id = OLD.setl_id"
)
POSTGRESQL_TRIGGER = (
    f"""
CREATE FUNCTION bill_funds_follow() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    {FOLLOW};
    RETURN NEW;
END $$""",
    "CREATE TRIGGER bill_funds_follow BEFORE UPDATE OF setl_date, refd_setl_flag ON bills "
    "FOR EACH ROW WHEN (NEW.setl_date IS DISTINCT FROM OLD.setl_date "
    "OR NEW.refd_setl_flag IS DISTINCT FROM OLD.refd_setl_flag) "
    "EXECUTE FUNCTION bill_funds_follow()",
)
SQLITE_TRIGGER = (
    "CREATE TRIGGER bill_funds_follow AFTER UPDATE OF setl_date, refd_setl_flag ON bills "
    "FOR EACH ROW WHEN NEW.setl_date IS NOT OLD.setl_date "
    f"OR NEW.refd_setl_flag IS NOT OLD.refd_setl_flag BEGIN {FOLLOW}; END"
)


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for name, type_ in COLUMNS:
        op.add_column("bill_funds", sa.Column(name, type_, nullable=True))
    op.execute(FILL)
    if sqlite:
        with op.batch_alter_table("bill_funds") as batch:
            for name, type_ in COLUMNS:
                batch.alter_column(name, existing_type=type_, nullable=False)
        op.execute(SQLITE_TRIGGER)
    else:
        # One scan of the table for both.
        op.execute(
            "ALTER TABLE bill_funds "
            + ", ".join(f"ALTER COLUMN {name} SET NOT NULL" for name, _ in COLUMNS)
        )
        for statement in POSTGRESQL_TRIGGER:
            op.execute(statement)
    op.create_index(INDEX, "bill_funds", ["setl_date", "fund_pay_type"], postgresql_include=INCLUDE)
    if not sqlite:
        op.execute("ANALYZE bill_funds")  # the new columns' statistics, for the planner


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    op.execute("DROP TRIGGER bill_funds_follow" + ("" if sqlite else " ON bills"))
    if not sqlite:
        op.execute("DROP FUNCTION bill_funds_follow()")
    op.drop_index(INDEX, table_name="bill_funds")
    for name, _ in reversed(COLUMNS):
        op.drop_column("bill_funds", name)
