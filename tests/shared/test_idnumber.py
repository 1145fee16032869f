from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.idnumber import (
    age_on,
    birth_date,
    check_character,
    mask_id_number,
    validate_id_number,
)

# A published GB 11643 example: 11010519491231002X.
KNOWN_VALID = "11010519491231002X"


def make_id(area: str, born: date, seq: int) -> str:
    first17 = f"{area}{born:%Y%m%d}{seq:03d}"
    return first17 + check_character(first17)


def test_known_valid_number() -> None:
    assert validate_id_number(KNOWN_VALID) == KNOWN_VALID
    assert validate_id_number(KNOWN_VALID.lower()) == KNOWN_VALID


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("11010519491231002", "18 characters"),
        ("11010519491231002XX", "18 characters"),
        ("1101051949123100AX", "17 digits"),
        ("110105194913310028", "birth date"),  # month 13
        ("110105187001010011", "birth date"),  # before 1880
        ("110105194912310021", "check digit"),
    ],
)
def test_invalid_numbers(value: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        validate_id_number(value)


@given(
    area=st.from_regex(r"\A[1-6]\d{5}\Z"),
    born=st.dates(min_value=date(1900, 1, 1), max_value=date(2020, 12, 31)),
    seq=st.integers(0, 999),
    wrong=st.sampled_from("0123456789X"),
)
def test_generated_numbers_pass_and_a_changed_check_digit_fails(
    area: str, born: date, seq: int, wrong: str
) -> None:
    number = make_id(area, born, seq)
    assert validate_id_number(number) == number
    if wrong != number[-1]:
        with pytest.raises(ValueError, match="check digit"):
            validate_id_number(number[:-1] + wrong)


def test_mask_shows_first_six_and_last_four() -> None:
    assert mask_id_number("370305199001011234") == "370305********1234"
    assert mask_id_number("12345") == "*****"


@pytest.mark.parametrize(
    ("born", "on", "age"),
    [
        (date(2016, 5, 20), date(2026, 5, 19), 9),  # the day before the 10th birthday
        (date(2016, 5, 20), date(2026, 5, 20), 10),  # the birthday
        (date(2011, 12, 31), date(2026, 12, 30), 14),  # under 15 to the last day
        (date(2011, 12, 31), date(2026, 12, 31), 15),
        (date(2012, 2, 29), date(2026, 2, 28), 13),  # born on 29 February: a year older ...
        (date(2012, 2, 29), date(2026, 3, 1), 14),  # ... on 1 March of other years
        (date(2024, 2, 29), date(2028, 2, 29), 4),
        (date(2026, 1, 10), date(2026, 1, 10), 0),
        (date(2026, 1, 10), date(2025, 6, 1), 0),  # a day before the birth: 0, never negative
    ],
)
def test_age_on_a_day_from_the_birth_date(born: date, on: date, age: int) -> None:
    id_number = make_id("370305", born, 7)
    assert birth_date(id_number) == born
    assert age_on(id_number, on) == age


def test_birth_date_of_a_malformed_number() -> None:
    with pytest.raises(ValueError, match="birth date"):
        birth_date("37030520161340123X")


@given(st.text(alphabet="0123456789", min_size=17, max_size=17))
def test_check_character_is_the_weighted_sum_mod_11(first17: str) -> None:
    """GB 11643: the digits weighted 2^(17-i) mod 11, summed; the check is 10X98765432 at the
    remainder (the arithmetic the ASCII fast path must agree with)."""
    weights = [2 ** (17 - i) % 11 for i in range(17)]
    total = sum(int(d) * w for d, w in zip(first17, weights, strict=True))
    assert check_character(first17) == "10X98765432"[total % 11]


def test_check_character_outside_ascii_digits() -> None:
    full_width = "".join(chr(ord(d) + 0xFEE0) for d in KNOWN_VALID[:17])  # as int() reads them
    assert check_character(full_width) == "X"
    with pytest.raises(ValueError, match="invalid literal"):
        check_character("1101051949123100A")


def test_a_birth_date_after_today_is_invalid() -> None:
    today, tomorrow = date.today(), date.fromordinal(date.today().toordinal() + 1)
    assert validate_id_number(make_id("110105", today, 1)) == make_id("110105", today, 1)
    with pytest.raises(ValueError, match="birth date"):
        validate_id_number(make_id("110105", tomorrow, 1))
