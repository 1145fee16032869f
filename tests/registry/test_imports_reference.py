"""The import through the staging table answers as the import before it did (kept in
``tests.registry.import_before``): random pairs of files, a first one and a re-import of it
with changes, go through both on each backend; every result (counts) or refusal (each
problem's row, column and message, and their count), and what the registry holds after,
must be the same."""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncEngine

from registry.auth import Actor
from registry.categories import HOUSEHOLD_CATEGORIES
from registry.database import transaction
from registry.imports import service
from registry.models import change_log, households, imports, metadata, persons, registry_lock
from registry.models import status_periods as periods
from shared.db import make_sessionmaker
from tests.registry.helpers import csv_text, person_id
from tests.registry.import_before import service as before

EXAMPLES = 60
HOUSEHOLDS = [("H1", "370305"), ("H2", "370305"), ("H3", "370306")]
PEOPLE = [person_id(n) for n in range(1, 7)]
NAMES = ["张三", "李四"]
RELATIONS = ["户主", "子女"]
CATEGORIES = ["registered_poor", "dibao", "low_income", "destitute", "illness_poverty", ""]
STARTS = ["2016-01-01", "2018-01-01", "2020-01-01"]
ENDS = ["2017-06-30", "2019-12-31", "2021-12-31"]


def _end(rng: random.Random, start: str, *, wrong: float = 0.0) -> str:
    """Open, or an end after the start (with probability ``wrong``, one before it: a row's
    own problem)."""
    if rng.random() < wrong:
        return "2015-12-31"
    return rng.choice([""] + [end for end in ENDS if end > start])


def _world(rng: random.Random) -> dict[str, Any]:
    """Who is who: each person's household, name and relation, each household's region."""
    return {
        "regions": dict(HOUSEHOLDS),
        "persons": {
            number: [rng.choice(HOUSEHOLDS)[0], rng.choice(NAMES), rng.choice(RELATIONS)]
            for number in PEOPLE
        },
        "ends": {},
    }


def _row(rng: random.Random, world: dict[str, Any]) -> list[str]:
    number = rng.choice(PEOPLE)
    code, name, relation = world["persons"][number]
    category = rng.choice(CATEGORIES)
    start = rng.choice(STARTS) if category else ""
    row = [code, world["regions"][code], number, name, relation, category, start, ""]
    if category:
        row[7] = world["ends"].setdefault(_period(row), _end(rng, start))
    return row


def _period(row: list[str]) -> tuple[str, ...]:
    """Whose period a row records, and which: household-level ones are the household's."""
    return (row[0] if row[5] in HOUSEHOLD_CATEGORIES else row[2], *row[5:7])


def _first_file(rng: random.Random) -> tuple[list[list[str]], dict[str, Any]]:
    """Rows of one world, now and then a cell changed (a conflict within the file)."""
    world = _world(rng)
    rows = [_row(rng, world) for _ in range(rng.randint(1, 8))]
    if rng.random() < 0.2:
        row = rng.choice(rows)
        column = rng.choice((1, 3, 4, 7) if row[5] else (1, 3, 4))
        row[column] = {1: "370399", 3: "王五", 4: "配偶"}.get(column) or _end(
            rng, row[6], wrong=0.3
        )
    return rows, world


def _second_file(
    rng: random.Random, first: list[list[str]], world: dict[str, Any]
) -> list[list[str]]:
    """The first file again with a few changes: periods ended (and followed by a new one),
    reopened or re-dated, or starting on another date; a person renamed or moved, a
    household's region changed; rows added or dropped."""
    rows = [list(row) for row in first]
    for _ in range(rng.randint(1, 3)):
        change = rng.choice(
            ("add", "drop", "end", "exit", "again", "restart", "restart", "rename", "move")
            + ("region",)
        )
        row = rng.choice(rows)
        if change == "add":
            rows.insert(rng.randint(0, len(rows)), _row(rng, world))
        elif change == "drop" and len(rows) > 1:
            rows.remove(row)
        elif change == "end" and row[5]:  # ended (an exit), re-dated or reopened
            end = (
                _end(rng, row[6], wrong=0.1)
                if row[7]
                else rng.choice([e for e in ENDS if e > row[6]])
            )
            for other in rows:
                if _period(other) == _period(row):
                    other[7] = end
        elif change == "exit" and row[5] and not row[7]:  # ended, and a new period after
            end = rng.choice([e for e in ENDS if e > row[6]])
            for other in rows:
                if _period(other) == _period(row):
                    other[7] = end
            start = rng.choice([s for s in STARTS if s > row[6]] or STARTS)
            rows.append([*row[:6], start, _end(rng, start)])
        elif change == "again" and row[5]:  # the category again, from another date
            start = rng.choice([s for s in STARTS if s != row[6]])
            rows.append([*row[:6], start, _end(rng, start)])
        elif change == "restart" and row[5]:  # the row's period from another date instead
            row[6] = rng.choice([s for s in STARTS if s != row[6]])
            row[7] = _end(rng, row[6])
        elif change == "rename":  # on every row of the person, or now and then on one
            name, relation = rng.choice(NAMES + ["王五"]), rng.choice(RELATIONS)
            for other in rows if rng.random() < 0.7 else [row]:
                if other[2] == row[2]:
                    other[3:5] = [name, relation]
        elif change == "move":  # to another household
            code, region = rng.choice(HOUSEHOLDS)
            for other in rows:
                if other[2] == row[2]:
                    other[0:2] = [code, region]
        elif change == "region":  # of the household, on each of its rows
            for other in rows:
                if other[0] == row[0]:
                    other[1] = "370399"
    return rows


async def _clear(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        for table in reversed(metadata.sorted_tables):
            if table is not registry_lock:
                await connection.execute(delete(table))


async def _registry(engine: AsyncEngine) -> dict[str, list[Any]]:
    """What the registry holds, by the keys both runs share (not the generated ids)."""
    async with engine.connect() as connection:

        async def rows(query: Any) -> list[Any]:
            return [tuple(row) for row in await connection.execute(query)]

        code = dict(await rows(select(households.c.id, households.c.household_code)))
        number = dict(await rows(select(persons.c.id, persons.c.id_number)))
        held: dict[str, list[Any]] = {
            "households": sorted(
                await rows(
                    select(
                        households.c.household_code,
                        households.c.region_code,
                        households.c.created_by,
                        households.c.import_id.is_not(None),
                    )
                )
            ),
            "persons": sorted(
                (n, code[h], name, relation, created_by, updated is not None)
                for n, h, name, relation, created_by, updated in await rows(
                    select(
                        persons.c.id_number,
                        persons.c.household_id,
                        persons.c.name,
                        persons.c.relation,
                        persons.c.created_by,
                        persons.c.updated_at,
                    )
                )
            ),
            "periods": sorted(
                (
                    (code[h], number.get(p), category, start, end, by, reason, ended is not None)
                    for h, p, category, start, end, by, reason, ended in await rows(
                        select(
                            periods.c.household_id,
                            periods.c.person_id,
                            periods.c.category,
                            periods.c.effective_from,
                            periods.c.effective_to,
                            periods.c.ended_by,
                            periods.c.end_reason,
                            periods.c.ended_at,
                        )
                    )
                ),
                key=repr,
            ),
            "imports": await rows(
                select(
                    imports.c.actor, imports.c.sha256, imports.c.rows, imports.c.summary
                ).order_by(imports.c.id)
            ),
            "change_log": [
                (
                    action,
                    entity,
                    code.get(h),
                    number.get(p),
                    {k: v for k, v in details.items() if k != "import_id"},
                )
                for action, entity, h, p, details in await rows(
                    select(
                        change_log.c.action,
                        change_log.c.entity,
                        change_log.c.household_id,
                        change_log.c.person_id,
                        change_log.c.details,
                    ).order_by(change_log.c.id)
                )
            ],
        }
    return held


async def _answers(module: Any, engine: AsyncEngine, files: list[bytes]) -> list[Any]:
    """Each file imported in turn: the result without its import id, or the refusal."""
    answers: list[Any] = []
    for data in files:
        try:
            async with transaction(make_sessionmaker(engine)) as session:
                result = await module.import_csv(session, data, actor=Actor("reference"))
        except module.ImportRejected as exc:
            answers.append(("rejected", exc.to_dict()))
        else:
            answers.append(("imported", result.model_dump(exclude={"import_id"})))
    return answers


async def test_the_staging_import_answers_as_the_import_before(
    registry_db: str, registry_engine: AsyncEngine
) -> None:
    rng = random.Random(20261130)
    seen: Counter[str] = Counter()
    for example in range(EXAMPLES):
        first, world = _first_file(rng)
        second = _second_file(rng, first, world)
        files = [csv_text(rows).encode() for rows in (first, second)]
        outcomes = []
        for module in (before, service):
            await _clear(registry_engine)
            answers = await _answers(module, registry_engine, files)
            outcomes.append((answers, await _registry(registry_engine)))
        assert outcomes[1] == outcomes[0], (example, files)
        seen.update(_kinds(outcomes[1][0]))
    # The comparison covered each kind of answer.
    assert [kind for kind in KINDS if not seen[kind]] == [], seen


KINDS = (
    "imported",
    "persons updated",
    "periods closed",
    "rejected",
    "is before effective_from",
    "has region",
    "for the same id_number",
    "period starting",
    "on line",
    "in the registry",
    "is registered with region",
    "is registered in household",
    "the registry ended",
)


def _kinds(answers: list[Any]) -> list[str]:
    kinds = []
    for kind, body in answers:
        kinds.append(kind)
        if kind == "imported":
            kinds += ["persons updated"] * bool(body["persons"]["updated"])
            kinds += ["periods closed"] * bool(body["periods"]["closed"])
        else:
            messages = " | ".join(error["message"] for error in body["errors"])
            kinds += [k for k in KINDS if k in messages]
    return kinds
