"""The catalogue's tables: entries over date ranges, hospitals' code mappings, the imports
that wrote them, and the version counters the per-process caches watch."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Table,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

from settlement.database import MoneyType, UtcDateTime, metadata

CODE_LENGTH = 50
"""Length of a national code (``med_list_codg``, 医疗目录编码), as in the national interface."""
NAME_LENGTH = 200
MEDINS_CODE_LENGTH = 64
"""Length of a hospital's own code (``medins_list_codg``): a fee line's ``code``."""
RATIO_STEP = Decimal("0.0001")


class RatioType(TypeDecorator[Decimal]):
    """A ratio between 0 and 1 with at most four decimals: ``NUMERIC(5, 4)`` on PostgreSQL; on
    SQLite (no exact decimal type) an integer number of ten-thousandths."""

    impl = Numeric(5, 4)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(Integer())
        return dialect.type_descriptor(Numeric(5, 4, asdecimal=True))

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        value = Decimal(value).quantize(RATIO_STEP)
        return int(value * 10000) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        if dialect.name == "sqlite":
            return (Decimal(int(value)) / 10000).quantize(RATIO_STEP)
        return Decimal(value).quantize(RATIO_STEP)


CatalogueImport = Table(
    "catalogue_imports",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(16), nullable=False),  # "catalogue" | "mapping"
    Column("hospital_id", Integer, ForeignKey("hospitals.id")),  # a mapping's hospital
    Column("actor", String(64), nullable=False),
    Column("imported_at", UtcDateTime(), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("rows", Integer, nullable=False),
    Column("added", Integer, nullable=False),
    Column("replaced", Integer, nullable=False),
    Column("closed", Integer, nullable=False),
    Column("unchanged", Integer, nullable=False),
    CheckConstraint("kind IN ('catalogue', 'mapping')", name="kind_values"),
)
"""One import that changed something (a file that changes nothing leaves no record)."""

CatalogueEntry = Table(
    "catalogue_entries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("med_list_codg", String(CODE_LENGTH), nullable=False),
    Column("med_list_name", String(NAME_LENGTH), nullable=False),
    Column("chrgitm_lv", String(2), nullable=False),
    Column("selfpay_prop", RatioType()),
    Column("pric_uplmt_amt", MoneyType()),
    Column("begndate", Date, nullable=False),
    Column("enddate", Date),
    Column("import_id", Integer, ForeignKey("catalogue_imports.id"), nullable=False),
    UniqueConstraint("med_list_codg", "begndate", name="uq_catalogue_entries_code_begndate"),
    CheckConstraint("chrgitm_lv IN ('01', '02', '03')", name="chrgitm_lv_values"),
    CheckConstraint("enddate IS NULL OR enddate >= begndate", name="date_range"),
)
"""One version of a national code (医保目录): valid from ``begndate`` to ``enddate``
(included; NULL: open). A code's versions never overlap; an import that brings a new version
closes the one before it (``enddate`` = the day before the new ``begndate``)."""

CatalogueMapping = Table(
    "catalogue_mappings",
    metadata,
    Column("hospital_id", Integer, ForeignKey("hospitals.id"), primary_key=True),
    Column("medins_list_codg", String(MEDINS_CODE_LENGTH), primary_key=True),
    Column("med_list_codg", String(CODE_LENGTH), nullable=False),
    Column("import_id", Integer, ForeignKey("catalogue_imports.id"), nullable=False),
    Index("ix_catalogue_mappings_med_list_codg", "med_list_codg"),
)
"""A hospital's own code and the national code it stands for (目录对照)."""

CatalogueVersion = Table(
    "catalogue_versions",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("updated_at", UtcDateTime()),
)
"""Counters the per-process caches watch, by ``name``: ``catalogue`` (moved by every catalogue
import that changes an entry; its row also serialises the imports) and ``hospital:<id>``
(moved by every mapping import of that hospital that changes a row)."""
