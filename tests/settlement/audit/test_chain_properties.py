"""The hash chain, pure: any change to one field of one record, or a record removed, is found
at that record (or, for a removal, at the next one of its chain); an untouched log holds."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from settlement.audit.chain import GENESIS, ChainChecker, canonical, record_hash, seal

FIELDS = ("at", "actor", "action", "subject", "request_id", "detail", "prev_hash", "hash")


@dataclass(frozen=True)
class Record:
    id: int
    chain: str
    seq: int
    at: datetime
    actor: str
    action: str
    subject: str
    request_id: str | None
    detail: str
    prev_hash: str
    hash: str


def build(entries: list[tuple[int, str, str]]) -> list[Record]:
    """Records appended in order: (chain number, action, detail text)."""
    heads: dict[str, tuple[int, str]] = {}
    out = []
    start = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
    for number, (chain_no, action, detail) in enumerate(entries, start=1):
        chain = f"p:{chain_no:032x}"
        seq, prev = heads.get(chain, (0, GENESIS))
        row = seal(
            {
                "chain": chain,
                "at": start + timedelta(seconds=number, microseconds=number),
                "actor": "hospital:H1",
                "action": action,
                "subject": f"S{number:06d}",
                "request_id": None if number % 3 else f"req-{number}",
                "detail": detail,
            },
            seq=seq + 1,
            prev_hash=prev,
        )
        heads[chain] = (seq + 1, row["hash"])
        out.append(Record(id=number, **row))
    return out


def check(log: list[Record]) -> list[Any]:
    checker = ChainChecker()
    found = []
    for record in sorted(log, key=lambda r: (r.chain, r.seq)):
        found.extend(checker.feed(record))
    stored = {(r.chain, r.seq): r.hash for r in log}
    found.extend(checker.close(stored))
    return found


entries = st.lists(
    st.tuples(
        st.integers(0, 3),
        st.sampled_from(["settle", "revoke", "admission", "flag.review"]),
        st.text(min_size=0, max_size=20),
    ),
    min_size=1,
    max_size=30,
)


@settings(max_examples=150, deadline=None)
@given(entries)
def test_an_untouched_log_holds(items: list[tuple[int, str, str]]) -> None:
    assert check(build(items)) == []


@settings(max_examples=300, deadline=None)
@given(entries, st.data())
def test_one_changed_field_is_found_at_its_record(
    items: list[tuple[int, str, str]], data: st.DataObject
) -> None:
    log = build(items)
    index = data.draw(st.integers(0, len(log) - 1))
    name = data.draw(st.sampled_from(FIELDS))
    target = log[index]
    value: Any = getattr(target, name)
    if name == "at":
        changed: Any = value + timedelta(microseconds=1)
    elif name in ("prev_hash", "hash"):
        changed = ("0" if value[0] != "0" else "1") + value[1:]
    elif name == "request_id":
        changed = "forged" if value is None else None
    else:
        changed = value + "x"
    log[index] = replace(target, **{name: changed})
    found = check(log)
    assert found, (name, index)
    first = min(found, key=lambda b: b.order())
    if name == "hash":
        # A record whose stored hash was replaced breaks at itself (and at the next record's
        # link): the earliest break is the record.
        assert first.record_id == target.id
    else:
        assert first.record_id == target.id
        assert first.kind in ("hash", "link")


@settings(max_examples=200, deadline=None)
@given(entries, st.data())
def test_a_removed_record_is_found_at_the_next_one_of_its_chain(
    items: list[tuple[int, str, str]], data: st.DataObject
) -> None:
    log = build(items)
    index = data.draw(st.integers(0, len(log) - 1))
    removed = log.pop(index)
    later = [r for r in log if r.chain == removed.chain and r.seq > removed.seq]
    found = check(log)
    if not later:
        # The last record of a chain leaves no trace in the chain itself (the bills' check
        # covers the records that carry money).
        assert found == []
        return
    assert any(b.record_id == later[0].id and b.kind in ("sequence", "link") for b in found)


def test_the_canonical_form_is_stable() -> None:
    """The bytes the hash covers, written out: a change here breaks every stored chain."""
    body = canonical(
        chain="system",
        seq=1,
        at=datetime(2026, 12, 1, 0, 0, 0, 5, tzinfo=UTC),
        actor="admin",
        action="hospital.create",
        subject="H001",
        request_id=None,
        detail='{"level":2,"name":"某某县人民医院"}',
    )
    assert (
        body
        == (
            '{"action":"hospital.create","actor":"admin","at":"2026-12-01T00:00:00.000005Z",'
            '"chain":"system","detail":"{\\"level\\":2,\\"name\\":\\"某某县人民医院\\"}",'
            '"request_id":null,"seq":1,"subject":"H001"}'
        ).encode()
    )
    assert record_hash(GENESIS, body) == record_hash(GENESIS, body)
    assert len(record_hash(GENESIS, body)) == 64
