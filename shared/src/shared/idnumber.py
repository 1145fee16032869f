"""Resident ID numbers (居民身份证号码, GB 11643): validation and masking.

An ID number is 18 characters: a 6-digit area code, an 8-digit birth date, a 3-digit sequence
and an ISO 7064 MOD 11-2 check character (0-9 or X).
"""

from __future__ import annotations

import re
from datetime import date
from operator import mul
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"
_SHAPE = re.compile(r"^\d{17}[\dX]$")


_ZERO_WEIGHTS = ord("0") * sum(_WEIGHTS)
_FIRST_SAFE_YEAR = date.today().year
"""Birth years before this one are never in the future (today only moves forward)."""


def check_character(first17: str) -> str:
    """The ISO 7064 MOD 11-2 check character for the first 17 digits."""
    if len(first17) != len(_WEIGHTS):
        raise ValueError("expected 17 digits")
    if first17.isascii() and first17.isdigit():  # the digits' codes, less the code of "0"
        total = sum(map(mul, first17.encode(), _WEIGHTS)) - _ZERO_WEIGHTS
    else:
        total = sum(map(mul, map(int, first17), _WEIGHTS))
    return _CHECK[total % 11]


def validate_id_number(value: str) -> str:
    """Return the normalised ID number (upper-case X) or raise ``ValueError`` saying why."""
    if not isinstance(value, str):
        raise ValueError("must be a string of 18 characters")
    text = value.strip().upper()
    if len(text) != 18:
        raise ValueError("must be 18 characters")
    if not _SHAPE.match(text):
        raise ValueError("must be 17 digits followed by a digit or X")
    try:
        born = date(int(text[6:10]), int(text[10:12]), int(text[12:14]))
    except ValueError:
        raise ValueError("has an invalid birth date") from None
    if born.year < 1880 or (born.year >= _FIRST_SAFE_YEAR and born > date.today()):
        raise ValueError("has an invalid birth date")
    if check_character(text[:17]) != text[17]:
        raise ValueError("has a wrong check digit")
    return text


def birth_date(id_number: str) -> date:
    """The birth date an ID number carries (characters 7–14, ``YYYYMMDD``).

    ``id_number`` is a validated number (``validate_id_number``); anything else raises
    ``ValueError``."""
    text = id_number.strip()
    try:
        return date(int(text[6:10]), int(text[10:12]), int(text[12:14]))
    except (ValueError, IndexError):
        raise ValueError("has an invalid birth date") from None


def age_on(id_number: str, day: date) -> int:
    """The holder's age in full years (周岁) on ``day``, from the ID number's birth date: one
    more on each birthday (someone born on 29 February turns a year older on 1 March in other
    years). 0 before the first birthday, and for a day before the birth date."""
    born = birth_date(id_number)
    years = day.year - born.year - ((day.month, day.day) < (born.month, born.day))
    return years if years > 0 else 0


def mask_id_number(value: str) -> str:
    """Show the first 6 and last 4 characters only: ``370305********1234``."""
    if len(value) <= 10:
        return "*" * len(value)
    return value[:6] + "*" * (len(value) - 10) + value[-4:]


def _strip(value: object) -> object:
    return value.strip().upper() if isinstance(value, str) else value


IdNumber = Annotated[str, BeforeValidator(_strip), AfterValidator(validate_id_number)]
"""A validated 18-character resident ID number."""
