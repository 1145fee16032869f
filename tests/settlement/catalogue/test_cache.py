"""The per-process catalogue: current at once in the process that imports, within the check
interval in every other; a bill is classified by one catalogue even while an import runs."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any

from settlement.catalogue.cache import CatalogueCache
from settlement.hospitals.repository import HospitalRef
from tests.settlement.conftest import (
    Hospital,
    Service,
    bill_body,
    check_bill,
    make_id_number,
    settle,
)
from tests.support import ledger

from .conftest import catalogue_csv, code, import_catalogue, import_mapping, line


async def ref_of(svc: Service, hospital: Hospital) -> HospitalRef:
    found = await svc.app.state.ctx.hospitals.by_api_key(hospital.key)
    assert found is not None
    return found  # type: ignore[no-any-return]


async def test_another_process_sees_an_import_within_its_check_interval(cat_svc: Service) -> None:
    drug = code("STL")
    await import_catalogue(cat_svc, catalogue_csv([(drug, "某药", "01", "", "", "2020-01-01", "")]))
    hospital = await cat_svc.hospital()
    await import_mapping(cat_svc, hospital, [("OWN-STL", drug)])
    ref = await ref_of(cat_svc, hospital)
    # A second process on the same database, with a clock the test moves.
    clock = [1000.0]
    other = CatalogueCache(cat_svc.app.state.ctx.db, check_interval_s=1.0, clock=lambda: clock[0])
    on = date(2026, 3, 1)

    async def level_elsewhere() -> str | None:
        view = await other.view(ref.id)
        national = view.national_code("OWN-STL")
        entry = view.entry(national, on) if national else None
        return entry.chrgitm_lv if entry else None

    assert await level_elsewhere() == "01"
    await import_catalogue(cat_svc, catalogue_csv([(drug, "某药", "03", "", "", "2020-01-01", "")]))
    # The importing process classifies with the new version at once …
    preview = await cat_svc.client.post(
        "/v1/settlements/preview",
        json=bill_body(
            make_id_number(),
            visit_type="outpatient",
            admitted_on="2026-03-01",
            discharged_on=None,
            items=[line("OWN-STL", "某药", "A", "10.00")],
        ),
        headers=hospital.headers(),
    )
    assert preview.json()["lines"][0]["chrgitm_lv"] == "03"
    # … another within its check interval, not before.
    clock[0] += 0.999
    assert await level_elsewhere() == "01"
    clock[0] += 0.001
    assert await level_elsewhere() == "03"
    # A hospital's new mapping too.
    other_drug = code("ST2")
    await import_catalogue(
        cat_svc, catalogue_csv([(other_drug, "另一药", "02", "", "", "2020-01-01", "")])
    )
    await import_mapping(cat_svc, hospital, [("OWN-STL", other_drug)])
    assert await level_elsewhere() == "03"
    clock[0] += 1.0
    assert await level_elsewhere() == "02"


async def test_an_import_running_while_bills_settle(cat_svc: Service) -> None:
    x, y = code("CCX"), code("CCY")
    filler = [(code("FIL"), "填充条目", "01", "", "", "2020-01-01", "") for _ in range(3000)]
    await import_catalogue(
        cat_svc,
        catalogue_csv(
            [
                (x, "某检查", "02", "0.10", "", "2020-01-01", ""),
                (y, "某药", "02", "0.10", "", "2020-01-01", ""),
            ]
        ),
    )
    hospital = await cat_svc.hospital()
    await import_mapping(cat_svc, hospital, [("CX", x), ("CY", y)])
    # Both become 丙类, in a file large enough to take a while.
    change = catalogue_csv(
        [
            (x, "某检查", "03", "", "", "2020-01-01", ""),
            (y, "某药", "03", "", "", "2020-01-01", ""),
            *filler,
        ]
    )
    people = [cat_svc.registry.add(make_id_number(), "registered_poor") for _ in range(12)]
    items = [line("CX", "某检查", "A", "100.00"), line("CY", "某药", "A", "50.00", 2)]

    async def one(person: str) -> Any:
        body = bill_body(
            person,
            visit_type="outpatient",
            admitted_on="2026-04-01",
            discharged_on=None,
            items=items,
        )
        return await settle(cat_svc, hospital, body)

    results = await asyncio.gather(
        *(one(p) for p in people[:6]),
        import_catalogue(cat_svc, change),
        *(one(p) for p in people[6:]),
    )
    imported = results[6]
    assert (imported["replaced"], imported["added"]) == (2, 3000)
    for response in results[:6] + results[7:]:
        assert response.status_code == 201, response.text
        bill = response.json()
        check_bill(bill)
        levels = {entry["chrgitm_lv"] for entry in bill["lines"]}
        assert levels in ({"02"}, {"03"}), levels  # one catalogue per bill, never a mix
        expected_own = "300.00" if levels == {"03"} else "0.00"
        assert bill["fulamt_ownpay_amt"] == expected_own
    # After the import's answer, every bill uses the new catalogue.
    after = await one(cat_svc.registry.add(make_id_number(), "registered_poor"))
    assert {entry["chrgitm_lv"] for entry in after.json()["lines"]} == {"03"}
    db = cat_svc.app.state.ctx.db
    for person in people:
        assert await ledger.person_problems(db, person, 2026) == []
