"""Merging a file's versions into a code's stored versions (pure): examples and properties."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from settlement.catalogue.csvfile import parse_catalogue
from settlement.catalogue.ranges import Merged, Version, merge_code

DAY = timedelta(days=1)
START = date(2020, 1, 1)


def v(
    begin: str,
    end: str | None,
    level: str = "01",
    *,
    id: int | None = None,
    line: int | None = None,
) -> Version:
    return Version(
        "X",
        "name",
        level,
        None,
        None,
        date.fromisoformat(begin),
        date.fromisoformat(end) if end else None,
        id=id,
        line=line,
    )


def after(stored: list[Version], merged: Merged) -> list[Version]:
    """The code's versions once the merge is written."""
    kept = [s for s in stored if s.id not in merged.remove]
    return sorted([*kept, *merged.write], key=lambda x: x.begndate)


def test_a_new_version_closes_the_open_one_before_it() -> None:
    stored = [v("2020-01-01", None, id=1)]
    merged = Merged()
    merge_code(stored, [v("2024-01-01", None, "02", line=2)], merged)
    assert (merged.added, merged.closed, merged.replaced, merged.errors) == (1, 1, 0, [])
    assert [
        (x.begndate.isoformat(), x.enddate and x.enddate.isoformat(), x.chrgitm_lv)
        for x in after(stored, merged)
    ] == [
        ("2020-01-01", "2023-12-31", "01"),
        ("2024-01-01", None, "02"),
    ]


def test_a_written_end_reaching_the_next_version_is_refused() -> None:
    stored = [v("2024-01-01", None, id=1)]
    merged = Merged()
    merge_code(stored, [v("2023-01-01", "2024-01-01", line=7)], merged)
    assert [(e.row, e.column) for e in merged.errors] == [(7, "enddate")]
    assert merged.write == []


@st.composite
def stored_versions(draw: st.DrawFn) -> list[Version]:
    """A code's stored versions: ordered, never overlapping (a gap may follow a written end)."""
    starts = sorted(draw(st.sets(st.integers(0, 3000), max_size=5)))
    out = []
    for index, start in enumerate(starts):
        begin = START + start * DAY
        limit = START + (starts[index + 1] - 1) * DAY if index + 1 < len(starts) else None
        if limit is None:
            end = draw(
                st.one_of(st.none(), st.integers(0, 400).map(lambda d, b=begin: b + d * DAY))
            )
        else:
            span = (limit - begin).days
            end = draw(
                st.one_of(st.just(limit), st.integers(0, span).map(lambda d, b=begin: b + d * DAY))
            )
        level = draw(st.sampled_from(["01", "02", "03"]))
        out.append(Version("X", "name", level, None, None, begin, end, id=index + 1))
    return out


@st.composite
def file_rows(draw: st.DrawFn) -> list[Version]:
    starts = draw(st.sets(st.integers(0, 3000), max_size=4))
    out = []
    for line, start in enumerate(sorted(starts), start=2):
        begin = START + start * DAY
        end = draw(st.one_of(st.none(), st.integers(0, 1500).map(lambda d, b=begin: b + d * DAY)))
        level = draw(st.sampled_from(["01", "02", "03"]))
        out.append(Version("X", "name", level, None, None, begin, end, line=line))
    return out


@settings(max_examples=300, deadline=None)
@given(stored_versions(), file_rows())
def test_merged_versions_never_overlap_and_keep_history(
    stored: list[Version], incoming: list[Version]
) -> None:
    merged = Merged()
    merge_code(stored, incoming, merged)
    by_start = {x.begndate: x for x in [*stored, *incoming]}
    ordered = sorted(by_start.values(), key=lambda x: x.begndate)
    refused = {
        x.line
        for x, nxt in zip(ordered, ordered[1:], strict=False)
        if x.line is not None and x.enddate is not None and x.enddate >= nxt.begndate
    }
    assert {e.row for e in merged.errors} == refused
    if refused:
        assert merged.write == []
        assert merged.remove == []
        return
    result = after(stored, merged)
    # Every version begins where the stored ones and the file's did: none is lost.
    assert [x.begndate for x in result] == [x.begndate for x in ordered]
    for x, nxt in zip(result, result[1:], strict=False):
        assert x.enddate is not None
        assert x.enddate < nxt.begndate
    for row in incoming:
        final = next(x for x in result if x.begndate == row.begndate)
        assert final.chrgitm_lv == row.chrgitm_lv
        assert final.enddate is not None or row.enddate is None
        assert row.enddate is None or final.enddate == row.enddate
    for old in stored:
        final = next(x for x in result if x.begndate == old.begndate)
        if old.begndate not in {r.begndate for r in incoming}:
            assert final.chrgitm_lv == old.chrgitm_lv  # only ever closed earlier
            assert old.enddate is None or (
                final.enddate is not None and final.enddate <= old.enddate
            )
    assert merged.added + merged.replaced + merged.unchanged + merged.closed >= len(incoming)
    # The same file again changes nothing.
    stored_again = [
        Version(
            x.med_list_codg, x.med_list_name, x.chrgitm_lv, None, None, x.begndate, x.enddate, id=i
        )
        for i, x in enumerate(result, start=1)
    ]
    again = Merged()
    merge_code(stored_again, incoming, again)
    assert (again.write, again.remove, again.errors) == ([], [], [])
    assert again.unchanged == len(incoming)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["01", "1", "02", "2", "03", "3", "04", ""]),
            st.sampled_from(["", "0", "0.1", "1", "1.2", "0.12345", "x"]),
            st.sampled_from(["", "10", "10.5", "0", "-1", "1.234", "abc"]),
        ),
        max_size=8,
    )
)
def test_a_row_is_taken_exactly_when_it_has_no_problem(cells: list[tuple[str, str, str]]) -> None:
    rows = [f"C{i},name,{lv},{prop},{cap},2020-01-01," for i, (lv, prop, cap) in enumerate(cells)]
    text = "med_list_codg,med_list_name,chrgitm_lv,selfpay_prop,pric_uplmt_amt,begndate,enddate\n"
    parsed = parse_catalogue((text + "\n".join(rows) + "\n").encode())
    bad_lines = {e.row for e in parsed.errors}
    taken = {r.line for r in parsed.rows}
    assert taken.isdisjoint(bad_lines)
    assert taken | bad_lines == set(range(2, 2 + len(cells)))
    for row in parsed.rows:
        assert row.chrgitm_lv in ("01", "02", "03")
        assert row.selfpay_prop is None or 0 <= row.selfpay_prop <= 1
        assert row.pric_uplmt_amt is None or row.pric_uplmt_amt > 0
