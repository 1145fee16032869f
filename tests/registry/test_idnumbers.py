"""ID numbers as the registry sees them: generated valid numbers pass, a changed check
character fails, masking keeps the first 6 and last 4 characters only."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from registry.imports.csvfile import parse_csv
from shared.idnumber import check_character, mask_id_number, validate_id_number
from tests.registry.helpers import csv_text

areas = st.integers(min_value=110000, max_value=659999).map(str)
births = st.dates(min_value=date(1900, 1, 1), max_value=date(2020, 12, 31))
sequences = st.integers(min_value=0, max_value=999)


@st.composite
def id_numbers(draw: st.DrawFn) -> str:
    first17 = f"{draw(areas)}{draw(births):%Y%m%d}{draw(sequences):03d}"
    return first17 + check_character(first17)


@given(id_numbers())
def test_generated_valid_numbers_pass(number: str) -> None:
    assert validate_id_number(number) == number
    assert validate_id_number(number.lower()) == number  # a lower-case x is accepted


@given(id_numbers(), st.sampled_from("0123456789X"))
def test_a_changed_check_character_fails(number: str, other: str) -> None:
    if other == number[-1]:
        return
    with pytest.raises(ValueError, match="check digit"):
        validate_id_number(number[:-1] + other)


@given(id_numbers())
def test_masking_shows_first_six_and_last_four(number: str) -> None:
    masked = mask_id_number(number)
    assert masked == number[:6] + "*" * 8 + number[-4:]


@given(id_numbers(), st.sampled_from("0123456789X"))
def test_the_import_reports_a_wrong_check_character(number: str, other: str) -> None:
    bad = number[:-1] + other
    parsed = parse_csv(csv_text([("H1", "370305", bad, "张三", "户主", "", "", "")]).encode())
    if other == number[-1]:
        assert parsed.errors == []
        assert parsed.rows[0].id_number == number
    else:
        assert [(e.row, e.column) for e in parsed.errors] == [(2, "id_number")]
