"""Reading the poverty office's CSV file: the header, then one person (and status) per row.

Pure: bytes in, rows valid on their own and their problems out (``row`` = line number in the
file, the header being line 1). The file is read as a stream, one row at a time; the checks
across rows (a person in one household, a household in one region, periods that do not
overlap) and against the registry happen in the database, in ``service``, on the rows read
here.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, BinaryIO, Literal

from registry.categories import CATEGORIES, HOUSEHOLD_CATEGORIES
from registry.fields import (
    HOUSEHOLD_CODE_PATTERN,
    NAME_MAX,
    REGION_CODE_PATTERN,
    RELATION_MAX,
    parse_iso_date,
)
from shared.csvfiles import RowError as RowError  # re-exported: the import's problems
from shared.idnumber import validate_id_number

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

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


def _order(error: RowError) -> tuple[int, str]:
    return (error.row, error.column or "")


class Problems:
    """The problems found in a file, in bounded memory: ``count`` of all of them, and the
    first ``keep`` in (row, column) order (problems arrive in any order: the rows' own in file
    order, those the database finds after)."""

    def __init__(self, keep: int = sys.maxsize) -> None:
        self.count = 0
        self._keep = keep
        self._kept: list[RowError] = []

    def add(self, error: RowError) -> None:
        self.count += 1
        self._kept.append(error)
        if len(self._kept) >= 2 * self._keep:
            self._kept = self.first()

    def first(self) -> list[RowError]:
        """The first ``keep`` problems by (row, column); among equals, in the order added."""
        return sorted(self._kept, key=_order)[: self._keep]

    def __bool__(self) -> bool:
        return self.count > 0


Kind = Literal["h", "p"]
"""Whose status period a row records: ``h`` the household's (a household-level category,
whichever member's row carries it), ``p`` the person's."""


Record = tuple[int, str, str, str, str, str, str | None, date | None, date | None, Kind | None]
"""A row valid on its own, as it is staged: (line, household_code, region_code, id_number,
name, relation, category, effective_from, effective_to, kind); empty category → None, and
kind None."""


@dataclass(frozen=True, slots=True)
class ImportRow:
    """A row valid on its own (:func:`parse_csv`)."""

    line: int
    household_code: str
    region_code: str
    id_number: str
    name: str
    relation: str
    category: str | None
    effective_from: date | None
    effective_to: date | None


class NotText(Exception):
    """The file is not UTF-8 text: ``error`` names the line of its first bad byte, and is the
    only problem reported (nothing after it can be read)."""

    def __init__(self, error: RowError) -> None:
        super().__init__(error.message)
        self.error = error


class _Hashing(io.RawIOBase):
    """A binary stream read through, its SHA-256 taken on the way."""

    def __init__(self, source: BinaryIO) -> None:
        self._source = source
        self.digest = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        data = self._source.read(len(memoryview(buffer)))
        memoryview(buffer)[: len(data)] = data
        self.digest.update(data)
        return len(data)


class FileReader:
    """One pass over an import file (a binary stream that can seek: an open file, or
    ``io.BytesIO``), iterated as the rows that are valid on their own (:data:`Record`), in
    file order, one at a time. Each row's problems, and the header's, go to ``problems``; a
    file that is not valid CSV ends at that row, its problem added. A byte that is not UTF-8
    raises :class:`NotText`.

    After the pass: ``rows`` (data rows read, blank lines not counted, rows with problems
    included) and ``sha256`` (of the bytes read: the whole file when it had no problem)."""

    def __init__(self, source: BinaryIO, problems: Problems) -> None:
        self._source = source
        self._hashing = _Hashing(source)
        self._problems = problems
        self.rows = 0

    @property
    def sha256(self) -> str:
        return self._hashing.digest.hexdigest()

    def __iter__(self) -> Iterator[Record]:
        text = io.TextIOWrapper(
            io.BufferedReader(self._hashing, 1 << 16), encoding="utf-8-sig", newline=""
        )
        reader = csv.reader(text, strict=True)
        problems = self._problems
        try:
            header = next(reader, None)
            if header is None or not any(cell.strip() for cell in header):
                problems.add(RowError(1, None, f"the file is empty; expected {HEADER_LINE}"))
                return
            if _header_error(header, problems):
                return
            previous = reader.line_num
            for record in reader:
                line = previous + 1
                previous = reader.line_num
                if not "".join(record).strip():
                    continue  # blank line, or a spreadsheet's row of empty cells
                self.rows += 1
                row = _parse_row(line, record, problems)
                if row is not None:
                    yield row
        except UnicodeDecodeError:
            raise NotText(
                RowError(_undecodable_line(self._source), None, "is not valid UTF-8 text")
            ) from None
        except csv.Error as exc:
            problems.add(RowError(reader.line_num or 1, None, f"is not valid CSV: {exc}"))


@dataclass
class ParsedFile:
    rows: list[ImportRow]
    errors: list[RowError]


def parse_csv(data: bytes) -> ParsedFile:
    """A small file read whole (the demo data, tests): its rows valid on their own and every
    problem of the rows themselves (the checks across rows need the database)."""
    problems = Problems()
    try:
        rows = [ImportRow(*record[:9]) for record in FileReader(io.BytesIO(data), problems)]
    except NotText as exc:
        return ParsedFile([], [exc.error])
    return ParsedFile(rows, problems.first())


def _undecodable_line(source: BinaryIO) -> int:
    """The line (counted by ``\\n``) of the file's first byte that is not UTF-8; the file is
    known to have one."""
    source.seek(0)
    for number, line in enumerate(source, 1):
        try:
            (line.removeprefix(b"\xef\xbb\xbf") if number == 1 else line).decode("utf-8")
        except UnicodeDecodeError:
            return number
    raise AssertionError("the file decodes")  # pragma: no cover


def _header_error(header: list[str], problems: Problems) -> bool:
    """Whether the header is wrong (its problem added)."""
    names = [name.strip() for name in header]
    if tuple(names) == HEADER:
        return False
    for position, expected in enumerate(HEADER):
        found = names[position] if position < len(names) else None
        if found != expected:
            shown = "nothing" if found is None else repr(found[:40])
            problems.add(
                RowError(
                    1,
                    expected,
                    f"header column {position + 1} must be {expected!r}, found {shown}; "
                    f"the header must be exactly: {HEADER_LINE}",
                )
            )
            return True
    extra = names[len(HEADER)]
    problems.add(
        RowError(
            1,
            extra[:40] or None,
            f"unexpected header column {len(HEADER) + 1}; the header must be exactly: "
            f"{HEADER_LINE}",
        )
    )
    return True


def _parse_row(line: int, record: list[str], errors: Problems) -> Record | None:
    if len(record) != len(HEADER):
        errors.add(RowError(line, None, f"has {len(record)} fields; every row needs {len(HEADER)}"))
        return None
    household_code, region_code, id_number, name, relation, category, start, end = [
        cell.strip() for cell in record
    ]
    before = errors.count

    if not _HOUSEHOLD_CODE.match(household_code):
        errors.add(RowError(line, "household_code", "must be 1 to 40 letters, digits, '-' or '_'"))
    if not _REGION_CODE.match(region_code):
        errors.add(RowError(line, "region_code", "must be 6 to 12 digits"))
    try:
        id_number = validate_id_number(id_number)
    except ValueError as exc:
        errors.add(RowError(line, "id_number", str(exc) if id_number else "is required"))
    if not name:
        errors.add(RowError(line, "name", "is required"))
    elif len(name) > NAME_MAX:
        errors.add(RowError(line, "name", f"must be at most {NAME_MAX} characters"))
    if len(relation) > RELATION_MAX:
        errors.add(RowError(line, "relation", f"must be at most {RELATION_MAX} characters"))

    effective_from: date | None = None
    effective_to: date | None = None
    if category and category not in _CATEGORY_SET:
        errors.add(
            RowError(
                line,
                "category",
                f"unknown category {category[:40]!r}; expected one of {_CATEGORY_LIST} "
                "or empty (no status)",
            )
        )
    if category:
        if not start:
            errors.add(RowError(line, "effective_from", "is required when a category is given"))
        else:
            effective_from = _date(line, "effective_from", start, errors)
        if end:
            effective_to = _date(line, "effective_to", end, errors)
        if effective_from and effective_to and effective_to < effective_from:
            errors.add(RowError(line, "effective_to", "is before effective_from"))
    else:
        if start:
            errors.add(RowError(line, "effective_from", "must be empty when category is empty"))
        if end:
            errors.add(RowError(line, "effective_to", "must be empty when category is empty"))

    if errors.count != before:
        return None
    if not category:
        return (line, household_code, region_code, id_number, name, relation) + (None,) * 4
    kind: Kind = "h" if category in HOUSEHOLD_CATEGORIES else "p"
    return (
        line,
        household_code,
        region_code,
        id_number,
        name,
        relation,
        category,
        effective_from,
        effective_to,
        kind,
    )


_DATES: dict[str, date] = {}


def _date(line: int, column: str, value: str, errors: Problems) -> date | None:
    known = _DATES.get(value)
    if known is not None:
        return known
    try:
        parsed = parse_iso_date(value)
    except ValueError as exc:
        errors.add(RowError(line, column, str(exc)))
        return None
    if len(_DATES) < 100_000:  # a file's dates repeat a lot; the cache stays small
        _DATES[value] = parsed
    return parsed


@dataclass(frozen=True, slots=True)
class Interval:
    start: date
    end: date | None  # inclusive; None = open
    line: int | None  # the file's line, or None for a period only in the registry


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


def span(start: date, end: date | None) -> str:
    return f"{start.isoformat()} to {end.isoformat() if end else 'open'}"
