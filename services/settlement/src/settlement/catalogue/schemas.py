"""What the catalogue endpoints answer."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, Field, PlainSerializer

from shared.money import Money


def ratio_str(value: Decimal) -> str:
    """A ratio as written, without trailing zeros (``0.1000`` → ``"0.1"``, ``1`` → ``"1"``)."""
    return f"{value.normalize():f}"


RatioOut = Annotated[Decimal, PlainSerializer(ratio_str, return_type=str, when_used="json")]


class CatalogueImportResult(BaseModel):
    """What a catalogue file did (or, with ``dry_run``, would do). Counts are of versions
    (entries): ``added`` new ones, ``replaced`` stored ones the file gave other values,
    ``closed`` stored ones ended earlier because a new version begins, ``unchanged``."""

    dry_run: bool = Field(description="True: the file was only checked; nothing was written")
    changed: bool = Field(description="True when this request wrote anything")
    import_id: int | None = Field(description="The import's record, when something was written")
    rows: int = Field(description="Data rows in the file (blank lines not counted)")
    codes: int = Field(description="Distinct national codes in the file")
    added: int
    replaced: int
    closed: int
    unchanged: int
    version: int = Field(description="The catalogue's version after the request")


class MappingImportResult(BaseModel):
    """What a mapping file did (or would do) to a hospital's mapping: ``added`` own codes
    mapped for the first time, ``replaced`` ones now mapped to another national code,
    ``unchanged``."""

    dry_run: bool
    changed: bool
    import_id: int | None
    hospital_code: str
    rows: int
    added: int
    replaced: int
    unchanged: int


class MappingOut(BaseModel):
    medins_list_codg: str = Field(description="The hospital's own code (a fee line's `code`)")
    med_list_codg: str = Field(description="The national code it stands for")


class MappingPage(BaseModel):
    """A page of a hospital's mapping by own code; pass ``next_after`` as ``after``."""

    hospital_code: str
    total: int = Field(description="Rows in the hospital's whole mapping")
    items: list[MappingOut]
    next_after: str | None


class LastImport(BaseModel):
    import_id: int
    imported_at: datetime
    actor: str
    rows: int
    added: int
    replaced: int
    closed: int
    unchanged: int


class CatalogueStatus(BaseModel):
    """Whether a catalogue is loaded (then it, not the hospital, classifies every line), its
    version and size, and the last catalogue import that changed it."""

    loaded: bool
    version: int
    entries: int = Field(description="Versions stored, over every code")
    codes: int = Field(description="Distinct national codes")
    last_import: LastImport | None


class EntryVersion(BaseModel):
    """One version of a national code: ``chrgitm_lv`` 01 甲类 / 02 乙类 / 03 丙类,
    ``selfpay_prop`` (null: the policy's ratio for 乙类), ``pric_uplmt_amt`` (null: no cap),
    valid ``begndate`` to ``enddate`` (both included; null: open)."""

    med_list_name: str
    chrgitm_lv: str
    selfpay_prop: RatioOut | None
    pric_uplmt_amt: Money | None
    begndate: date
    enddate: date | None


class EntryVersions(BaseModel):
    med_list_codg: str
    versions: list[EntryVersion]
