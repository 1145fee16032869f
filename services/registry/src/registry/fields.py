"""Field types shared by the registry's API schemas, CSV import and routes."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated

from pydantic import BeforeValidator

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
HOUSEHOLD_CODE_PATTERN = r"^[0-9A-Za-z_-]{1,40}$"
REGION_CODE_PATTERN = r"^\d{6,12}$"
NAME_MAX = 64
RELATION_MAX = 32
NOTE_MAX = 500
REASON_MAX = 200


def parse_iso_date(value: object) -> date:
    """A calendar date written ``YYYY-MM-DD`` (nothing else: no timestamps, no ``20240101``)."""
    if isinstance(value, date):
        return value
    if not isinstance(value, str) or not _ISO_DATE.match(value.strip()):
        raise ValueError("must be a date written YYYY-MM-DD")
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise ValueError("is not a valid calendar date") from None


IsoDate = Annotated[date, BeforeValidator(parse_iso_date)]
"""A ``YYYY-MM-DD`` date."""
