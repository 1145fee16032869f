"""The catalogue in memory, per process: a settle or preview classifies its lines without a
database round trip.

What a process holds: every entry of the catalogue (code → its versions) and, loaded on a
hospital's first bill, that hospital's mapping. Both are replaced whole, never changed in
place, so a bill is classified against one version of the catalogue and one of its
hospital's mapping, even while an import runs.

How it stays current: each catalogue import that changes an entry moves the ``catalogue``
counter in ``catalogue_versions``, each mapping import the hospital's ``hospital:<id>``
counter, in the import's transaction. In the process that ran the import, the next bill
reads the counters and reloads before it is classified (:meth:`CatalogueCache.invalidate`),
so a bill that starts after the import's answer is never stale there. Every other process
(another worker, another host) reads the counters at most once per ``check_interval_s``
(``SETTLEMENT_CATALOGUE_CHECK_S``, default 1 s), on its next bill, and reloads what moved.
**Staleness bound**: a bill is classified with a catalogue at most ``check_interval_s`` plus
one reload older than the newest committed import. A reload reads only the codes that imports
since the last one wrote (all 200,000 entries of a national catalogue take about 1.5 s of CPU;
a small import, milliseconds); while one bill reloads, the others of the process go on with
the catalogue they have, except right after an import in that process.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from types import MappingProxyType
from typing import Any, NamedTuple

from settlement.catalogue import repository
from settlement.database import Database


class Entry(NamedTuple):
    """One version of a national code, as classification needs it."""

    begndate: date
    enddate: date | None  # included; None: open
    chrgitm_lv: str  # "01" 甲类, "02" 乙类, "03" 丙类
    selfpay_prop: Decimal | None
    pric_uplmt_amt: Decimal | None


Entries = Mapping[str, tuple[Entry, ...]]
_NOTHING: Mapping[str, str] = MappingProxyType({})
_NO_ENTRIES: Entries = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class CatalogueView:
    """What one bill's lines are classified with: the catalogue (``version`` of it) and the
    hospital's mapping (own code → national code). Immutable."""

    version: int
    entries: Entries
    mapping: Mapping[str, str]

    @property
    def loaded(self) -> bool:
        """A catalogue is loaded: it, not the hospital, decides the lines."""
        return bool(self.entries)

    def national_code(self, code: str) -> str | None:
        """The national code a hospital's line ``code`` stands for: its mapping, else the code
        itself when the catalogue has it; None for a code in neither."""
        mapped = self.mapping.get(code)
        if mapped is not None:
            return mapped
        return code if code in self.entries else None

    def entry(self, national_code: str, on: date) -> Entry | None:
        """The version of ``national_code`` valid on ``on``, or None."""
        for version in self.entries.get(national_code, ()):
            if version.begndate <= on and (version.enddate is None or on <= version.enddate):
                return version
        return None


EMPTY_VIEW = CatalogueView(0, _NO_ENTRIES, _NOTHING)
"""No catalogue loaded: the lines keep what the hospital declared."""


async def load_entries(
    db: Database, base: Entries | None = None, since: int = 0
) -> tuple[Entries, int]:
    """The catalogue (code → its versions, oldest first) and the last import read: every
    entry, or ``base`` with the codes that imports after ``since`` wrote read again."""
    out: dict[str, tuple[Entry, ...]] = {} if base is None else dict(base)
    last = since
    changed: set[str] = set()
    # Dates, ratios and caps repeat across a national catalogue: one object each.
    shared: dict[Any, Any] = {}
    one = shared.setdefault
    async with db.snapshot() as conn:
        rows_of = repository.stream_entries(conn, None if base is None else since)
        async for rows in rows_of:
            for code, level, ratio, cap, begin, end, import_id in rows:
                entry = Entry(one(begin, begin), one(end, end), level, one(ratio, ratio), cap)
                if code not in changed:
                    changed.add(code)
                    out[code] = (entry,)
                else:
                    out[code] = (*out[code], entry)
                if import_id > last:
                    last = import_id
    return MappingProxyType(out), last


class CatalogueCache:
    """The per-process catalogue (see the module's docstring for how it stays current)."""

    def __init__(
        self,
        db: Database,
        *,
        check_interval_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.db = db
        self.check_interval_s = check_interval_s
        self._clock = clock
        self._lock = asyncio.Lock()
        self._next_check = 0.0
        self._counters: dict[str, int] = {}
        self._catalogue: tuple[int, Entries] | None = None
        self._last_import = 0
        self._mappings: dict[int, tuple[int, Mapping[str, str]]] = {}
        # Imports committed in this process (``invalidate``) and how many of them the loaded
        # catalogue has seen: while behind, every bill waits for the reload.
        self._imports = 0
        self._seen_imports = 0

    async def view(self, hospital_id: int) -> CatalogueView:
        """The catalogue and the hospital's mapping to classify one bill with."""
        if self._catalogue is None or self._behind() or self._clock() >= self._next_check:
            await self._check()
        assert self._catalogue is not None
        version, entries = self._catalogue
        if not entries:
            return EMPTY_VIEW
        wanted = self._counters.get(repository.hospital_key(hospital_id), 0)
        cached = self._mappings.get(hospital_id)
        if cached is None or cached[0] != wanted:
            cached = await self._load_mapping(hospital_id, wanted)
        return CatalogueView(version, entries, cached[1])

    def invalidate(self) -> None:
        """An import committed in this process: the next bill reads the counters and reloads
        what moved, and bills wait for that reload."""
        self._imports += 1

    def _behind(self) -> bool:
        return self._seen_imports < self._imports

    async def refresh(self) -> None:
        """Read the counters now and reload what moved."""
        async with self._lock:
            await self._reload()

    async def _check(self) -> None:
        if self._catalogue is not None and not self._behind() and self._lock.locked():
            return  # another bill is checking: this one uses what is loaded
        async with self._lock:
            if self._catalogue is None or self._behind() or self._clock() >= self._next_check:
                await self._reload()

    async def _reload(self) -> None:
        imports = self._imports  # those committed before the counters are read
        async with self.db.read() as conn:
            counters = await repository.all_versions(conn)
        current = counters.get(repository.CATALOGUE_KEY, 0)
        if self._catalogue is None or self._catalogue[0] != current:
            # Read after the counter: the entries are at least as new as it says. Once loaded,
            # only the codes later imports wrote are read again.
            base = None if self._catalogue is None else self._catalogue[1]
            entries, self._last_import = await load_entries(self.db, base, self._last_import)
            self._catalogue = (current, entries)
        self._counters = counters
        self._next_check = self._clock() + self.check_interval_s
        self._seen_imports = imports

    async def _load_mapping(self, hospital_id: int, version: int) -> tuple[int, Mapping[str, str]]:
        """The hospital's mapping as of (at least) ``version`` of its counter."""
        if version == 0:
            loaded: tuple[int, Mapping[str, str]] = (0, _NOTHING)
        else:
            async with self.db.read() as conn:
                mapping = await repository.mapping_of(conn, hospital_id)
            loaded = (version, MappingProxyType(mapping))
        self._mappings[hospital_id] = loaded
        return loaded
