"""Catalogue and mapping imports over the API: all or nothing, every bad row and field named,
dry runs, versions closing and replacing one another, listings."""

from __future__ import annotations

from typing import Any

from tests.settlement.conftest import Service, admin_headers, problem

from .conftest import (
    CSV,
    catalogue_csv,
    code,
    import_catalogue,
    import_mapping,
    mapping_csv,
)


def row_errors(body: dict[str, Any]) -> list[tuple[int, str | None]]:
    return [(e["row"], e["column"]) for e in body["errors"]]


async def entry_status(svc: Service, national: str) -> int:
    response = await svc.client.get(f"/v1/catalogue/entries/{national}", headers=admin_headers())
    return response.status_code


async def versions(svc: Service, national: str) -> list[tuple[str, str, str | None]]:
    response = await svc.client.get(f"/v1/catalogue/entries/{national}", headers=admin_headers())
    assert response.status_code == 200, response.text
    return [(v["chrgitm_lv"], v["begndate"], v["enddate"]) for v in response.json()["versions"]]


async def status(svc: Service) -> dict[str, Any]:
    body: dict[str, Any] = (await svc.client.get("/v1/catalogue", headers=admin_headers())).json()
    return body


async def test_a_bad_file_is_refused_whole_naming_every_bad_row_and_field(
    cat_svc: Service,
) -> None:
    good, dup, lv1, lv3 = code("OK"), code("DUP"), code("LV1"), code("LV3")
    before = await status(cat_svc)
    data = catalogue_csv(
        [
            (good, "好的条目", "01", "", "", "2020-01-01", ""),  # line 2
            (dup, "重复", "02", "0.1", "", "2020-01-01", ""),  # line 3
            ("bad code!", "", "04", "1.5", "-3", "2020-02-30", "x"),  # line 4
            (dup, "重复", "02", "0.1", "", "2020-01-01", "2019-01-01"),  # line 5
            (lv1, "甲类却自付", "01", "0.2", "0", "2020-01-01", ""),  # line 6
            (lv3, "丙类", "3", "0.5", "12.345", "20200101", ""),  # line 7
        ]
    )
    response = await cat_svc.client.post(
        "/v1/catalogue/imports", content=data, headers={**admin_headers(), **CSV}
    )
    assert response.status_code == 422
    body = problem(response)
    assert row_errors(body) == [
        (4, "begndate"),
        (4, "chrgitm_lv"),
        (4, "enddate"),
        (4, "med_list_codg"),
        (4, "med_list_name"),
        (4, "pric_uplmt_amt"),
        (4, "selfpay_prop"),
        (5, "begndate"),
        (5, "enddate"),
        (6, "pric_uplmt_amt"),
        (6, "selfpay_prop"),
        (7, "begndate"),
        (7, "pric_uplmt_amt"),
        (7, "selfpay_prop"),
    ]
    assert body["error_count"] == 14
    assert body["errors"][0]["field"] == "row 4.begndate"
    messages = {(e["row"], e["column"]): e["message"] for e in body["errors"]}
    assert "line 3" in messages[(5, "begndate")]
    assert "甲类" in messages[(6, "selfpay_prop")]
    # Nothing was written, not even the good rows.
    assert await entry_status(cat_svc, good) == 404
    after = await status(cat_svc)
    assert (after["version"], after["entries"]) == (before["version"], before["entries"])


async def test_a_row_overlapping_the_catalogue_is_refused(cat_svc: Service) -> None:
    drug = code("OVL")
    await import_catalogue(cat_svc, catalogue_csv([(drug, "某药", "01", "", "", "2020-01-01", "")]))
    # A version before the stored one whose written end reaches into it; two file versions
    # that overlap each other.
    other = code("OV2")
    body = await import_catalogue(
        cat_svc,
        catalogue_csv(
            [
                (drug, "某药", "02", "", "", "2019-01-01", "2020-06-30"),
                (other, "另一药", "01", "", "", "2021-01-01", "2023-12-31"),
                (other, "另一药", "02", "", "", "2023-01-01", ""),
                (code("OV3"), "等级错", "9", "", "", "2023-01-01", ""),
            ]
        ),
        expect=422,
    )
    # The file's own problems and its overlaps with the catalogue, in one answer.
    assert row_errors(body) == [(2, "enddate"), (3, "enddate"), (5, "chrgitm_lv")]
    assert "in the catalogue" in body["errors"][0]["message"]
    assert "line 4" in body["errors"][1]["message"]
    assert await versions(cat_svc, drug) == [("01", "2020-01-01", None)]
    assert await entry_status(cat_svc, other) == 404


async def test_versions_replace_close_and_repeat_without_change(cat_svc: Service) -> None:
    a, b = code("VRA"), code("VRB")
    first = catalogue_csv(
        [
            (a, "甲药", "02", "0.10", "", "2020-01-01", ""),
            (b, "乙药", "01", "", "", "2020-01-01", ""),
        ],
        bom=True,
    )
    dry = await import_catalogue(cat_svc, first, dry_run=True)
    assert (dry["dry_run"], dry["changed"], dry["added"]) == (True, False, 2)
    assert await entry_status(cat_svc, a) == 404
    done = await import_catalogue(cat_svc, first)
    assert (done["changed"], done["added"], done["rows"], done["codes"]) == (True, 2, 2, 2)
    assert done["import_id"] is not None
    assert done["version"] == dry["version"] + 1
    again = await import_catalogue(cat_svc, first)
    assert (again["changed"], again["unchanged"], again["import_id"]) == (False, 2, None)
    assert again["version"] == done["version"]
    # The same begndate with other values replaces; a new begndate closes the version before.
    later = await import_catalogue(
        cat_svc,
        catalogue_csv(
            [
                (a, "甲药", "02", "0.15", "", "2020-01-01", ""),
                (b, "乙药", "03", "", "", "2025-07-01", ""),
            ]
        ),
    )
    assert (later["replaced"], later["closed"], later["added"]) == (1, 1, 1)
    assert await versions(cat_svc, a) == [("02", "2020-01-01", None)]
    assert await versions(cat_svc, b) == [
        ("01", "2020-01-01", "2025-06-30"),
        ("03", "2025-07-01", None),
    ]
    detail = await cat_svc.client.get(f"/v1/catalogue/entries/{a}", headers=admin_headers())
    assert detail.json()["versions"][0]["selfpay_prop"] == "0.15"
    # The first file again: its row for b (open) is closed by the stored later version, a's
    # ratio goes back: one replaced, the rest as it is.
    back = await import_catalogue(cat_svc, first)
    assert (back["replaced"], back["unchanged"], back["added"], back["closed"]) == (1, 1, 0, 0)
    assert await versions(cat_svc, b) == [
        ("01", "2020-01-01", "2025-06-30"),
        ("03", "2025-07-01", None),
    ]
    state = await status(cat_svc)
    assert state["loaded"] is True
    assert state["last_import"]["replaced"] == 1


async def test_who_may_import_and_how(cat_svc: Service) -> None:
    data = catalogue_csv([(code("AUT"), "x", "01", "", "", "2020-01-01", "")])
    hospital = await cat_svc.hospital()
    as_hospital = await cat_svc.client.post(
        "/v1/catalogue/imports", content=data, headers={**hospital.headers(), **CSV}
    )
    assert as_hospital.status_code == 403
    anonymous = await cat_svc.client.post("/v1/catalogue/imports", content=data, headers=CSV)
    assert anonymous.status_code == 401
    as_json = await cat_svc.client.post(
        "/v1/catalogue/imports",
        content=data,
        headers={**admin_headers(), "Content-Type": "application/json"},
    )
    assert as_json.status_code == 415
    latin = await cat_svc.client.post(
        "/v1/catalogue/imports",
        content=data,
        headers={**admin_headers(), "Content-Type": "text/csv; charset=gbk"},
    )
    assert latin.status_code == 415
    gbk = data.replace(b"x,01", b"\xb2\xe2\xca\xd4,01")  # GBK, not UTF-8
    not_utf8 = await import_catalogue(cat_svc, gbk, expect=422)
    assert row_errors(not_utf8) == [(2, None)]
    header = await import_catalogue(cat_svc, b"code,name\nA,B\n", expect=422)
    assert row_errors(header) == [(1, "med_list_codg")]
    empty = await import_catalogue(cat_svc, b"", expect=422)
    assert row_errors(empty) == [(1, None)]


async def test_mapping_imports_refuse_unknown_national_codes_by_row(cat_svc: Service) -> None:
    known = code("MAP")
    await import_catalogue(
        cat_svc, catalogue_csv([(known, "项目", "01", "", "", "2020-01-01", "")])
    )
    hospital = await cat_svc.hospital()
    unknown = code("NOPE")
    body = await import_mapping(
        cat_svc,
        hospital,
        [("A1", known), ("A2", unknown), ("A3", known), ("A1", known), ("A4", "bad code")],
        expect=422,
    )
    assert row_errors(body) == [(3, "med_list_codg"), (5, "medins_list_codg"), (6, "med_list_codg")]
    assert unknown in body["errors"][0]["message"]
    listing = await cat_svc.client.get("/v1/catalogue/mappings", headers=hospital.headers())
    assert listing.json()["total"] == 0
    # The unknown code (after the bad rows are gone) is still refused: checked in the
    # catalogue, all or nothing.
    body = await import_mapping(cat_svc, hospital, [("A1", known), ("A2", unknown)], expect=422)
    assert row_errors(body) == [(3, "med_list_codg")]
    assert (await cat_svc.client.get("/v1/catalogue/mappings", headers=hospital.headers())).json()[
        "total"
    ] == 0


async def test_mappings_by_admin_listed_paged_and_as_csv(cat_svc: Service) -> None:
    x, y = code("MX"), code("MY")
    await import_catalogue(
        cat_svc,
        catalogue_csv(
            [
                (x, "项目X", "01", "", "", "2020-01-01", ""),
                (y, "项目Y", "02", "", "", "2020-01-01", ""),
            ]
        ),
    )
    hospital = await cat_svc.hospital()
    missing = await cat_svc.client.post(
        "/v1/catalogue/mappings",
        content=mapping_csv([("B1", x)]),
        headers={**admin_headers(), **CSV},
    )
    assert missing.status_code == 422
    assert problem(missing)["errors"][0]["field"] == "hospital_code"
    nobody = await cat_svc.client.post(
        "/v1/catalogue/mappings",
        params={"hospital_code": "NO-SUCH-HOSPITAL"},
        content=mapping_csv([("B1", x)]),
        headers={**admin_headers(), **CSV},
    )
    assert nobody.status_code == 422
    rows = [("B1", x), ("B2", y), ("B3", x)]
    dry = await cat_svc.client.post(
        "/v1/catalogue/mappings",
        params={"hospital_code": hospital.code, "dry_run": "true"},
        content=mapping_csv(rows),
        headers={**admin_headers(), **CSV},
    )
    assert (dry.json()["added"], dry.json()["changed"]) == (3, False)
    done = await cat_svc.client.post(
        "/v1/catalogue/mappings",
        params={"hospital_code": hospital.code},
        content=mapping_csv(rows),
        headers={**admin_headers(), **CSV},
    )
    assert (done.json()["added"], done.json()["changed"], done.json()["hospital_code"]) == (
        3,
        True,
        hospital.code,
    )
    remap = await import_mapping(cat_svc, hospital, [("B1", y), ("B2", y)])
    assert (remap["replaced"], remap["unchanged"], remap["added"]) == (1, 1, 0)

    page = await cat_svc.client.get(
        "/v1/catalogue/mappings", params={"limit": 2}, headers=hospital.headers()
    )
    assert page.json()["items"] == [
        {"medins_list_codg": "B1", "med_list_codg": y},
        {"medins_list_codg": "B2", "med_list_codg": y},
    ]
    assert (page.json()["total"], page.json()["next_after"]) == (3, "B2")
    rest = await cat_svc.client.get(
        "/v1/catalogue/mappings",
        params={"after": "B2", "hospital_code": hospital.code},
        headers=admin_headers(),
    )
    assert rest.json()["items"] == [{"medins_list_codg": "B3", "med_list_codg": x}]
    assert rest.json()["next_after"] is None
    as_csv = await cat_svc.client.get(
        "/v1/catalogue/mappings", headers={**hospital.headers(), "Accept": "text/csv"}
    )
    assert as_csv.headers["content-type"].startswith("text/csv")
    assert as_csv.content.decode("utf-8") == (
        f"\ufeffmedins_list_codg,med_list_codg\r\nB1,{y}\r\nB2,{y}\r\nB3,{x}\r\n"
    )
    # The CSV goes back in as it is, changing nothing.
    again = await cat_svc.client.post(
        "/v1/catalogue/mappings", content=as_csv.content, headers={**hospital.headers(), **CSV}
    )
    assert (again.json()["unchanged"], again.json()["changed"]) == (3, False)
