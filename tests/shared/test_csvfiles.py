"""The CSV uploads' shared rules: the media type accepted (the registry's import, the
catalogue and its mappings) and a file problem's shape."""

from __future__ import annotations

import pytest

from shared.csvfiles import RowError, require_csv
from shared.errors import UnsupportedMediaType


@pytest.mark.parametrize(
    "content_type",
    [
        "text/csv",
        "TEXT/CSV",
        " text/csv ; charset=utf-8",
        'text/csv; charset="UTF8"',
        "text/csv; header=present; charset=UTF-8",
    ],
)
def test_utf8_csv_is_accepted(content_type: str) -> None:
    require_csv(content_type)


@pytest.mark.parametrize(
    ("content_type", "says"),
    [
        (None, "must be text/csv"),
        ("", "must be text/csv"),
        ("text/plain", "must be text/csv"),
        ("application/csv", "must be text/csv"),
        ("text/csv; charset=gbk", "must be UTF-8"),
        ("text/csv; charset=latin-1", "must be UTF-8"),
    ],
)
def test_anything_else_is_a_415(content_type: str | None, says: str) -> None:
    with pytest.raises(UnsupportedMediaType, match=says) as refused:
        require_csv(content_type)
    assert refused.value.status == 415


def test_a_row_error_names_row_and_column() -> None:
    assert RowError(7, "id_number", "bad").as_dict() == {
        "row": 7,
        "column": "id_number",
        "field": "row 7.id_number",
        "message": "bad",
    }
    assert RowError(2, None, "not UTF-8").as_dict()["field"] == "row 2"
