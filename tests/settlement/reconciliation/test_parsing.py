"""The hospital's books parsed a block at a time (whole columns checked at once) give the same
bills and the same errors as record by record, for TSV and JSON books with good and bad
values; the answer written as text is the same text as ``json.dumps`` of its rows."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from settlement.reconciliation import parsing, service
from shared.errors import Unprocessable
from shared.idnumber import check_character
from shared.timestamps import timestamp_str
from tests.support.data import id_number

GOOD_IDS = [id_number(n) for n in range(3)] + [
    first17 + check_character(first17)
    for first17 in (f"37030519800101{n:03d}" for n in range(40))
    if check_character(first17) == "X"
][:1]
BAD_IDS = [
    GOOD_IDS[-1].lower(),  # a lower-case x: valid once upper-cased
    f" {GOOD_IDS[0]}",
    GOOD_IDS[0][:17] + ("0" if GOOD_IDS[0][17] != "0" else "1"),  # wrong check character
    *(  # right check characters, impossible birth dates
        f + check_character(f)
        for f in ("37030519990231001", "37030520990101001", "37030518790101001")
    ),
    "123",
    "",
]
GOOD_MONEY = ["0", "0.00", "12", "12.3", "12.30", "999999999999.99", "0012.30"]
BAD_MONEY = ["-0.00", "-0", "-12.30", "-7", "12.345", "1e2", "+5", " 7.10", "1000000000000", "x"]


def good_row(setl_id: str) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {
            "setl_id": st.just(setl_id),
            "visit_id": st.sampled_from(["V1", "ZY2026.1:2/3-4"]),
            "id_number": st.sampled_from(GOOD_IDS),
            "medfee_sumamt": st.sampled_from(GOOD_MONEY),
            "fund_pay_sumamt": st.sampled_from(GOOD_MONEY),
            "status": st.sampled_from(["settled", "revoked"]),
            "refd_setl_flag": st.just("0"),
        }
    )


def reversal_row(setl_id: str) -> st.SearchStrategy[dict[str, Any]]:
    return good_row(setl_id).flatmap(
        lambda row: st.fixed_dictionaries(
            {
                "medfee_sumamt": st.sampled_from(["-12.30", "-0.00", "-0", "-7.5", "3.00"]),
                "fund_pay_sumamt": st.sampled_from(["-1.00", "-0.01", "0.00"]),
            }
        ).map(lambda amounts: {**row, **amounts, "refd_setl_flag": "1"})
    )


ANY_VALUE = {
    "setl_id": ["S1", "S2", " S3", "S 4", "", "x" * 65, 'a"b\\c', "é"],
    "visit_id": ["V1", "_V", " V2", "", "V" * 65],
    "id_number": GOOD_IDS + BAD_IDS,
    "medfee_sumamt": GOOD_MONEY + BAD_MONEY + [""],
    "fund_pay_sumamt": GOOD_MONEY + BAD_MONEY,
    "status": ["settled", "revoked", "Settled", " revoked", ""],
    "refd_setl_flag": ["0", "1", "", " 1", "2"],
}
any_row = st.fixed_dictionaries({k: st.sampled_from(v) for k, v in ANY_VALUE.items()})
unique_ids = st.sets(st.integers(0, 10**6), max_size=25).map(lambda ns: [f"S{n}" for n in ns])
good_books = unique_ids.flatmap(
    lambda ids: st.tuples(*(st.one_of(good_row(i), reversal_row(i)) for i in ids)).map(list)
)
mixed_books = st.lists(st.one_of(good_row("S1"), any_row, reversal_row("R1")), max_size=25)
one_bad_value = st.tuples(
    good_books, st.integers(0, 30), st.sampled_from(sorted(ANY_VALUE)), st.integers(0, 99)
).map(
    lambda t: [
        {**row, t[2]: ANY_VALUE[t[2]][t[3] % len(ANY_VALUE[t[2]])]}
        if n == t[1] % len(t[0])
        else row
        for n, row in enumerate(t[0])
    ]
)
"""Good books but for (perhaps) one value: the block is refused for it alone."""
books_strategy = st.one_of(good_books, mixed_books, one_bad_value)


def as_tsv(rows: list[dict[str, Any]], flag: bool, crlf: bool, *, blank: bool = True) -> bytes:
    columns = list(parsing.TSV_COLUMNS) + (["refd_setl_flag"] if flag else [])
    columns.insert(2, "other")  # a column the parser ignores
    end = "\r\n" if crlf else "\n"
    lines = ["\t".join(columns)]
    for n, row in enumerate(rows):
        lines.append("\t".join(str(row.get(c, f"o{n}")) for c in columns))
        if blank and n % 7 == 3:
            lines.append("")  # a blank line
    return (end.join(lines) + end).encode()


async def _chunks(data: bytes, size: int) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def outcome(parse: Any, *, by_block: bool) -> str:
    """The bills, or the 422's detail and errors, as their ``repr`` (``Decimal('0.00')`` is
    not ``Decimal('-0.00')`` nor ``Decimal('0')``)."""
    return repr(_outcome(parse, by_block=by_block))


def _outcome(parse: Any, *, by_block: bool) -> Any:
    with mock.patch.object(parsing, "BLOCK", 4):
        if by_block:
            try:
                return parse()
            except Unprocessable as exc:
                return exc.detail, exc.errors
        with mock.patch.object(parsing.Books, "_block", return_value=None):
            try:
                return parse()
            except Unprocessable as exc:
                return exc.detail, exc.errors


@settings(max_examples=300, deadline=None)
@given(
    rows=books_strategy,
    flag=st.booleans(),
    crlf=st.booleans(),
    chunk=st.sampled_from([5, 64, 1 << 20]),
)
def test_tsv_blocks_give_what_line_by_line_gives(
    rows: list[dict[str, Any]], flag: bool, crlf: bool, chunk: int
) -> None:
    if not flag:
        rows = [{k: v for k, v in r.items() if k != "refd_setl_flag"} for r in rows]
    data = as_tsv(rows, flag, crlf)

    def parse() -> Any:
        return asyncio.run(parsing.parse_tsv(_chunks(data, chunk)))

    assert outcome(parse, by_block=True) == outcome(parse, by_block=False)


JSON_EXTRA = st.sampled_from([0, 1, 2, True, None, 0.0, 12, 12.3, ["x"], "1"])
"""Numbers (read as ``Decimal`` when they have a point), ``true``, ``null``, lists."""


@settings(max_examples=300, deadline=None)
@given(
    rows=books_strategy,
    changes=st.lists(
        st.tuples(st.integers(0, 30), st.sampled_from([*ANY_VALUE, "extra"]), JSON_EXTRA),
        max_size=3,
    ),
    drop_flag=st.booleans(),
    not_object=st.booleans(),
)
def test_json_blocks_give_what_bill_by_bill_gives(
    rows: list[dict[str, Any]],
    changes: list[tuple[int, str, Any]],
    drop_flag: bool,
    not_object: bool,
) -> None:
    items: list[Any] = [dict(r) for r in rows]
    for n, row in enumerate(items):
        if drop_flag and n % 2:
            row.pop("refd_setl_flag")
    for at, name, value in changes:  # JSON values that are not strings, extra keys
        if at < len(items):
            items[at][name] = value
    if not_object and items:
        items[len(items) // 2] = ["not", "an", "object"]
    body = json.dumps(
        {"begin_date": "2026-11-27", "end_date": "2026-11-27", "bills": items}
    ).encode()

    def parse() -> Any:
        return parsing.parse_json(body).bills

    assert outcome(parse, by_block=True) == outcome(parse, by_block=False)


def test_a_block_of_good_bills_is_taken_whole() -> None:
    """The equivalence above is not only the fallback's: good books go through the block."""
    rows = [
        {
            "setl_id": f"S{n}",
            "visit_id": "V1",
            "id_number": GOOD_IDS[n % len(GOOD_IDS)],
            "medfee_sumamt": "12.3",
            "fund_pay_sumamt": "-0.00" if n % 2 else "1",
            "status": "settled",
            "refd_setl_flag": str(n % 2),
        }
        for n in range(10)
    ]
    with mock.patch.object(parsing.Books, "add_fields", side_effect=AssertionError("not by block")):
        bills = asyncio.run(
            parsing.parse_tsv(_chunks(as_tsv(rows, True, True, blank=False), 1 << 20))
        )
        by_json = parsing.parse_json(json.dumps({"bills": rows}).encode()).bills
    assert bills == by_json
    assert bills["S1"] == ("S1", "V1", GOOD_IDS[1], Decimal("12.30"), Decimal("0.00"), "settled", 1)
    assert str(bills["S1"][parsing.FUND_PAY_SUMAMT]) == "0.00"  # never -0.00
    assert str(bills["S2"][parsing.FUND_PAY_SUMAMT]) == "1.00"


def test_a_block_with_one_bad_id_number_names_it() -> None:
    rows = [
        {
            "setl_id": f"S{n}",
            "visit_id": "V1",
            "id_number": GOOD_IDS[0],
            "medfee_sumamt": "1.00",
            "fund_pay_sumamt": "1.00",
            "status": "settled",
        }
        for n in range(5)
    ]
    accepted = {GOOD_IDS[-1].lower(): GOOD_IDS[-1], f" {GOOD_IDS[0]}": GOOD_IDS[0]}
    for bad in BAD_IDS:
        rows[3]["id_number"] = bad
        body = json.dumps({"bills": rows}).encode()
        if bad in accepted:  # normalised by the full check
            assert parsing.parse_json(body).bills["S3"][parsing.ID_NUMBER] == accepted[bad]
            continue
        with pytest.raises(Unprocessable) as refused:
            parsing.parse_json(body)
        assert [e["field"] for e in refused.value.errors or []] == ["bills[3].id_number"], bad


@given(st.text(alphabet="0123456789", min_size=17, max_size=17))
def test_check_characters_in_base_13_are_the_iso_7064_ones(first17: str) -> None:
    assert parsing._check_characters([first17]) == check_character(first17)


def _old_detail_json(outcome: service.DetailOutcome, *, only_mismatches: bool) -> str:
    """The answer as it was written before: a dict per row, then ``json.dumps``."""
    rows = outcome.mismatches if only_mismatches else outcome.rows
    body = {
        "reconciliation_id": outcome.reconciliation_id,
        "hospital_code": outcome.hospital_code,
        "begin_date": outcome.begin_date.isoformat(),
        "end_date": outcome.end_date.isoformat(),
        "matched": outcome.matched,
        "service_bill_count": outcome.service_bill_count,
        "hospital_bill_count": outcome.hospital_bill_count,
        "counts": outcome.counts,
        "rows": [service.row_json(r) for r in rows],
        "created_at": timestamp_str(outcome.created_at),
    }
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"))


TEXTS = st.text(alphabet=st.sampled_from('aZ0"\\/\n\t\x00é中\u2028'), max_size=6)
DIFFERENCE = st.fixed_dictionaries(
    {"field": st.just("visit_id"), "hospital": TEXTS, "service": TEXTS}
)
ROW = st.tuples(
    TEXTS,
    st.sampled_from(service.RESULT_CODES),
    st.none() | TEXTS,
    st.none() | st.sampled_from(["settled", "revoked"]),
    st.none() | st.decimals(-(10**6), 10**6, places=2),
    st.none() | st.decimals(-(10**6), 10**6, places=2),
    st.just(service.NO_DIFFERENCES) | st.lists(DIFFERENCE, min_size=1, max_size=2),
    st.sampled_from([0, 1]),
    st.none() | TEXTS,
)


@given(rows=st.lists(ROW, max_size=8), only_mismatches=st.booleans(), code=TEXTS)
def test_the_answer_as_text_is_json_dumps_of_its_rows(
    rows: list[service.Row], only_mismatches: bool, code: str
) -> None:
    result = service.DetailOutcome(
        reconciliation_id=7,
        hospital_code=code,
        begin_date=date(2026, 11, 27),
        end_date=date(2026, 11, 28),
        created_at=datetime(2026, 11, 30, 12, 1, 2, 345000, tzinfo=UTC),
        service_bill_count=len(rows),
        hospital_bill_count=3,
        counts={"0": 1, "1": 0, "2": 2, "3": 0},
        rows=rows,
    )
    new = service.detail_json(result, only_mismatches=only_mismatches)
    assert new == _old_detail_json(result, only_mismatches=only_mismatches)
    shown = result.mismatches if only_mismatches else rows
    assert json.loads(new)["rows"] == [
        {**service.row_json(r), "differences": list(r[6])} for r in shown
    ]
