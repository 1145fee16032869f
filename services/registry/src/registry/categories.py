"""Poverty and assistance categories a person or a household holds for a date range.

Household-level categories (建档立卡贫困户, 低保, 低收入家庭) are granted to a household and
apply to every member, present and future: they are stored once, on the household, and the
eligibility of each member includes them. Person-level categories (特困供养人员, 因病致贫重病患者,
贫困残疾人) belong to one person.
"""

from __future__ import annotations

from typing import Literal, get_args

Category = Literal[
    "registered_poor",
    "dibao",
    "destitute",
    "low_income",
    "illness_poverty",
    "poor_disabled",
]
CATEGORIES: tuple[Category, ...] = get_args(Category)

CATEGORY_NAMES: dict[Category, str] = {
    "registered_poor": "建档立卡贫困户",
    "dibao": "低保",
    "destitute": "特困供养",
    "low_income": "低收入家庭",
    "illness_poverty": "因病致贫",
    "poor_disabled": "贫困残疾人",
}

HOUSEHOLD_CATEGORIES: frozenset[str] = frozenset({"registered_poor", "dibao", "low_income"})
"""Categories granted to a whole household; every member holds them."""

Level = Literal["person", "household"]


def level_of(category: str) -> Level:
    return "household" if category in HOUSEHOLD_CATEGORIES else "person"
