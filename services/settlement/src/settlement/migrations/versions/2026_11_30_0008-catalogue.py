"""The insurer's catalogue (医保目录): entries over date ranges, hospitals' code mappings
(目录对照), their imports and the version counters the per-process caches watch.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

MONEY = sa.Numeric(14, 2).with_variant(sa.BigInteger(), "sqlite")
RATIO = sa.Numeric(5, 4).with_variant(sa.Integer(), "sqlite")
TIMESTAMP = sa.DateTime(timezone=True)

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "catalogue_imports",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("hospital_id", sa.Integer(), nullable=True),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("imported_at", TIMESTAMP, nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("added", sa.Integer(), nullable=False),
        sa.Column("replaced", sa.Integer(), nullable=False),
        sa.Column("closed", sa.Integer(), nullable=False),
        sa.Column("unchanged", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "kind IN ('catalogue', 'mapping')", name=op.f("ck_catalogue_imports_kind_values")
        ),
        sa.ForeignKeyConstraint(
            ["hospital_id"],
            ["hospitals.id"],
            name=op.f("fk_catalogue_imports_hospital_id_hospitals"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalogue_imports")),
    )
    op.create_table(
        "catalogue_entries",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("med_list_codg", sa.String(length=50), nullable=False),
        sa.Column("med_list_name", sa.String(length=200), nullable=False),
        sa.Column("chrgitm_lv", sa.String(length=2), nullable=False),
        sa.Column("selfpay_prop", RATIO, nullable=True),
        sa.Column("pric_uplmt_amt", MONEY, nullable=True),
        sa.Column("begndate", sa.Date(), nullable=False),
        sa.Column("enddate", sa.Date(), nullable=True),
        sa.Column("import_id", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "chrgitm_lv IN ('01', '02', '03')",
            name=op.f("ck_catalogue_entries_chrgitm_lv_values"),
        ),
        sa.CheckConstraint(
            "enddate IS NULL OR enddate >= begndate", name=op.f("ck_catalogue_entries_date_range")
        ),
        sa.ForeignKeyConstraint(
            ["import_id"],
            ["catalogue_imports.id"],
            name=op.f("fk_catalogue_entries_import_id_catalogue_imports"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalogue_entries")),
        sa.UniqueConstraint("med_list_codg", "begndate", name="uq_catalogue_entries_code_begndate"),
    )
    op.create_table(
        "catalogue_mappings",
        sa.Column("hospital_id", sa.Integer(), nullable=False),
        sa.Column("medins_list_codg", sa.String(length=64), nullable=False),
        sa.Column("med_list_codg", sa.String(length=50), nullable=False),
        sa.Column("import_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["hospital_id"],
            ["hospitals.id"],
            name=op.f("fk_catalogue_mappings_hospital_id_hospitals"),
        ),
        sa.ForeignKeyConstraint(
            ["import_id"],
            ["catalogue_imports.id"],
            name=op.f("fk_catalogue_mappings_import_id_catalogue_imports"),
        ),
        sa.PrimaryKeyConstraint(
            "hospital_id", "medins_list_codg", name=op.f("pk_catalogue_mappings")
        ),
    )
    op.create_index(
        "ix_catalogue_mappings_med_list_codg",
        "catalogue_mappings",
        ["med_list_codg"],
        unique=False,
    )
    versions = op.create_table(
        "catalogue_versions",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_catalogue_versions")),
    )
    # The row every catalogue or mapping import locks first, and the catalogue's counter.
    op.bulk_insert(versions, [{"name": "catalogue", "version": 0, "updated_at": None}])


def downgrade() -> None:
    op.drop_table("catalogue_versions")
    op.drop_index("ix_catalogue_mappings_med_list_codg", table_name="catalogue_mappings")
    op.drop_table("catalogue_mappings")
    op.drop_table("catalogue_entries")
    op.drop_table("catalogue_imports")
