"""The hospital's books for a detail reconciliation: tab-separated text parsed line by line as
the body streams in, or a JSON document. Every bad row is reported with its line (TSV) or its
index (JSON), up to :data:`MAX_ERRORS`, as one 422."""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from itertools import compress, repeat
from operator import itemgetter, mod, mul, not_
from typing import Any, Final

from shared.errors import Unprocessable
from shared.idnumber import validate_id_number
from shared.money import parse_money

TSV_COLUMNS = ("setl_id", "visit_id", "id_number", "medfee_sumamt", "fund_pay_sumamt", "status")
FLAG_COLUMN = "refd_setl_flag"
"""Optional seventh column: 1 on a reversal (negative amounts), 0 (or left out) on a bill."""
_ALL_COLUMNS = (*TSV_COLUMNS, FLAG_COLUMN)
_NO_COLUMN = -1
TSV_MEDIA_TYPES = frozenset(
    {"text/tab-separated-values", "text/tsv", "text/x-tab-separated-values"}
)
MAX_ERRORS = 100
MAX_ROWS = 1_000_000

_SETL_ID = re.compile(r"^[!-~]{1,64}$")
_VISIT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,63}$")
_STATUSES = frozenset({"settled", "revoked"})
_CENT = Decimal("0.01")
_ZERO = Decimal("0.00")
_PLAIN_MONEY = re.compile(r"^\d{1,12}(?:\.\d{1,2})?$")
_PLAIN_ID = re.compile(r"^\d{17}[\dX]$")
_ID_CHECK = "10X98765432"
_BIRTH_DATES: dict[str, bool] = {}
"""Birth dates already found plausible (``YYYYMMDD``); a few tens of thousands at most."""
BLOCK = 1000
"""JSON bills checked together (TSV: the lines of one chunk of the body)."""


def _column(line: str) -> re.Pattern[str]:
    """A whole column (its values joined by ``\\n``), each value matching ``line``."""
    return re.compile(f"(?:{line})(?:\n(?:{line}))*")


_SETL_ID_COLUMN = _column(r"[!-~]{1,64}")
_VISIT_ID_COLUMN = _column(r"[A-Za-z0-9][A-Za-z0-9._:/-]{0,63}")
_ID_COLUMN = _column(r"\d{17}[\dX]")
_MONEY_COLUMN = _column(r"-?\d{1,12}(?:\.\d{1,2})?")
_FEN_COLUMN = _column(r"-?\d{1,12}\.\d\d")
_FLAGS: dict[tuple[type, Any], int] = {(str, "0"): 0, (str, "1"): 1, (int, 0): 0, (int, 1): 1}
_FIRST17 = itemgetter(slice(0, 17))
_BIRTH = itemgetter(slice(6, 14))
_LAST = itemgetter(17)


def _fast_money(text: str) -> Decimal | None:
    """A plain amount (digits, at most two decimals), or None for the full check."""
    return Decimal(text).quantize(_CENT) if _PLAIN_MONEY.match(text) else None


def _check_characters(id_numbers: Iterable[str]) -> str:
    """The ISO 7064 MOD 11-2 check characters of ID numbers (their first 17 digits), one per
    number, as one string. Σ dᵢ·2^(17−i) mod 11 is 2 · (the digits read in base 13) mod 11,
    since 13 ≡ 2 (mod 11): the same character as ``shared.idnumber.check_character``, in C
    calls only."""
    values = map(int, map(_FIRST17, id_numbers), repeat(13))
    return "".join(map(_ID_CHECK.__getitem__, map(mod, map(mul, values, repeat(2)), repeat(11))))


def _plausible_birth(birth: str, today: date) -> bool:
    """``YYYYMMDD`` is a real date from 1880 to ``today`` (cached)."""
    plausible = _BIRTH_DATES.get(birth)
    if plausible is None:
        try:
            born = date(int(birth[:4]), int(birth[4:6]), int(birth[6:]))
            plausible = 1880 <= born.year and born <= today
        except ValueError:
            plausible = False
        if plausible and len(_BIRTH_DATES) < 100_000:
            _BIRTH_DATES[birth] = True
    return plausible


def _fast_id_number(text: str, today: date) -> str | None:
    """A well-formed ID number as HIS files carry it, or None for the full check (same rules
    as ``shared.idnumber.validate_id_number``; this only avoids its per-call overhead)."""
    if not _PLAIN_ID.match(text) or not _plausible_birth(text[6:14], today):
        return None
    return text if _check_characters((text,)) == text[17] else None


def _amounts(column: Sequence[str], joined: str) -> list[Decimal]:
    """A money column that matched ``_MONEY_COLUMN``: each amount on the fen, zero unsigned."""
    if _FEN_COLUMN.fullmatch(joined):
        amounts = list(map(Decimal, column))
    else:
        amounts = [Decimal(text).quantize(_CENT) for text in column]
    if "-" in joined:
        amounts = [amount if amount else _ZERO for amount in amounts]
    return amounts


BookBill = tuple[str, str, str, Decimal, Decimal, str, int]
"""One record of the hospital's books: ``(setl_id, visit_id, id_number, medfee_sumamt,
fund_pay_sumamt, status, refd_setl_flag)``, the order of the service's records (so a matching
record's first seven values compare equal to it). A plain tuple of atoms, which the garbage
collector stops tracking (100,000 of them would otherwise be scanned at every full
collection)."""
SETL_ID: Final = 0
VISIT_ID: Final = 1
ID_NUMBER: Final = 2
MEDFEE_SUMAMT: Final = 3
FUND_PAY_SUMAMT: Final = 4
STATUS: Final = 5
REFD_SETL_FLAG: Final = 6


class _TooManyErrors(Exception):
    pass


class Books:
    """Collects the hospital's bills (by ``setl_id``) and the errors of the bad ones."""

    def __init__(self, json_body: bool = False) -> None:
        self.bills: dict[str, BookBill] = {}
        self.errors: list[dict[str, Any]] = []
        self._json = json_body
        self._where: dict[str, int] = {}

    def where(self, position: int) -> str:
        return f"bills[{position}]" if self._json else f"line {position}"

    def error(self, field: str, message: str, line: int | None = None) -> None:
        entry: dict[str, Any] = {"field": field, "message": message}
        if line is not None:
            entry = {"line": line, **entry, "message": f"line {line}: {message}"}
        self.errors.append(entry)
        if len(self.errors) >= MAX_ERRORS:
            raise _TooManyErrors

    def add_fields(self, fields: Sequence[Any], at: tuple[int, ...], position: int) -> None:
        """One record from its values (``fields[at[i]]`` is ``TSV_COLUMNS[i]``, then the
        optional ``refd_setl_flag`` at ``at[6]``, -1 when there is no such column) at a line of
        the TSV or an index of the JSON list: a fast path for well-formed text values of a
        bill, the full checks with their messages for anything else (and for reversals)."""
        flag = fields[at[6]] if at[6] != _NO_COLUMN else "0"
        try:
            setl_id = fields[at[0]].strip()
            visit_id = fields[at[1]].strip()
            id_number = _fast_id_number(fields[at[2]].strip(), self.today)
            medfee = _fast_money(fields[at[3]].strip())
            fund = _fast_money(fields[at[4]].strip())
            status = fields[at[5]].strip()
        except AttributeError:  # a JSON value that is not a string
            id_number = None
        if (
            not (flag == "0" or (type(flag) is int and flag == 0))
            or id_number is None
            or medfee is None
            or fund is None
            or status not in _STATUSES
            or not _SETL_ID.match(setl_id)
            or not _VISIT_ID.match(visit_id)
            or setl_id in self._where
            or len(self.bills) >= MAX_ROWS
        ):
            values = {
                name: fields[i] for name, i in zip(_ALL_COLUMNS, at, strict=True) if i != _NO_COLUMN
            }
            if self._json:
                self.add(values, f"bills[{position}].", None, position)
            else:
                self.add(values, "", position, position)
            return
        self._where[setl_id] = position
        self.bills[setl_id] = (setl_id, visit_id, id_number, medfee, fund, status, 0)

    def add_block(self, columns: Sequence[Sequence[Any]], first: int) -> bool:
        """Add the records at consecutive positions from ``first``, given as their columns
        (``columns[i]`` is ``_ALL_COLUMNS[i]``; an empty ``refd_setl_flag`` column: all 0)
        and checked column by column, when every value is a well-formed text (amounts
        negative on reversals only, no ``setl_id`` twice). ``False``: nothing was added, and
        each record needs :meth:`add_fields`, which names the errors (the same bills)."""
        bills = self._block(columns)
        if bills is None:
            return False
        self._where.update(zip(bills, range(first, first + len(bills)), strict=True))
        self.bills.update(bills)
        return True

    def _block(self, columns: Sequence[Sequence[Any]]) -> dict[str, BookBill] | None:
        """The block's bills by ``setl_id``, or None when any value needs the full checks."""
        setl_ids, visit_ids, id_numbers, medfees, funds, statuses, flag_column = columns
        count = len(setl_ids)
        if not count or len(self.bills) + count > MAX_ROWS:
            return None
        try:
            joined = ["\n".join(c) for c in (setl_ids, visit_ids, id_numbers, medfees, funds)]
            if not set(statuses) <= _STATUSES:
                return None
        except TypeError:  # a JSON value that is not a string (or not hashable)
            return None
        if any(text.count("\n") != count - 1 for text in joined):  # a value with a newline
            return None
        if not (
            _SETL_ID_COLUMN.fullmatch(joined[0])
            and _VISIT_ID_COLUMN.fullmatch(joined[1])
            and _ID_COLUMN.fullmatch(joined[2])
            and _MONEY_COLUMN.fullmatch(joined[3])
            and _MONEY_COLUMN.fullmatch(joined[4])
        ):
            return None
        today = self.today
        births = set(map(_BIRTH, id_numbers)) - _BIRTH_DATES.keys()
        if not all(_plausible_birth(birth, today) for birth in births):
            return None
        if _check_characters(id_numbers) != "".join(map(_LAST, id_numbers)):
            return None
        if not flag_column:
            flags: list[int | None] = [0] * count
        else:
            flags = list(map(_FLAGS.get, zip(map(type, flag_column), flag_column, strict=True)))
            if None in flags:
                return None
        if "-" in joined[3] or "-" in joined[4]:
            bills_only = list(map(not_, flags))
            for amounts in (medfees, funds):
                if any(map(str.startswith, compress(amounts, bills_only), repeat("-"))):
                    return None  # negative on a bill: the full check says why
        records = zip(
            setl_ids,
            visit_ids,
            id_numbers,
            _amounts(medfees, joined[3]),
            _amounts(funds, joined[4]),
            statuses,
            flags,
            strict=True,
        )
        bills: dict[str, BookBill] = dict(zip(setl_ids, records, strict=True))
        if len(bills) != count or not self._where.keys().isdisjoint(bills):
            return None  # a setl_id listed twice
        return bills

    today: date = date.min

    def add(self, values: Mapping[str, Any], prefix: str, line: int | None, position: int) -> None:
        """Validate one record; ``prefix`` names its fields in errors (``bills[3].``)."""
        errors_before = len(self.errors)

        def refd_setl_flag() -> int:
            value = values.get(FLAG_COLUMN, 0)
            if isinstance(value, str) and value.strip() in ("", "0", "1"):
                return int(value.strip() or "0")
            if type(value) is int and value in (0, 1):
                return value
            self.error(prefix + FLAG_COLUMN, "must be 0 (a bill) or 1 (a reversal)", line)
            return 0

        flag = refd_setl_flag()

        def text(name: str) -> str | None:
            value = values.get(name)
            if value is None:
                self.error(prefix + name, "is required", line)
                return None
            if not isinstance(value, str):
                self.error(prefix + name, "must be a string", line)
                return None
            return value.strip()

        def money(name: str) -> Decimal | None:
            value = values.get(name)
            if value is None or (isinstance(value, str) and not value.strip()):
                self.error(prefix + name, "is required", line)
                return None
            try:
                amount = parse_money(value, allow_negative=flag == 1)
            except ValueError as exc:
                reason = str(exc)
                if reason == "must not be negative":
                    reason += " (a reversal's line has refd_setl_flag 1)"
                self.error(prefix + name, reason, line)
                return None
            return amount if amount else _ZERO  # never -0.00

        setl_id = text("setl_id")
        if setl_id is not None and not _SETL_ID.match(setl_id):
            self.error(prefix + "setl_id", "must be 1 to 64 printable characters", line)
        visit_id = text("visit_id")
        if visit_id is not None and not _VISIT_ID.match(visit_id):
            self.error(
                prefix + "visit_id",
                "must be 1 to 64 letters, digits or . _ : / - (starting with a letter or digit)",
                line,
            )
        id_number = text("id_number")
        if id_number is not None:
            try:
                id_number = validate_id_number(id_number)
            except ValueError as exc:
                self.error(prefix + "id_number", str(exc), line)
        medfee = money("medfee_sumamt")
        fund = money("fund_pay_sumamt")
        status = text("status")
        if status is not None and status not in _STATUSES:
            self.error(prefix + "status", "must be settled or revoked", line)
        if len(self.errors) != errors_before:
            return
        if (
            setl_id is None
            or visit_id is None
            or id_number is None
            or medfee is None
            or fund is None
            or status is None
        ):  # pragma: no cover - every None came with an error
            return
        first = self._where.get(setl_id)
        if first is not None:
            self.error(
                prefix + "setl_id",
                f"{setl_id} is listed twice (first at {self.where(first)})",
                line,
            )
            return
        if len(self.bills) >= MAX_ROWS:
            self.error(prefix + "setl_id", f"more than {MAX_ROWS} bills", line)
            raise _TooManyErrors
        self._where[setl_id] = position
        self.bills[setl_id] = (setl_id, visit_id, id_number, medfee, fund, status, flag)

    def raise_if_errors(self) -> None:
        if not self.errors:
            return
        shown = ", ".join(
            (f"line {e['line']} ({e['field']})" if "line" in e else e["field"])
            for e in self.errors[:10]
        )
        more = f" and {len(self.errors) - 10} more" if len(self.errors) > 10 else ""
        capped = " (stopped after the first 100)" if len(self.errors) >= MAX_ERRORS else ""
        raise Unprocessable(f"Invalid bills: {shown}{more}{capped}", errors=self.errors)


def _header(line: str) -> dict[str, int]:
    """Where each column is: the six required ones and ``refd_setl_flag`` (-1: not there)."""
    names = [name.strip().lower() for name in line.split("\t")]
    missing = [c for c in TSV_COLUMNS if c not in names]
    if missing:
        raise Unprocessable(
            f"line 1: the header row must name the columns {', '.join(TSV_COLUMNS)} "
            f"(tab-separated); missing: {', '.join(missing)}",
            errors=[
                {
                    "line": 1,
                    "field": "header",
                    "message": f"line 1: missing column(s) {', '.join(missing)}",
                }
            ],
        )
    duplicated = sorted({n for n in names if n and names.count(n) > 1})
    if duplicated:
        raise Unprocessable(
            f"line 1: column(s) named twice: {', '.join(duplicated)}",
            errors=[{"line": 1, "field": "header", "message": "line 1: duplicate column"}],
        )
    found = {c: names.index(c) for c in TSV_COLUMNS}
    found[FLAG_COLUMN] = names.index(FLAG_COLUMN) if FLAG_COLUMN in names else _NO_COLUMN
    return found


async def parse_tsv(chunks: AsyncIterator[bytes]) -> dict[str, BookBill]:
    """Parse tab-separated books as they stream in: a header row naming the columns (any order;
    other columns are ignored), then one bill per line. UTF-8, an optional BOM, ``\\n`` or
    ``\\r\\n`` line ends; blank lines are skipped. Raises a 422 listing the bad lines."""
    books = Books()
    books.today = date.today()
    decoder = codecs.getincrementaldecoder("utf-8")()
    state: dict[str, Any] = {"line": 0, "columns": None, "width": 0, "at": ()}
    pending = ""

    def handle(lines: list[str]) -> None:
        """Lines without their ends: the header first, then blocks of bills."""
        line_no: int = state["line"]
        if state["columns"] is None and lines:
            line_no += 1
            columns = _header(lines[0].removeprefix("\ufeff"))
            state.update(
                columns=columns,
                at=tuple(columns[c] for c in _ALL_COLUMNS),
                width=len(lines[0].split("\t")),
            )
            lines = lines[1:]
        at: tuple[int, ...] = state["at"]
        width: int = state["width"]
        if lines and set(map(str.count, lines, repeat("\t"))) == {width - 1}:
            fields = "\t".join(lines).split("\t")  # one list, not one per line
            block = [fields[i::width] if i != _NO_COLUMN else () for i in at]
            if books.add_block(block, line_no + 1):
                state["line"] = line_no + len(lines)
                return
        for line in lines:
            line_no += 1
            fields = line.split("\t")
            if len(fields) != width:
                if not line.strip():
                    continue
                books.error(
                    "row",
                    f"has {len(fields)} tab-separated fields, the header has {width}",
                    line_no,
                )
                continue
            books.add_fields(fields, at, line_no)
        state["line"] = line_no

    try:
        async for chunk in chunks:
            try:
                text = decoder.decode(chunk)
            except UnicodeDecodeError:
                raise Unprocessable.field(
                    "body", f"is not UTF-8 text (after line {state['line']})"
                ) from None
            if not text:
                continue
            text = pending + text
            if "\r" in text:
                text = text.replace("\r\n", "\n")
            parts = text.split("\n")
            pending = parts.pop()
            handle(parts)
        try:
            pending += decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            raise Unprocessable.field("body", "ends in the middle of a UTF-8 character") from None
        if pending:
            handle([pending.removesuffix("\r")])
    except _TooManyErrors:
        pass
    if state["columns"] is None:
        raise Unprocessable(
            "The body is empty: send a header row and one line per bill.",
            errors=[{"line": 1, "field": "header", "message": "line 1: no header row"}],
        )
    books.raise_if_errors()
    return books.bills


_SEVEN = itemgetter(*_ALL_COLUMNS)
_SIX = itemgetter(*TSV_COLUMNS)
"""A JSON bill's values in column order: with ``refd_setl_flag``, or without it (then 0)."""


@dataclass(frozen=True, slots=True)
class JsonBooks:
    head: dict[str, Any]
    bills: dict[str, BookBill]


def parse_json(body: bytes) -> JsonBooks:
    """``{"begin_date", "end_date", "hospital_code"?, "bills": [...]}``: the other fields are
    returned for the caller to validate; each bill is checked here (errors name
    ``bills[i].field``)."""
    try:
        data = json.loads(body, parse_float=Decimal)
    except (ValueError, RecursionError):
        raise Unprocessable.field("body", "is not valid JSON") from None
    if not isinstance(data, dict):
        raise Unprocessable.field("body", "must be a JSON object")
    if "bills" not in data:
        raise Unprocessable.field("bills", "Field required")
    items = data.pop("bills")
    if not isinstance(items, list):
        raise Unprocessable.field("bills", "must be a list")
    books = Books(json_body=True)
    books.today = date.today()
    columns = frozenset(TSV_COLUMNS)
    allowed = frozenset(_ALL_COLUMNS)
    in_order = tuple(range(len(_ALL_COLUMNS)))
    try:
        for start in range(0, len(items), BLOCK):
            block = items[start : start + BLOCK]
            try:
                rows = [
                    _SEVEN(item) if len(item) == 7 else (*_SIX(item), 0) if len(item) == 6 else ()
                    for item in block
                ]
            except (KeyError, TypeError):  # not an object, or not these keys
                rows = [()]
            if (
                () not in rows
                and all(type(item) is dict for item in block)
                and books.add_block([list(map(itemgetter(i), rows)) for i in in_order], start)
            ):
                continue
            for index, item in enumerate(block, start=start):
                prefix = f"bills[{index}]"
                if not isinstance(item, dict):
                    books.error(prefix, "must be an object")
                    continue
                if item.keys() != columns:
                    unknown = sorted(set(item) - allowed)
                    for name in unknown:
                        books.error(f"{prefix}.{name}", "Extra inputs are not permitted")
                    if unknown:
                        continue
                values = [item.get(c) for c in TSV_COLUMNS]
                values.append(item.get(FLAG_COLUMN, 0))
                books.add_fields(values, in_order, index)
    except _TooManyErrors:
        pass
    books.raise_if_errors()
    return JsonBooks(head=data, bills=books.bills)
