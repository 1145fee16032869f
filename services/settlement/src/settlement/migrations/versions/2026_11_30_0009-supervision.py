"""Fund supervision and the hash-chained audit log.

``audit_log`` gains ``chain``, ``seq``, ``prev_hash`` and ``hash`` (see
``settlement/audit/chain.py``) and a unique index on ``(chain, seq)``. The records made
before this revision are sealed here, in the order they were made (by id): a settle's or
revoke's record goes to the chain of its bill's person, an admission's to its patient's, a
grant's to its person's, any other to ``system``. The append-only triggers are lifted for
that one update and put back. Two passes over the log, page by page, so memory stays flat:
the chains first, then each chain's numbers and hashes.

New tables: ``supervision_flags`` (rules that fired on bills and their review),
``supervision_stats`` (the outlier rules' medians), ``supervision_item_samples`` (fee lines
the medians are computed from) and ``supervision_state`` (the refresh's bookkeeping).

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30
"""

import hashlib
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

MONEY = sa.Numeric(14, 2).with_variant(sa.BigInteger(), "sqlite")
TIMESTAMP = sa.DateTime(timezone=True)
BIGID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
PAGE = 2000
GENESIS = "0" * 64

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SQLITE_TRIGGERS = tuple(
    f"""
    CREATE TRIGGER audit_log_no_{event.lower()} BEFORE {event} ON audit_log
    BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END
    """
    for event in ("UPDATE", "DELETE")
)


def upgrade() -> None:
    bind = op.get_bind()
    sqlite = bind.dialect.name == "sqlite"
    if sqlite:
        # ADD COLUMN … NOT NULL needs a default on SQLite; every row gets its value below.
        for name, kind in (
            ("chain", "VARCHAR(40)"),
            ("seq", "INTEGER"),
            ("prev_hash", "VARCHAR(64)"),
            ("hash", "VARCHAR(64)"),
        ):
            default = "0" if kind == "INTEGER" else "''"
            op.execute(f"ALTER TABLE audit_log ADD COLUMN {name} {kind} NOT NULL DEFAULT {default}")
        op.execute("DROP TRIGGER audit_log_no_update")
    else:
        op.add_column("audit_log", sa.Column("chain", sa.String(length=40), nullable=True))
        op.add_column("audit_log", sa.Column("seq", sa.BigInteger(), nullable=True))
        op.add_column("audit_log", sa.Column("prev_hash", sa.String(length=64), nullable=True))
        op.add_column("audit_log", sa.Column("hash", sa.String(length=64), nullable=True))
        op.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only")
    _seal_earlier_records()
    if sqlite:
        op.execute(_SQLITE_TRIGGERS[0])
    else:
        for name in ("chain", "seq", "prev_hash", "hash"):
            op.alter_column("audit_log", name, nullable=False)
        op.execute("ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only")
    op.create_index("uq_audit_log_chain_seq", "audit_log", ["chain", "seq"], unique=True)

    op.create_table(
        "supervision_flags",
        sa.Column("id", BIGID, autoincrement=True, nullable=False),
        sa.Column("setl_id", sa.String(length=40), nullable=False),
        sa.Column("hospital_id", sa.Integer(), nullable=False),
        sa.Column("setl_date", sa.Date(), nullable=False),
        sa.Column("rule", sa.String(length=32), nullable=False),
        sa.Column("title", sa.String(length=128), nullable=False),
        sa.Column("severity", sa.String(length=8), nullable=False),
        sa.Column("field", sa.String(length=64), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("reviewed_by", sa.String(length=64), nullable=True),
        sa.Column("reviewed_at", TIMESTAMP, nullable=True),
        sa.Column("review_note", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "status IN ('open', 'reviewed-ok', 'reviewed-recover')",
            name=op.f("ck_supervision_flags_status_values"),
        ),
        sa.CheckConstraint(
            "(status = 'open' AND reviewed_at IS NULL) OR "
            "(status <> 'open' AND reviewed_at IS NOT NULL AND reviewed_by IS NOT NULL)",
            name=op.f("ck_supervision_flags_review_complete"),
        ),
        sa.ForeignKeyConstraint(
            ["hospital_id"],
            ["hospitals.id"],
            name=op.f("fk_supervision_flags_hospital_id_hospitals"),
        ),
        sa.ForeignKeyConstraint(
            ["setl_id"], ["bills.setl_id"], name=op.f("fk_supervision_flags_setl_id_bills")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_supervision_flags")),
    )
    op.create_index("ix_supervision_flags_setl_id", "supervision_flags", ["setl_id"])
    op.create_index("ix_supervision_flags_date_rule", "supervision_flags", ["setl_date", "rule"])
    op.create_index(
        "ix_supervision_flags_hospital_date", "supervision_flags", ["hospital_id", "setl_date"]
    )
    op.create_index(
        "ix_supervision_flags_status_date", "supervision_flags", ["status", "setl_date"]
    )
    op.create_table(
        "supervision_stats",
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("hospital_level", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("median", MONEY, nullable=False),
        sa.Column("samples", sa.Integer(), nullable=False),
        sa.Column("refreshed_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("kind", "key", "hospital_level", name=op.f("pk_supervision_stats")),
    )
    op.create_table(
        "supervision_item_samples",
        sa.Column("setl_id", sa.String(length=40), nullable=False),
        sa.Column("line", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("hospital_level", sa.Integer(), nullable=False),
        sa.Column("setl_date", sa.Date(), nullable=False),
        sa.Column("amount", MONEY, nullable=False),
        sa.PrimaryKeyConstraint("setl_id", "line", name=op.f("pk_supervision_item_samples")),
    )
    op.create_index(
        "ix_supervision_item_samples_setl_date", "supervision_item_samples", ["setl_date"]
    )
    op.create_table(
        "supervision_state",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("refreshed_at", TIMESTAMP, nullable=True),
        sa.Column("watermark", sa.String(length=40), nullable=True),
        sa.Column("lease_until", TIMESTAMP, nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_supervision_state")),
    )


def downgrade() -> None:
    op.drop_table("supervision_state")
    op.drop_index("ix_supervision_item_samples_setl_date", table_name="supervision_item_samples")
    op.drop_table("supervision_item_samples")
    op.drop_table("supervision_stats")
    for name in (
        "ix_supervision_flags_status_date",
        "ix_supervision_flags_hospital_date",
        "ix_supervision_flags_date_rule",
        "ix_supervision_flags_setl_id",
    ):
        op.drop_index(name, table_name="supervision_flags")
    op.drop_table("supervision_flags")
    op.drop_index("uq_audit_log_chain_seq", table_name="audit_log")
    for name in ("hash", "prev_hash", "seq", "chain"):
        op.drop_column("audit_log", name)


# ----------------------------------------------------------------------------- the backfill
# The chain rules and the canonical form as ``settlement/audit/chain.py`` has them on
# 2026-12-01 (a migration keeps its own copy: later code may change, this history may not).


def _person_chain(id_number: str) -> str:
    digest = hashlib.sha256(b"medaid-audit-chain|" + id_number.upper().encode("ascii"))
    return "p:" + digest.hexdigest()[:32]


def _timestamp(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _hash(prev_hash: str, row: Any, chain: str, seq: int) -> str:
    body = json.dumps(
        {
            "action": row.action,
            "actor": row.actor,
            "at": _timestamp(row.at),
            "chain": chain,
            "detail": row.detail,
            "request_id": row.request_id,
            "seq": seq,
            "subject": row.subject,
        },
        ensure_ascii=False,
        sort_keys=True,
        separators=(",", ":"),
    ).encode("utf-8")
    return hashlib.sha256(prev_hash.encode("ascii") + b"\n" + body).hexdigest()


def _chains(bind: Any, meta: sa.MetaData, rows: Sequence[Any]) -> dict[int, str]:
    """The chain of each record of a page: the person it names, else ``system``."""
    bills = sa.Table("bills", meta, autoload_with=bind)
    admissions = sa.Table("admissions", meta, autoload_with=bind)
    grants = sa.Table("grants", meta, autoload_with=bind)
    hospitals = sa.Table("hospitals", meta, autoload_with=bind)
    setl_ids = {r.subject for r in rows if r.action in ("settle", "revoke")}
    people: dict[str, str] = {}
    if setl_ids:
        people = dict(
            bind.execute(
                sa.select(bills.c.setl_id, bills.c.id_number).where(
                    bills.c.setl_id.in_(sorted(setl_ids))
                )
            ).all()
        )
    grant_ids = {int(r.subject) for r in rows if r.action == "grant.create" and r.subject.isdigit()}
    by_grant: dict[int, str] = {}
    if grant_ids:
        by_grant = dict(
            bind.execute(
                sa.select(grants.c.id, grants.c.id_number).where(grants.c.id.in_(sorted(grant_ids)))
            ).all()
        )
    by_visit: dict[tuple[str, str], str] = {}
    visits = {r.subject for r in rows if r.action == "admission"}
    if visits:
        for code, visit_id, id_number in bind.execute(
            sa.select(hospitals.c.code, admissions.c.visit_id, admissions.c.id_number)
            .select_from(admissions.join(hospitals, hospitals.c.id == admissions.c.hospital_id))
            .where(admissions.c.visit_id.in_(sorted(visits)))
        ).all():
            by_visit[(f"hospital:{code}", visit_id)] = id_number
    out: dict[int, str] = {}
    for r in rows:
        person: str | None = None
        if r.action in ("settle", "revoke"):
            person = people.get(r.subject)
        elif r.action == "grant.create" and r.subject.isdigit():
            person = by_grant.get(int(r.subject))
        elif r.action == "admission":
            person = by_visit.get((r.actor, r.subject))
        out[r.id] = _person_chain(person) if person else "system"
    return out


def _seal_earlier_records() -> None:
    bind = op.get_bind()
    meta = sa.MetaData()
    log = sa.Table("audit_log", meta, autoload_with=bind)
    columns = (log.c.id, log.c.at, log.c.actor, log.c.action, log.c.subject, log.c.request_id)
    # Pass 1: the chain of every record.
    last_id = 0
    while True:
        rows = bind.execute(
            sa.select(*columns).where(log.c.id > last_id).order_by(log.c.id).limit(PAGE)
        ).all()
        if not rows:
            break
        chains = _chains(bind, meta, rows)
        bind.execute(
            sa.update(log).where(log.c.id == sa.bindparam("_id")).values(chain=sa.bindparam("c")),
            [{"_id": i, "c": c} for i, c in chains.items()],
        )
        last_id = rows[-1].id
    # Pass 2: each chain's numbers and hashes, in the order its records were made.
    chain, seq, prev = "", 0, GENESIS
    after_chain, after_id = "", 0
    while True:
        rows = bind.execute(
            sa.select(*columns, log.c.detail, log.c.chain)
            .where(
                sa.or_(
                    log.c.chain > after_chain,
                    sa.and_(log.c.chain == after_chain, log.c.id > after_id),
                )
            )
            .order_by(log.c.chain, log.c.id)
            .limit(PAGE)
        ).all()
        if not rows:
            break
        updates = []
        for row in rows:
            if row.chain != chain:
                chain, seq, prev = row.chain, 0, GENESIS
            seq += 1
            digest = _hash(prev, row, chain, seq)
            updates.append({"_id": row.id, "s": seq, "p": prev, "h": digest})
            prev = digest
        bind.execute(
            sa.update(log)
            .where(log.c.id == sa.bindparam("_id"))
            .values(seq=sa.bindparam("s"), prev_hash=sa.bindparam("p"), hash=sa.bindparam("h")),
            updates,
        )
        after_chain, after_id = rows[-1].chain, rows[-1].id
