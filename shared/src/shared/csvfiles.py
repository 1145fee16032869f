"""What the services' CSV uploads share: the media type they accept, the shape of a
problem found in a file and the 422 of a file refused whole (the registry's import, the
insurer's catalogue and its mappings)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from shared.errors import Unprocessable, UnsupportedMediaType

_UTF8 = ("utf-8", "utf8")


def require_csv(content_type: str | None) -> None:
    """A ``Content-Type`` of ``text/csv``, UTF-8 (no ``charset``, or ``utf-8`` / ``utf8``,
    any case, quoted or not); otherwise :class:`UnsupportedMediaType` (415)."""
    media_type, _, params = (content_type or "").partition(";")
    if media_type.strip().lower() != "text/csv":
        raise UnsupportedMediaType("The body must be text/csv (UTF-8).")
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset" and value.strip().strip('"').lower() not in _UTF8:
            raise UnsupportedMediaType("The CSV must be UTF-8 (charset=utf-8).")


@dataclass(frozen=True, slots=True)
class RowError:
    """One problem in an uploaded file: ``row`` is the line number (the header is 1),
    ``column`` the header's name, or None when it concerns the whole row."""

    row: int
    column: str | None
    message: str

    def as_dict(self) -> dict[str, Any]:
        """``{row, column, field, message}``, ``field`` as ``row 7.id_number`` (the
        problem+json ``errors`` entry of a refused file)."""
        return {
            "row": self.row,
            "column": self.column,
            "field": f"row {self.row}" + (f".{self.column}" if self.column else ""),
            "message": self.message,
        }


class FileRejected(Unprocessable):
    """A file refused whole (422, nothing written): ``errors`` lists ``shown`` (the first
    problems, by row and column) as :meth:`RowError.as_dict`, ``error_count`` counts them
    all and ``truncated`` says whether the list stops short. ``row_errors`` and
    ``error_count`` keep them for a command line's report."""

    def __init__(self, shown: Sequence[RowError], count: int) -> None:
        detail = f"The file has {count} problem{'s' if count != 1 else ''}; nothing was imported."
        if count > len(shown):
            detail += f" The first {len(shown)} are listed."
        super().__init__(
            detail,
            errors=[e.as_dict() for e in shown],
            extra={"error_count": count, "truncated": count > len(shown)},
        )
        self.row_errors: Sequence[RowError] = shown
        self.error_count = count
