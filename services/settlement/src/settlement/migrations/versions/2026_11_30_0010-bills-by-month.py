"""Bills partitioned by month on PostgreSQL; their global keys on a narrow table of their own.

PostgreSQL only (SQLite keeps one ``bills`` table; nothing changes there).

``bills`` becomes a table partitioned by ``RANGE (setl_date)``: one partition per month
(``bills_2026_01`` holds ``2026-01-01`` ≤ ``setl_date`` < ``2026-02-01``) and a DEFAULT
partition (``bills_default``) for a date no month has been created for yet. A unique index or
exclusion constraint of a partitioned table must contain ``setl_date``, so the keys that are
unique over all bills move to ``bill_keys`` (one narrow row per bill, unpartitioned), with
their names unchanged: the idempotency key (``uq_bills_idempotency``), one settled final bill
per visit (``uq_bills_settled_visit``), one reversal per bill (``uq_bills_init_setl_id``), one
inpatient stay at a time (``ex_bills_inpatient_stay``) and ``setl_id`` itself (``pk_bill_keys``,
which ``bill_funds``, ``grant_uses``, ``supervision_flags`` and a reversal's ``init_setl_id``
now reference). ``bills``' primary key is ``(setl_id, setl_date)``; plain indexes on
``(hospital_id, idempotency_key)`` and ``init_setl_id`` keep the lookups by them quick.

Triggers on ``bills`` keep ``bill_keys`` in step, in the statement that writes the bill:
- ``BEFORE INSERT`` claims the bill's keys (``INSERT … ON CONFLICT DO NOTHING``). A bill whose
  keys are taken is skipped — the ``INSERT`` reports no row, as the service's ``ON CONFLICT DO
  NOTHING`` expects of a duplicate; a reversal whose keys are taken raises
  ``unique_violation``, as a plain ``INSERT`` did. A row that finds its own key row (same
  ``setl_id`` and ``setl_date``) goes on, and ``bills``' primary key decides: this is a bill
  moved to another month's partition by an ``UPDATE`` of its date (below), or a true
  duplicate, which the primary key refuses.
- ``BEFORE UPDATE`` of a key column copies the new values to the key row first (a revoke's
  ``status``), so the constraints check the update as before. An ``UPDATE`` of ``setl_date``
  into another month moves the row (delete, then insert into the other partition): the key
  row already carries the new date, so the insert goes on.

Existing bills are copied: the old table is renamed, the partitioned one created with the same
columns and checks (``LIKE``), a partition made for every month from the earliest bill through
three months past the later of today and the latest bill, the rows and their keys copied, the
old table dropped, the indexes and constraints built on the copies. Run it in a maintenance
window: it locks ``bills`` for the copy. The downgrade copies back into one table.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30
"""

import os
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta, timezone

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MONTHS_AHEAD = 3
# The tables whose setl_id references a bill: (table, constraint name before, after).
REFERENCES = (
    ("bill_funds", "fk_bill_funds_setl_id_bills", "fk_bill_funds_setl_id_bill_keys"),
    ("grant_uses", "fk_grant_uses_setl_id_bills", "fk_grant_uses_setl_id_bill_keys"),
    (
        "supervision_flags",
        "fk_supervision_flags_setl_id_bills",
        "fk_supervision_flags_setl_id_bill_keys",
    ),
)
KEY_COLUMNS = (
    "setl_id",
    "setl_date",
    "hospital_id",
    "idempotency_key",
    "visit_id",
    "visit_type",
    "status",
    "interim",
    "id_number",
    "admitted_on",
    "discharged_on",
    "init_setl_id",
)
SETTLED_FINAL = "status = 'settled' AND NOT interim"
STAY = (
    "EXCLUDE USING gist (id_number WITH =, daterange(admitted_on, discharged_on) WITH &&,"
    " (hospital_id::text || ':' || visit_id) WITH <>)"
    " WHERE (visit_type = 'inpatient' AND status = 'settled')"
)
# Indexes of bills kept as they were (0001–0004), besides its primary key.
INDEXES = (
    "CREATE INDEX ix_bills_hospital_date ON bills (hospital_id, setl_date)",
    "CREATE INDEX ix_bills_hospital_time ON bills (hospital_id, setl_time)",
    "CREATE INDEX ix_bills_hospital_visit ON bills (hospital_id, visit_id)",
    "CREATE INDEX ix_bills_person_year ON bills (id_number, acc_year)",
    "CREATE INDEX ix_bills_status ON bills (status)",
    "CREATE INDEX ix_bills_status_date ON bills (status, setl_date) INCLUDE (setl_id, "
    "hospital_id, aid_class, medfee_sumamt, hifp_pay, hifmi_pay, maf_pay, oth_pay, "
    "fund_pay_sumamt, psn_cash_pay, refd_setl_flag)",
)
# The lookups the unique indexes served, as plain indexes of the partitioned table.
LOOKUPS = (
    "CREATE INDEX ix_bills_idempotency ON bills (hospital_id, idempotency_key)",
    "CREATE INDEX ix_bills_init_setl_id ON bills (init_setl_id)",
)
_COLUMNS = ", ".join(KEY_COLUMNS)
_NEW = ", ".join(f"NEW.{c}" for c in KEY_COLUMNS)
TRIGGERS = (
    f"""
CREATE FUNCTION bill_keys_claim() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO bill_keys ({_COLUMNS}) VALUES ({_NEW}) ON CONFLICT DO NOTHING;
    IF FOUND THEN
        RETURN NEW;
    END IF;
    PERFORM 1 FROM bill_keys WHERE setl_id = NEW.setl_id AND setl_date = NEW.setl_date;
    IF FOUND THEN
        RETURN NEW;  -- its own key row: moved by an UPDATE of setl_date, or a true duplicate
    END IF;
    IF NEW.refd_setl_flag = 0 THEN
        RETURN NULL;  -- a duplicate bill: skipped, as ON CONFLICT DO NOTHING
    END IF;
    RAISE unique_violation USING
        MESSAGE = format('the keys of reversal %s are taken', NEW.setl_id),
        TABLE = 'bill_keys';
END $$""",
    f"""
CREATE FUNCTION bill_keys_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE bill_keys SET ({_COLUMNS}) = ({_NEW}) WHERE setl_id = OLD.setl_id;
    RETURN NEW;
END $$""",
    "CREATE TRIGGER bill_keys_claim BEFORE INSERT ON bills "
    "FOR EACH ROW EXECUTE FUNCTION bill_keys_claim()",
    f"CREATE TRIGGER bill_keys_update BEFORE UPDATE OF {_COLUMNS} ON bills "
    "FOR EACH ROW EXECUTE FUNCTION bill_keys_update()",
)


def _today() -> date:
    hours = int(os.environ.get("SETTLEMENT_UTC_OFFSET_HOURS", "8"))
    return datetime.now(UTC).astimezone(timezone(timedelta(hours=hours))).date()


def _next_month(first: date) -> date:
    return date(first.year + first.month // 12, first.month % 12 + 1, 1)


def _months(earliest: date, latest: date) -> list[date]:
    """First days of the months from ``earliest``'s through ``latest``'s."""
    month, out = earliest.replace(day=1), []
    while month <= latest:
        out.append(month)
        month = _next_month(month)
    return out


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    op.execute("LOCK TABLE bills IN ACCESS EXCLUSIVE MODE")
    for table, before, _ in REFERENCES:
        op.execute(f"ALTER TABLE {table} DROP CONSTRAINT {before}")
    op.execute("ALTER TABLE bills DROP CONSTRAINT fk_bills_init_setl_id_bills")
    op.execute("ALTER TABLE bills RENAME TO bills_unpartitioned")
    op.execute(
        "CREATE TABLE bills (LIKE bills_unpartitioned INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"
        " PARTITION BY RANGE (setl_date)"
    )
    earliest, latest = bind.execute(
        sa.text("SELECT min(setl_date), max(setl_date) FROM bills_unpartitioned")
    ).one()
    today = _today()
    last = max(today, latest or today)
    for _ in range(MONTHS_AHEAD):
        last = _next_month(last.replace(day=1))
    for first in _months(min(today, earliest or today), last):
        op.execute(
            f"CREATE TABLE bills_{first:%Y_%m} PARTITION OF bills "
            f"FOR VALUES FROM ('{first}') TO ('{_next_month(first)}')"
        )
    op.execute("CREATE TABLE bills_default PARTITION OF bills DEFAULT")
    op.execute(
        "CREATE TABLE bill_keys (setl_id VARCHAR(40) NOT NULL, setl_date DATE NOT NULL, "
        "hospital_id INTEGER NOT NULL, idempotency_key VARCHAR(128) NOT NULL, "
        "visit_id VARCHAR(64) NOT NULL, visit_type VARCHAR(16) NOT NULL, "
        "status VARCHAR(16) NOT NULL, interim BOOLEAN NOT NULL, id_number VARCHAR(18) NOT NULL, "
        "admitted_on DATE NOT NULL, discharged_on DATE NOT NULL, init_setl_id VARCHAR(40))"
    )
    op.execute("INSERT INTO bills SELECT * FROM bills_unpartitioned")
    op.execute(f"INSERT INTO bill_keys ({_COLUMNS}) SELECT {_COLUMNS} FROM bills_unpartitioned")
    op.execute("DROP TABLE bills_unpartitioned")
    op.execute("ALTER TABLE bills ADD CONSTRAINT pk_bills PRIMARY KEY (setl_id, setl_date)")
    op.execute(
        "ALTER TABLE bills ADD CONSTRAINT fk_bills_hospital_id_hospitals "
        "FOREIGN KEY (hospital_id) REFERENCES hospitals (id)"
    )
    for statement in (*INDEXES, *LOOKUPS):
        op.execute(statement)
    op.execute("ALTER TABLE bill_keys ADD CONSTRAINT pk_bill_keys PRIMARY KEY (setl_id)")
    op.execute(
        "ALTER TABLE bill_keys ADD CONSTRAINT uq_bills_idempotency "
        "UNIQUE (hospital_id, idempotency_key)"
    )
    op.execute(
        "CREATE UNIQUE INDEX uq_bills_settled_visit ON bill_keys (hospital_id, visit_id) "
        f"WHERE {SETTLED_FINAL}"
    )
    op.execute("CREATE UNIQUE INDEX uq_bills_init_setl_id ON bill_keys (init_setl_id)")
    op.execute(f"ALTER TABLE bill_keys ADD CONSTRAINT ex_bills_inpatient_stay {STAY}")
    op.execute(
        "ALTER TABLE bill_keys ADD CONSTRAINT fk_bill_keys_init_setl_id_bill_keys "
        "FOREIGN KEY (init_setl_id) REFERENCES bill_keys (setl_id)"
    )
    for table, _, after in REFERENCES:
        op.execute(
            f"ALTER TABLE {table} ADD CONSTRAINT {after} "
            "FOREIGN KEY (setl_id) REFERENCES bill_keys (setl_id)"
        )
    for statement in TRIGGERS:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("LOCK TABLE bills IN ACCESS EXCLUSIVE MODE")
    for table, _, after in REFERENCES:
        op.execute(f"ALTER TABLE {table} DROP CONSTRAINT {after}")
    op.execute("ALTER TABLE bills RENAME TO bills_partitioned")
    op.execute(
        "CREATE TABLE bills (LIKE bills_partitioned INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"
    )
    op.execute("INSERT INTO bills SELECT * FROM bills_partitioned")
    op.execute("DROP TABLE bills_partitioned")  # its partitions and triggers with it
    op.execute("DROP TABLE bill_keys")
    op.execute("DROP FUNCTION bill_keys_claim()")
    op.execute("DROP FUNCTION bill_keys_update()")
    op.execute("ALTER TABLE bills ADD CONSTRAINT pk_bills PRIMARY KEY (setl_id)")
    op.execute(
        "ALTER TABLE bills ADD CONSTRAINT fk_bills_hospital_id_hospitals "
        "FOREIGN KEY (hospital_id) REFERENCES hospitals (id)"
    )
    for statement in INDEXES:
        op.execute(statement)
    op.execute(
        "ALTER TABLE bills ADD CONSTRAINT uq_bills_idempotency "
        "UNIQUE (hospital_id, idempotency_key)"
    )
    op.execute(
        "CREATE UNIQUE INDEX uq_bills_settled_visit ON bills (hospital_id, visit_id) "
        f"WHERE {SETTLED_FINAL}"
    )
    op.execute("CREATE UNIQUE INDEX uq_bills_init_setl_id ON bills (init_setl_id)")
    op.execute(f"ALTER TABLE bills ADD CONSTRAINT ex_bills_inpatient_stay {STAY}")
    op.execute(
        "ALTER TABLE bills ADD CONSTRAINT fk_bills_init_setl_id_bills "
        "FOREIGN KEY (init_setl_id) REFERENCES bills (setl_id)"
    )
    for table, before, _ in REFERENCES:
        op.execute(
            f"ALTER TABLE {table} ADD CONSTRAINT {before} "
            "FOREIGN KEY (setl_id) REFERENCES bills (setl_id)"
        )
