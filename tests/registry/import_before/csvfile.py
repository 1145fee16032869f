"""Reading the poverty office's CSV file: the header, then one person (and status) per row.

Pure: bytes in, validated rows and every problem out (``row`` = line number in the file, the
header being line 1). No database access here; the registry checks happen in ``service``.
"""

from __future__ import annotations

import csv
import io
import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from sys import intern
from typing import Any, Literal

from registry.categories import CATEGORIES, HOUSEHOLD_CATEGORIES
from registry.fields import (
    HOUSEHOLD_CODE_PATTERN,
    NAME_MAX,
    REGION_CODE_PATTERN,
    RELATION_MAX,
    parse_iso_date,
)
from shared.idnumber import validate_id_number

HEADER = (
    "household_code",
    "region_code",
    "id_number",
    "name",
    "relation",
    "category",
    "effective_from",
    "effective_to",
)
HEADER_LINE = ",".join(HEADER)

_HOUSEHOLD_CODE = re.compile(HOUSEHOLD_CODE_PATTERN)
_REGION_CODE = re.compile(REGION_CODE_PATTERN)
_CATEGORY_SET = frozenset(CATEGORIES)
_CATEGORY_LIST = ", ".join(CATEGORIES)


@dataclass(frozen=True, slots=True)
class RowError:
    """One problem in the file. ``column`` is None when it concerns the whole row."""

    row: int
    column: str | None
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "row": self.row,
            "column": self.column,
            "field": f"row {self.row}" + (f".{self.column}" if self.column else ""),
            "message": self.message,
        }


@dataclass(frozen=True, slots=True)
class ImportRow:
    line: int
    household_code: str
    region_code: str
    id_number: str
    name: str
    relation: str
    category: str | None
    effective_from: date | None
    effective_to: date | None


@dataclass
class ParsedFile:
    rows: list[ImportRow]
    errors: list[RowError]


def _decode_error(data: bytes) -> RowError:
    """The line of the first byte that is not UTF-8 (the file is known to have one)."""
    try:
        data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return RowError(data.count(b"\n", 0, exc.start) + 1, None, "is not valid UTF-8 text")
    raise AssertionError("the file decodes")  # pragma: no cover


def _header_errors(header: list[str]) -> list[RowError]:
    names = [name.strip() for name in header]
    if tuple(names) == HEADER:
        return []
    for position, expected in enumerate(HEADER):
        found = names[position] if position < len(names) else None
        if found != expected:
            shown = "nothing" if found is None else repr(found[:40])
            return [
                RowError(
                    1,
                    expected,
                    f"header column {position + 1} must be {expected!r}, found {shown}; "
                    f"the header must be exactly: {HEADER_LINE}",
                )
            ]
    extra = names[len(HEADER)]
    return [
        RowError(
            1,
            extra[:40] or None,
            f"unexpected header column {len(HEADER) + 1}; the header must be exactly: "
            f"{HEADER_LINE}",
        )
    ]


def parse_csv(data: bytes) -> ParsedFile:
    """Every row validated on its own (formats, dates, categories, ID numbers) and, across rows,
    that a household has one region and a person one household, name and relation.

    The text is decoded as it is read (never a second copy of the whole file), and the short
    values that repeat from row to row (codes, names, relations, categories) are shared, so
    the rows of a large file cost little more than their ID numbers."""
    reader = csv.reader(
        io.TextIOWrapper(io.BytesIO(data), encoding="utf-8-sig", newline=""), strict=True
    )
    rows: list[ImportRow] = []
    errors: list[RowError] = []
    try:
        header = next(reader, None)
        if header is None or not any(cell.strip() for cell in header):
            return ParsedFile([], [RowError(1, None, f"the file is empty; expected {HEADER_LINE}")])
        errors.extend(_header_errors(header))
        if errors:
            return ParsedFile([], errors)
        previous = reader.line_num
        for record in reader:
            line = previous + 1
            previous = reader.line_num
            if not any(cell.strip() for cell in record):
                continue  # blank line, or a spreadsheet's row of empty cells
            row = _parse_row(line, record, errors)
            if row is not None:
                rows.append(row)
    except UnicodeDecodeError:
        return ParsedFile([], [_decode_error(data)])
    except csv.Error as exc:
        errors.append(RowError(reader.line_num or 1, None, f"is not valid CSV: {exc}"))
    errors.extend(_cross_row_errors(rows))
    return ParsedFile(rows, errors)


def _parse_row(line: int, record: list[str], errors: list[RowError]) -> ImportRow | None:
    if len(record) != len(HEADER):
        errors.append(
            RowError(line, None, f"has {len(record)} fields; every row needs {len(HEADER)}")
        )
        return None
    household_code, region_code, id_number, name, relation, category, start, end = [
        cell.strip() for cell in record
    ]
    household_code, region_code, name, relation, category = (
        intern(household_code),
        intern(region_code),
        intern(name),
        intern(relation),
        intern(category),
    )
    before = len(errors)

    if not _HOUSEHOLD_CODE.match(household_code):
        errors.append(
            RowError(line, "household_code", "must be 1 to 40 letters, digits, '-' or '_'")
        )
    if not _REGION_CODE.match(region_code):
        errors.append(RowError(line, "region_code", "must be 6 to 12 digits"))
    try:
        id_number = validate_id_number(id_number)
    except ValueError as exc:
        errors.append(RowError(line, "id_number", str(exc) if id_number else "is required"))
    if not name:
        errors.append(RowError(line, "name", "is required"))
    elif len(name) > NAME_MAX:
        errors.append(RowError(line, "name", f"must be at most {NAME_MAX} characters"))
    if len(relation) > RELATION_MAX:
        errors.append(RowError(line, "relation", f"must be at most {RELATION_MAX} characters"))

    effective_from: date | None = None
    effective_to: date | None = None
    if category and category not in _CATEGORY_SET:
        errors.append(
            RowError(
                line,
                "category",
                f"unknown category {category[:40]!r}; expected one of {_CATEGORY_LIST} "
                "or empty (no status)",
            )
        )
    if category:
        if not start:
            errors.append(RowError(line, "effective_from", "is required when a category is given"))
        else:
            effective_from = _date(line, "effective_from", start, errors)
        if end:
            effective_to = _date(line, "effective_to", end, errors)
        if effective_from and effective_to and effective_to < effective_from:
            errors.append(RowError(line, "effective_to", "is before effective_from"))
    else:
        if start:
            errors.append(RowError(line, "effective_from", "must be empty when category is empty"))
        if end:
            errors.append(RowError(line, "effective_to", "must be empty when category is empty"))

    if len(errors) != before:
        return None
    return ImportRow(
        line=line,
        household_code=household_code,
        region_code=region_code,
        id_number=id_number,
        name=name,
        relation=relation,
        category=category or None,
        effective_from=effective_from,
        effective_to=effective_to,
    )


_DATES: dict[str, date] = {}


def _date(line: int, column: str, value: str, errors: list[RowError]) -> date | None:
    known = _DATES.get(value)
    if known is not None:
        return known
    try:
        parsed = parse_iso_date(value)
    except ValueError as exc:
        errors.append(RowError(line, column, str(exc)))
        return None
    if len(_DATES) < 100_000:  # a file's dates repeat a lot; the cache stays small
        _DATES[value] = parsed
    return parsed


SubjectKind = Literal["p", "h"]
PeriodKey = tuple[SubjectKind, str, str, date]  # (kind, id_number | household_code, category, from)


def period_key(row: ImportRow) -> PeriodKey | None:
    """Whose period a row records: a household-level category belongs to the household."""
    if row.category is None or row.effective_from is None:
        return None
    if row.category in HOUSEHOLD_CATEGORIES:
        return ("h", row.household_code, row.category, row.effective_from)
    return ("p", row.id_number, row.category, row.effective_from)


@dataclass(frozen=True, slots=True)
class Interval:
    start: date
    end: date | None  # inclusive; None = open
    line: int | None  # the file's line, or None for a period only in the registry


def span(start: date, end: date | None) -> str:
    return f"{start.isoformat()} to {end.isoformat() if end else 'open'}"


def overlaps(category: str, intervals: list[Interval]) -> list[RowError]:
    """Overlapping periods among ``intervals``, each reported on a line of the file."""
    errors: list[RowError] = []
    ordered = sorted(intervals, key=lambda i: (i.start, i.line or 0))
    latest: Interval | None = None  # the period reaching furthest so far
    for current in ordered:
        if latest is not None and (latest.end is None or latest.end >= current.start):
            blamed, other = (current, latest) if current.line is not None else (latest, current)
            where = f"on line {other.line}" if other.line is not None else "in the registry"
            if blamed.line is not None:
                errors.append(
                    RowError(
                        blamed.line,
                        "effective_from",
                        f"overlaps the {category} period {span(other.start, other.end)} {where}",
                    )
                )
        if latest is None or (
            latest.end is not None and (current.end is None or current.end > latest.end)
        ):
            latest = current
    return errors


def _cross_row_errors(rows: list[ImportRow]) -> list[RowError]:
    errors: list[RowError] = []
    regions: dict[str, ImportRow] = {}
    persons: dict[str, ImportRow] = {}
    periods: dict[PeriodKey, ImportRow] = {}
    for row in rows:
        key = period_key(row)
        if key is not None:
            seen_period = periods.setdefault(key, row)
            if seen_period is not row and seen_period.effective_to != row.effective_to:
                errors.append(
                    RowError(
                        row.line,
                        "effective_to",
                        f"differs from line {seen_period.line} for the same {key[2]} period "
                        f"starting {key[3].isoformat()}",
                    )
                )
        first = regions.setdefault(row.household_code, row)
        if first.region_code != row.region_code:
            errors.append(
                RowError(
                    row.line,
                    "region_code",
                    f"household {row.household_code} has region {first.region_code} on line "
                    f"{first.line}",
                )
            )
        seen = persons.setdefault(row.id_number, row)
        if seen is row:
            continue
        for column in ("household_code", "name", "relation"):
            if getattr(seen, column) != getattr(row, column):
                errors.append(
                    RowError(
                        row.line,
                        column,
                        f"differs from line {seen.line} for the same id_number",
                    )
                )
    groups: dict[tuple[str, str, str], list[Interval]] = defaultdict(list)
    for (kind, subject, category, start), row in periods.items():
        groups[(kind, subject, category)].append(Interval(start, row.effective_to, row.line))
    for (_, _, category), intervals in groups.items():
        if len(intervals) > 1:
            errors.extend(overlaps(category, intervals))
    return errors
