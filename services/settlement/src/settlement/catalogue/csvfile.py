"""Reading the catalogue and mapping CSV files: the header, then one entry (or mapping) per
row. Pure: bytes in, validated rows and every problem out (``row`` = the line number in the
file, the header being line 1). The database checks happen in ``service``.

Catalogue file (医保目录), UTF-8 with or without a byte-order mark, header exactly
``med_list_codg,med_list_name,chrgitm_lv,selfpay_prop,pric_uplmt_amt,begndate,enddate``:

- ``med_list_codg`` — the national code (医疗目录编码): 1 to 50 letters, digits, ``.``, ``_``
  or ``-``, starting with a letter or digit;
- ``med_list_name`` — its name, 1 to 200 characters;
- ``chrgitm_lv`` — the charge level (收费项目等级): ``01`` 甲类, ``02`` 乙类, ``03`` 丙类
  (``1``, ``2``, ``3`` are read the same: spreadsheets drop the leading zero);
- ``selfpay_prop`` — the self-pay ratio of a 乙类 item (自付比例), 0 to 1 with at most four
  decimals; empty: the policy's ``b_self_pay_ratio``. A 甲类 entry may only give 0 and a 丙类
  entry only 1 (or leave it empty);
- ``pric_uplmt_amt`` — the price cap (最高限价) in yuan, more than 0, at most two decimals;
  empty: no cap;
- ``begndate``, ``enddate`` — the range the entry holds for, ``YYYY-MM-DD``, both included;
  an empty ``enddate`` is open.

Mapping file (目录对照): header exactly ``medins_list_codg,med_list_codg``; the hospital's
own code (1 to 64 characters, as a fee line's ``code``) and the national code it stands for.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Generic, NamedTuple, TypeVar

from settlement.catalogue.models import CODE_LENGTH, MEDINS_CODE_LENGTH, NAME_LENGTH
from shared.csvfiles import RowError as RowError  # re-exported: the imports' problems

CATALOGUE_HEADER = (
    "med_list_codg",
    "med_list_name",
    "chrgitm_lv",
    "selfpay_prop",
    "pric_uplmt_amt",
    "begndate",
    "enddate",
)
MAPPING_HEADER = ("medins_list_codg", "med_list_codg")

LEVELS = {"01": "01", "02": "02", "03": "03", "1": "01", "2": "02", "3": "03"}
"""``chrgitm_lv`` as written → as stored."""
MAX_PRICE_CAP = Decimal("10000000")
"""The largest price cap (the largest unit price a fee line may have)."""
FIRST_DATE = date(1990, 1, 1)
LAST_DATE = date(2099, 12, 31)

CODE_PATTERN = rf"^[A-Za-z0-9][A-Za-z0-9._-]{{0,{CODE_LENGTH - 1}}}$"
_CODE = re.compile(CODE_PATTERN)
_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
_RATIO = re.compile(r"^(?:0|1)(?:\.[0-9]{1,4})?$|^\.[0-9]{1,4}$")
_MONEY = re.compile(r"^[0-9]{1,12}(?:\.[0-9]{1,2})?$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class EntryRow(NamedTuple):
    """One version of a national code: a valid file row (``line``) or a stored entry
    (``id``). ``chrgitm_lv`` as stored: ``01``, ``02`` or ``03``."""

    med_list_codg: str
    med_list_name: str
    chrgitm_lv: str
    selfpay_prop: Decimal | None
    pric_uplmt_amt: Decimal | None
    begndate: date
    enddate: date | None
    id: int | None = None
    line: int | None = None


@dataclass(frozen=True, slots=True)
class MappingRow:
    line: int
    medins_list_codg: str
    med_list_codg: str


T = TypeVar("T")


@dataclass
class Parsed(Generic[T]):
    rows: list[T]
    errors: list[RowError]


def _decode(data: bytes) -> tuple[str | None, RowError | None]:
    try:
        return data.decode("utf-8-sig"), None
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        return None, RowError(line, None, "is not valid UTF-8 text")


def _header_errors(header: list[str], expected: tuple[str, ...]) -> list[RowError]:
    names = [name.strip() for name in header]
    if tuple(names) == expected:
        return []
    line = ",".join(expected)
    for position, name in enumerate(expected):
        found = names[position] if position < len(names) else None
        if found != name:
            shown = "nothing" if found is None else repr(found[:40])
            return [
                RowError(
                    1,
                    name,
                    f"header column {position + 1} must be {name!r}, found {shown}; "
                    f"the header must be exactly: {line}",
                )
            ]
    extra = names[len(expected)]
    return [
        RowError(
            1,
            extra[:40] or None,
            f"unexpected header column {len(expected) + 1}; the header must be exactly: {line}",
        )
    ]


def _records(
    data: bytes, expected: tuple[str, ...]
) -> tuple[list[tuple[int, list[str]]], list[RowError]]:
    """The data records with their line numbers, or the problems of the header and CSV."""
    text, problem = _decode(data)
    if text is None:
        assert problem is not None
        return [], [problem]
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    records: list[tuple[int, list[str]]] = []
    errors: list[RowError] = []
    try:
        header = next(reader, None)
        if header is None or not any(cell.strip() for cell in header):
            wanted = ",".join(expected)
            return [], [RowError(1, None, f"the file is empty; expected the header {wanted}")]
        errors.extend(_header_errors(header, expected))
        if errors:
            return [], errors
        previous = reader.line_num
        for record in reader:
            line = previous + 1
            previous = reader.line_num
            if not record or (not record[0].strip() and not "".join(record).strip()):
                continue  # blank line, or a spreadsheet's row of empty cells
            if len(record) != len(expected):
                errors.append(
                    RowError(
                        line, None, f"has {len(record)} fields; every row needs {len(expected)}"
                    )
                )
                continue
            records.append((line, record))
    except csv.Error as exc:
        errors.append(RowError(reader.line_num or 1, None, f"is not valid CSV: {exc}"))
    return records, errors


def _code(line: int, column: str, value: str, errors: list[RowError]) -> str:
    if not value:
        errors.append(RowError(line, column, "is required"))
    elif not _CODE.match(value):
        errors.append(
            RowError(
                line,
                column,
                f"must be 1 to {CODE_LENGTH} letters, digits, '.', '_' or '-', starting with a "
                "letter or digit",
            )
        )
    return value


class _Dates:
    """Date cells of a file (they repeat a lot: each distinct text is parsed once)."""

    def __init__(self) -> None:
        self.known: dict[str, date] = {}

    def parse(self, line: int, column: str, value: str, errors: list[RowError]) -> date | None:
        known = self.known.get(value)
        if known is not None:
            return known
        parsed: date | None = None
        if _DATE.match(value):
            try:
                parsed = date.fromisoformat(value)
            except ValueError:
                parsed = None
        if parsed is None:
            errors.append(
                RowError(line, column, f"must be a date written YYYY-MM-DD, not {value[:20]!r}")
            )
            return None
        if not FIRST_DATE <= parsed <= LAST_DATE:
            errors.append(RowError(line, column, f"must be between {FIRST_DATE} and {LAST_DATE}"))
            return None
        self.known[value] = parsed
        return parsed


def _ratio(line: int, value: str, errors: list[RowError]) -> Decimal | None:
    if not value:
        return None
    if not _RATIO.match(value):
        errors.append(
            RowError(line, "selfpay_prop", "must be a ratio from 0 to 1 with at most four decimals")
        )
        return None
    ratio = Decimal(value)
    if ratio > 1:
        errors.append(RowError(line, "selfpay_prop", "must be a ratio from 0 to 1"))
        return None
    return ratio


def _cap(line: int, value: str, errors: list[RowError]) -> Decimal | None:
    if not value:
        return None
    try:
        cap = Decimal(value) if _MONEY.match(value) else None
    except InvalidOperation:  # pragma: no cover - the pattern admits only decimals
        cap = None
    if cap is None:
        errors.append(
            RowError(line, "pric_uplmt_amt", "must be an amount in yuan with at most two decimals")
        )
        return None
    if cap <= 0:
        errors.append(
            RowError(line, "pric_uplmt_amt", "must be more than 0 (leave it empty for no cap)")
        )
        return None
    if cap > MAX_PRICE_CAP:
        errors.append(RowError(line, "pric_uplmt_amt", f"must not exceed {MAX_PRICE_CAP}"))
        return None
    return cap


def parse_catalogue(data: bytes) -> Parsed[EntryRow]:
    """Every row checked on its own, and across rows that a code does not list the same
    ``begndate`` twice. Ranges that overlap are checked against the stored catalogue too
    (:mod:`settlement.catalogue.ranges`). A national catalogue repeats its dates, ratios and
    caps on many rows: each distinct text is parsed once."""
    records, errors = _records(data, CATALOGUE_HEADER)
    rows: list[EntryRow] = []
    dates = _Dates()
    known_dates = dates.known
    ratios: dict[str, Decimal] = {}
    caps: dict[str, Decimal] = {}
    seen: dict[tuple[str, date], int] = {}
    code_ok = _CODE.match
    control = _CONTROL.search
    for line, record in records:
        code, name, level, prop, cap, begin, end = [cell.strip() for cell in record]
        before = len(errors)
        if not code_ok(code):
            _code(line, "med_list_codg", code, errors)
        if not name:
            errors.append(RowError(line, "med_list_name", "is required"))
        elif len(name) > NAME_LENGTH:
            errors.append(
                RowError(line, "med_list_name", f"must be at most {NAME_LENGTH} characters")
            )
        elif control(name):
            errors.append(RowError(line, "med_list_name", "must not contain control characters"))
        chrgitm_lv = LEVELS.get(level)
        if chrgitm_lv is None:
            shown = repr(level[:10]) if level else "empty"
            errors.append(
                RowError(
                    line, "chrgitm_lv", f"must be 01 (甲类), 02 (乙类) or 03 (丙类), not {shown}"
                )
            )
        ratio = None
        if prop:
            ratio = ratios.get(prop)
            if ratio is None and (ratio := _ratio(line, prop, errors)) is not None:
                ratios[prop] = ratio
            if ratio is not None and chrgitm_lv == "01" and ratio != 0:
                errors.append(
                    RowError(line, "selfpay_prop", "a 甲类 (01) entry has no self-pay: 0 or empty")
                )
            elif ratio is not None and chrgitm_lv == "03" and ratio != 1:
                errors.append(
                    RowError(
                        line, "selfpay_prop", "a 丙类 (03) entry is fully self-paid: 1 or empty"
                    )
                )
        price_cap = None
        if cap:
            price_cap = caps.get(cap)
            if price_cap is None and (price_cap := _cap(line, cap, errors)) is not None:
                caps[cap] = price_cap
        begndate = known_dates.get(begin)
        if begndate is None:
            if begin:
                begndate = dates.parse(line, "begndate", begin, errors)
            else:
                errors.append(RowError(line, "begndate", "is required"))
        enddate = None
        if end:
            enddate = known_dates.get(end) or dates.parse(line, "enddate", end, errors)
            if begndate and enddate and enddate < begndate:
                errors.append(RowError(line, "enddate", "is before begndate"))
        if begndate:
            first = seen.setdefault((code, begndate), line)
            if first != line:
                errors.append(
                    RowError(
                        line,
                        "begndate",
                        f"med_list_codg {code} is listed with begndate {begndate} on line "
                        f"{first} too",
                    )
                )
        if len(errors) != before or begndate is None or chrgitm_lv is None:
            continue
        rows.append(
            EntryRow(code, name, chrgitm_lv, ratio, price_cap, begndate, enddate, None, line)
        )
    return Parsed(rows, errors)


def parse_mapping(data: bytes) -> Parsed[MappingRow]:
    """Every row checked on its own, and that a hospital code is listed once. Whether each
    national code is in the catalogue is checked by the service."""
    records, errors = _records(data, MAPPING_HEADER)
    rows: list[MappingRow] = []
    seen: dict[str, int] = {}
    for line, record in records:
        own, national = (cell.strip() for cell in record)
        before = len(errors)
        if not own:
            errors.append(RowError(line, "medins_list_codg", "is required"))
        elif len(own) > MEDINS_CODE_LENGTH:
            errors.append(
                RowError(
                    line, "medins_list_codg", f"must be at most {MEDINS_CODE_LENGTH} characters"
                )
            )
        elif _CONTROL.search(own):
            errors.append(RowError(line, "medins_list_codg", "must not contain control characters"))
        else:
            first = seen.setdefault(own, line)
            if first != line:
                errors.append(RowError(line, "medins_list_codg", f"is listed on line {first} too"))
        _code(line, "med_list_codg", national, errors)
        if len(errors) == before:
            rows.append(MappingRow(line, own, national))
    return Parsed(rows, errors)
