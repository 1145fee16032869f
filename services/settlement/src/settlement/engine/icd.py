"""ICD-10 diagnosis codes (疾病诊断编码) as the policy matches them: by code prefix.

A policy lists prefixes (``H25``, ``C91.0``, ``N18.5``); a visit's diagnosis matches a prefix
when its code, upper-cased and without the dot, starts with the prefix written the same way —
``C91.000`` and ``C91.0x01`` match ``C91.0``; ``C92.4`` does not match ``C91``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from .errors import BillInputError

PREFIX = re.compile(r"^[A-Z][0-9][0-9A-Z](\.?[0-9A-Z]{1,12})?$")
"""A prefix a policy may list: a letter, two characters (``C91``), optionally more after a
dot (``C91.0``, ``N18.5``)."""


def normalise(code: str) -> str:
    """A code as compared: upper case, no dot, no surrounding space (``c91.0`` → ``C910``)."""
    return code.strip().upper().replace(".", "")


def visit_codes(diagnoses: Sequence[str]) -> tuple[str, ...]:
    """The visit's diagnoses, normalised; a non-string entry raises ``BillInputError`` naming
    it (``diagnoses[1]``)."""
    out = []
    for index, code in enumerate(diagnoses):
        if not isinstance(code, str) or not code.strip():
            raise BillInputError(f"diagnoses[{index}]", "must be an ICD-10 code")
        out.append(normalise(code))
    return tuple(out)


def first_match(prefixes: Iterable[str], codes: Sequence[str]) -> int | None:
    """The index of the first of the visit's (normalised) ``codes`` that starts with one of
    the (normalised) ``prefixes``, or None."""
    for index, code in enumerate(codes):
        for prefix in prefixes:
            if code.startswith(prefix):
                return index
    return None
