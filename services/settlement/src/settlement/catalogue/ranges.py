"""A code's versions after an import: the stored ones merged with the file's (pure).

The rule (one for every code): a code's versions are ordered by ``begndate`` and never
overlap; each ends at the latest the day before the next one begins.

- A file row with the ``begndate`` of a stored version replaces that version (name, level,
  ratio, cap, ``enddate``); the same values again leave it unchanged.
- A file row with a new ``begndate`` adds a version. The version before it — stored or in the
  file — is closed on the day before (its ``enddate`` moves earlier; an open one gets one).
- A file row whose *written* ``enddate`` reaches into the next version is refused: the file
  contradicts itself or the catalogue. A file row with an empty ``enddate`` is closed by a
  later version like any other.
- Stored versions are never deleted: history stays, and bills already settled keep the lines
  they were classified with (the bill stores them).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

from settlement.catalogue.csvfile import EntryRow, RowError

ONE_DAY = timedelta(days=1)


Version = EntryRow
"""One version of a code (a stored entry with its ``id``, or a file row with its ``line``)."""


def same_values(a: Version, b: Version) -> bool:
    """Name, level, ratio, cap and end are the same (the begin is the version's key)."""
    return a[1:5] == b[1:5] and a.enddate == b.enddate


@dataclass
class Merged:
    """What an import does to the catalogue: stored entries to delete (``remove``: ids of the
    replaced and closed ones) and versions to insert (``write``: added, replaced, closed),
    with counts (``unchanged``: file rows the catalogue already holds as they are), or the
    file's ``errors``."""

    remove: list[int] = field(default_factory=list)
    write: list[Version] = field(default_factory=list)
    added: int = 0
    replaced: int = 0
    closed: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)


def merge_code(stored: Sequence[Version], incoming: Sequence[Version], into: Merged) -> None:
    """Merge one code's file rows (distinct ``begndate``) into its stored versions (which do
    not overlap), adding the outcome to ``into``."""
    if len(incoming) == 1 and len(stored) <= 1:  # most codes of a file: one version each
        row = incoming[0]
        if not stored:
            into.added += 1
            into.write.append(row)
            return
        old = stored[0]
        if old.begndate == row.begndate:
            if same_values(old, row):
                into.unchanged += 1
                return
            assert old.id is not None
            into.remove.append(old.id)
            into.replaced += 1
            into.write.append(row)
            return
    by_start: dict[date, Version] = {v.begndate: v for v in stored}
    stored_at = dict(by_start)
    for row in incoming:
        by_start[row.begndate] = row
    ordered = sorted(by_start.values(), key=lambda v: v.begndate)
    errors = len(into.errors)
    finals: list[Version] = []
    for position, version in enumerate(ordered):
        following = ordered[position + 1] if position + 1 < len(ordered) else None
        end = version.enddate
        if following is not None:
            last_day = following.begndate - ONE_DAY
            if end is not None and end > last_day and version.line is not None:
                where = (
                    f"on line {following.line}"
                    if following.line is not None
                    else "in the catalogue"
                )
                into.errors.append(
                    RowError(
                        version.line,
                        "enddate",
                        f"{end} overlaps the version of {version.med_list_codg} that begins "
                        f"{following.begndate} ({where}); end it by {last_day} or leave "
                        "enddate empty",
                    )
                )
            if end is None or end > last_day:
                end = last_day
        finals.append(version if end == version.enddate else version._replace(enddate=end))
    if len(into.errors) != errors:
        return
    for final in finals:
        before = stored_at.get(final.begndate)
        if before is None:
            into.added += 1
        elif same_values(before, final):
            if final.line is not None:  # a file row the catalogue already holds as it is
                into.unchanged += 1
            continue
        else:
            assert before.id is not None
            into.remove.append(before.id)
            if final.line is None or (
                final.enddate != before.enddate and _only_closed(before, final)
            ):
                into.closed += 1
            else:
                into.replaced += 1
        into.write.append(final)


def _only_closed(before: Version, after: Version) -> bool:
    """``after`` is ``before`` ended earlier, nothing else changed."""
    return (
        before.med_list_name == after.med_list_name
        and before.chrgitm_lv == after.chrgitm_lv
        and before.selfpay_prop == after.selfpay_prop
        and before.pric_uplmt_amt == after.pric_uplmt_amt
        and after.enddate is not None
        and (before.enddate is None or after.enddate < before.enddate)
    )


def merge(stored: dict[str, list[Version]], incoming: dict[str, list[Version]]) -> Merged:
    """Every code of the file merged with its stored versions."""
    out = Merged()
    for code, rows in incoming.items():
        merge_code(stored.get(code, ()), rows, out)
    return out
