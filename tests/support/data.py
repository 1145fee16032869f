"""Test and benchmark data: valid resident ID numbers, registry CSV files and realistic
20-item inpatient bills for ``POST /v1/settlements``. Deterministic for a given seed."""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from shared.idnumber import check_character

CSV_HEADER = (
    "household_code,region_code,id_number,name,relation,category,effective_from,effective_to"
)
KEY_CATEGORIES = ("registered_poor", "dibao", "destitute")
ASSISTED_CATEGORIES = ("low_income", "illness_poverty", "poor_disabled")
REGION_CODE = "370305"


def id_number(seq: int, *, area: str = REGION_CODE, born: date | None = None) -> str:
    """A valid 18-character ID number, distinct for each ``seq`` below 1,000 × 3,650."""
    born = born or date(1950, 1, 1) + timedelta(days=seq // 1000 % 3650 * 5)
    first17 = f"{area}{born:%Y%m%d}{seq % 1000:03d}"
    return first17 + check_character(first17)


@dataclass(frozen=True)
class Patient:
    id_number: str
    name: str
    household_code: str
    category: str  # "" = in the registry without a status; None-like "-" = not in the registry

    @property
    def registered(self) -> bool:
        return self.category != "-"

    @property
    def poor(self) -> bool:
        return self.category in KEY_CATEGORIES


_SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗"
_GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英"


def make_patients(
    count: int,
    *,
    seed: int = 7,
    start: int = 0,
    poor_share: float = 0.5,
    assisted_share: float = 0.15,
    unregistered_share: float = 0.1,
) -> list[Patient]:
    """``count`` patients: about ``poor_share`` key-assistance (poor), ``assisted_share``
    assisted, ``unregistered_share`` not in the registry, the rest registered without a status."""
    rng = random.Random(seed)
    out = []
    for i in range(start, start + count):
        roll = rng.random()
        if roll < poor_share:
            category = rng.choice(KEY_CATEGORIES)
        elif roll < poor_share + assisted_share:
            category = rng.choice(ASSISTED_CATEGORIES)
        elif roll < poor_share + assisted_share + unregistered_share:
            category = "-"
        else:
            category = ""
        name = rng.choice(_SURNAMES) + rng.choice(_GIVEN) + rng.choice(_GIVEN)
        out.append(Patient(id_number(i), name, f"H{REGION_CODE}{i:07d}", category))
    return out


def registry_csv(patients: Iterable[Patient], *, effective_from: str = "2016-01-01") -> str:
    """The poverty office's CSV for the registered patients (open-ended status periods)."""
    lines = [CSV_HEADER]
    for p in patients:
        if not p.registered:
            continue
        relation = "户主"
        since = effective_from if p.category else ""  # no status, no period
        lines.append(
            f"{p.household_code},{REGION_CODE},{p.id_number},{p.name},{relation},"
            f"{p.category},{since},"
        )
    return "\n".join(lines) + "\n"


# (code, name, category, unit price range in yuan, quantity range, price cap factor or None)
ITEM_CATALOGUE: Sequence[tuple[str, str, str, tuple[int, int], tuple[int, int], float | None]] = (
    ("110200001", "床位费", "A", (30, 80), (3, 15), None),
    ("110900001", "护理费", "A", (20, 60), (3, 15), None),
    ("120100001", "诊查费", "A", (10, 30), (3, 15), None),
    ("250101001", "血常规", "A", (15, 40), (1, 4), None),
    ("250301001", "肝功能", "A", (60, 120), (1, 3), None),
    ("250302001", "肾功能", "A", (40, 90), (1, 3), None),
    ("210102015", "CT 平扫", "B", (200, 400), (1, 2), 0.9),
    ("210200001", "核磁共振", "B", (500, 900), (1, 1), 0.85),
    ("220600001", "彩色超声", "A", (100, 200), (1, 2), None),
    ("XA01", "头孢呋辛注射液", "A", (8, 40), (5, 30), None),
    ("XB02", "奥美拉唑肠溶胶囊", "B", (2, 15), (10, 60), None),
    ("XC03", "人血白蛋白", "C", (300, 600), (1, 6), None),
    ("XB04", "阿托伐他汀钙片", "B", (3, 9), (14, 60), None),
    ("XA05", "氯化钠注射液", "A", (2, 8), (5, 40), None),
    ("311000001", "静脉输液", "A", (5, 15), (5, 30), None),
    ("330100001", "全身麻醉", "A", (800, 2000), (1, 1), None),
    ("331001001", "冠状动脉造影术", "B", (3000, 9000), (1, 1), 0.9),
    ("C0001", "一次性耗材", "C", (50, 400), (1, 10), None),
    ("XB06", "紫杉醇注射液", "B", (900, 3000), (1, 6), 0.8),
    ("XA07", "胰岛素注射液", "A", (40, 90), (1, 10), None),
    ("230500001", "心电图", "A", (15, 40), (1, 3), None),
    ("310701001", "血液透析", "B", (350, 500), (1, 12), None),
    ("C0002", "特需病房差价", "C", (100, 300), (1, 10), None),
    ("XB08", "利伐沙班片", "B", (10, 30), (7, 30), None),
)


def inpatient_items(rng: random.Random, count: int = 20) -> list[dict[str, Any]]:
    """``count`` fee items of an inpatient stay: A, B (some with a price cap) and C items."""
    picks = rng.sample(list(ITEM_CATALOGUE), k=min(count, len(ITEM_CATALOGUE)))
    while len(picks) < count:
        picks.append(rng.choice(ITEM_CATALOGUE))
    items = []
    for code, name, category, (lo, hi), (qlo, qhi), cap in picks:
        price = rng.randint(lo * 100, hi * 100) / 100
        item: dict[str, Any] = {
            "code": code,
            "name": name,
            "category": category,
            "unit_price": f"{price:.2f}",
            "quantity": rng.randint(qlo, qhi),
        }
        if cap is not None:
            item["price_cap"] = f"{price * cap:.2f}"
        items.append(item)
    return items


def settle_body(
    patient: Patient,
    visit_id: str,
    items: list[dict[str, Any]],
    *,
    admitted_on: date,
    days: int = 7,
    visit_type: str = "inpatient",
) -> dict[str, Any]:
    return {
        "patient": {"id_number": patient.id_number, "name": patient.name},
        "visit": {
            "visit_id": visit_id,
            "type": visit_type,
            "admitted_on": admitted_on.isoformat(),
            "discharged_on": (admitted_on + timedelta(days=days)).isoformat(),
            "diagnoses": ["I21.9"],
        },
        "items": items,
    }
