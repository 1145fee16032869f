"""Reconciliation: summary (3201) and detail (3202) of a hospital's period, every result code
named correctly, TSV and JSON books (reversals as records of their own), bad rows with line
numbers, isolation between hospitals, stored reconciliations."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tests.settlement.admin.conftest import (
    Hospital,
    Service,
    admin_headers,
    local_day,
    new_id_number,
)

COLUMNS = "setl_id\tvisit_id\tid_number\tmedfee_sumamt\tfund_pay_sumamt\tstatus"
ID_NUMBERS: dict[str, str] = {}


def book_row(bill: dict[str, Any], **changes: Any) -> dict[str, Any]:
    row = {
        "setl_id": bill["setl_id"],
        "visit_id": bill["visit_id"],
        "id_number": ID_NUMBERS[bill["setl_id"]],
        "medfee_sumamt": bill["medfee_sumamt"],
        "fund_pay_sumamt": bill["fund_pay_sumamt"],
        "status": bill["status"],
    }
    if "refd_setl_flag" in bill:
        row["refd_setl_flag"] = bill["refd_setl_flag"]
    row.update(changes)
    return row


def reversal_record(revoked: dict[str, Any]) -> dict[str, Any]:
    """The reversal of a revoked bill as the hospital's books hold it: its own ``setl_id``,
    the bill's amounts negated, ``refd_setl_flag`` 1."""
    reversal = revoked["reversal"]
    ID_NUMBERS[reversal["setl_id"]] = ID_NUMBERS[revoked["setl_id"]]
    return {
        "setl_id": reversal["setl_id"],
        "visit_id": revoked["visit_id"],
        "status": "revoked",
        "refd_setl_flag": 1,
        **{
            name: f"{-Decimal(revoked[name]):.2f}"
            for name in ("medfee_sumamt", "fund_pay_sumamt", "psn_cash_pay")
        },
    }


def tsv(
    rows: list[dict[str, Any]], *, bom: bool = True, crlf: bool = True, flag: bool = True
) -> bytes:
    """The books as TSV; ``flag``: with the ``refd_setl_flag`` column (else the six-column
    form, which only bills can use)."""
    end = "\r\n" if crlf else "\n"
    header = COLUMNS + ("\trefd_setl_flag" if flag else "")
    lines = [header] + ["\t".join(str(r.get(c, 0)) for c in header.split("\t")) for r in rows]
    text = ("\ufeff" if bom else "") + end.join(lines) + end
    return text.encode("utf-8")


async def settle(svc: Service, hospital: Hospital, *categories: str) -> dict[str, Any]:
    patient = svc.patient(*categories)
    bill = await svc.settle(hospital, patient)
    ID_NUMBERS[bill["setl_id"]] = patient
    return bill


async def five_bills(svc: Service) -> tuple[Hospital, list[dict[str, Any]]]:
    """A hospital with five bills: the last one revoked the same day."""
    hospital = await svc.hospital()
    bills = [await settle(svc, hospital, "dibao" if i % 2 else "") for i in range(5)]
    bills[4] = await svc.revoke(hospital, bills[4]["setl_id"])
    return hospital, bills


def records(bills: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The day's books of ``five_bills``: the five bills and the reversal of the last."""
    return [*bills, reversal_record(bills[4])]


def totals(bills: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "setl_cnt": len(bills),
        "medfee_sumamt": str(sum(Decimal(b["medfee_sumamt"]) for b in bills)),
        "fund_pay_sumamt": str(sum(Decimal(b["fund_pay_sumamt"]) for b in bills)),
        "psn_cash_pay": str(sum(Decimal(b["psn_cash_pay"]) for b in bills)),
    }


async def test_summary_matched_and_unmatched(svc: Service) -> None:
    hospital, bills = await five_bills(svc)
    day = local_day(bills[0]).isoformat()
    period = {"begin_date": day, "end_date": day}
    settled = [b for b in bills if b["status"] == "settled"]
    assert len(settled) == 4
    books = records(bills)

    # The net totals of the day's books: five bills and one reversal, six records, the
    # amounts of the four bills that stand.
    ok = await svc.client.post(
        "/v1/reconciliations/summary",
        json={**period, **totals(books)},
        headers=hospital.headers(),
    )
    assert ok.status_code == 200, ok.text
    body = ok.json()
    assert body["matched"] is True
    assert body["service"] == body["hospital"]
    assert body["differences"] == {
        "setl_cnt": 0,
        "medfee_sumamt": "0.00",
        "fund_pay_sumamt": "0.00",
        "psn_cash_pay": "0.00",
    }
    assert body["service"]["setl_cnt"] == 6
    assert body["service"]["medfee_sumamt"] == totals(settled)["medfee_sumamt"]

    # Leaving the revoked bill and its reversal out: the amounts agree, the count does not.
    uncounted = await svc.client.post(
        "/v1/reconciliations/summary",
        json={**period, **totals(settled)},
        headers=hospital.headers(),
    )
    assert uncounted.json()["matched"] is False
    assert uncounted.json()["differences"]["setl_cnt"] == 2
    assert uncounted.json()["differences"]["medfee_sumamt"] == "0.00"

    # include_revoked: the bills settled in the period only, gross, no reversals.
    with_revoked = await svc.client.post(
        "/v1/reconciliations/summary",
        json={**period, **totals(bills), "include_revoked": True},
        headers=hospital.headers(),
    )
    assert with_revoked.json()["matched"] is True
    without_flag = await svc.client.post(
        "/v1/reconciliations/summary",
        json={**period, **totals(bills)},
        headers=hospital.headers(),
    )
    assert without_flag.json()["matched"] is False

    claimed = totals(books)
    claimed["setl_cnt"] += 1
    claimed["medfee_sumamt"] = str(Decimal(claimed["medfee_sumamt"]) + Decimal("10.05"))
    bad = await svc.client.post(
        "/v1/reconciliations/summary",
        json={**period, **claimed},
        headers=hospital.headers(),
    )
    assert bad.status_code == 200
    result = bad.json()
    assert result["matched"] is False
    assert result["differences"]["setl_cnt"] == -1
    assert result["differences"]["medfee_sumamt"] == "-10.05"
    assert result["differences"]["fund_pay_sumamt"] == "0.00"
    assert result["service"]["setl_cnt"] == 6

    outpatient = await svc.client.post(
        "/v1/reconciliations/summary",
        json={**period, **totals([]), "visit_type": "outpatient"},
        headers=hospital.headers(),
    )
    assert outpatient.json()["matched"] is True  # all five bills are inpatient bills


async def test_summary_admin_names_the_hospital(svc: Service) -> None:
    hospital, bills = await five_bills(svc)
    other = await svc.hospital()
    day = local_day(bills[0]).isoformat()
    body = {"begin_date": day, "end_date": day, **totals(records(bills))}

    admin = await svc.client.post(
        "/v1/reconciliations/summary",
        json={**body, "hospital_code": hospital.code},
        headers=admin_headers(),
    )
    assert admin.status_code == 200, admin.text
    assert admin.json()["matched"] is True
    assert admin.json()["hospital_code"] == hospital.code

    unnamed = await svc.client.post(
        "/v1/reconciliations/summary", json=body, headers=admin_headers()
    )
    assert unnamed.status_code == 422
    assert [e["field"] for e in unnamed.json()["errors"]] == ["hospital_code"]

    unknown = await svc.client.post(
        "/v1/reconciliations/summary",
        json={**body, "hospital_code": "NO-SUCH"},
        headers=admin_headers(),
    )
    assert unknown.status_code == 422

    foreign = await svc.client.post(
        "/v1/reconciliations/summary",
        json={**body, "hospital_code": hospital.code},
        headers=other.headers(),
    )
    assert foreign.status_code == 403
    assert "application/problem+json" in foreign.headers["content-type"]

    backwards = await svc.client.post(
        "/v1/reconciliations/summary",
        json={**body, "begin_date": day, "end_date": "2020-01-01"},
        headers=hospital.headers(),
    )
    assert backwards.status_code == 422


def detail_books(bills: list[dict[str, Any]]) -> tuple[list[dict[str, str]], dict[str, str]]:
    """The hospital's books for ``five_bills``: bill 0 as it is (0), bill 1 missing (1),
    bill 2 with another amount (3), bill 3 matched, bill 4 revoked in the service but settled
    in the books (3), bill 4's reversal as it is (0), and one bill the service never saw
    (2)."""
    stranger = {
        "setl_id": "HIS-ONLY-0001",
        "visit_id": "VX-HIS-0001",
        "id_number": new_id_number(),
        "medfee_sumamt": "88.80",
        "fund_pay_sumamt": "0.00",
        "status": "settled",
    }
    wrong_amount = str(Decimal(bills[2]["medfee_sumamt"]) + Decimal("1.00"))
    reversal = reversal_record(bills[4])
    rows = [
        book_row(bills[0]),
        book_row(bills[2], medfee_sumamt=wrong_amount),
        book_row(bills[3]),
        book_row(bills[4], status="settled"),
        book_row(reversal),
        stranger,
    ]
    expected = {
        bills[0]["setl_id"]: "0",
        bills[1]["setl_id"]: "1",
        bills[2]["setl_id"]: "3",
        bills[3]["setl_id"]: "0",
        bills[4]["setl_id"]: "3",
        reversal["setl_id"]: "0",
        stranger["setl_id"]: "2",
    }
    return rows, expected


def check_detail(
    result: dict[str, Any], bills: list[dict[str, Any]], expected: dict[str, str]
) -> None:
    assert result["matched"] is False
    assert result["counts"] == {"0": 3, "1": 1, "2": 1, "3": 2}
    assert result["service_bill_count"] == 6
    assert result["hospital_bill_count"] == 6
    rows = {r["setl_id"]: r for r in result["rows"]}
    assert {k: r["result"] for k, r in rows.items()} == expected
    assert [r["setl_id"] for r in result["rows"]] == sorted(expected)
    amount = rows[bills[2]["setl_id"]]
    assert amount["differences"] == [
        {
            "field": "medfee_sumamt",
            "hospital": str(Decimal(bills[2]["medfee_sumamt"]) + Decimal("1.00")),
            "service": bills[2]["medfee_sumamt"],
        }
    ]
    status = rows[bills[4]["setl_id"]]
    assert status["differences"] == [
        {"field": "status", "hospital": "settled", "service": "revoked"}
    ]
    assert status["status"] == "revoked"
    assert status["refd_setl_flag"] == 0
    reversal = rows[bills[4]["reversal"]["setl_id"]]
    assert reversal["refd_setl_flag"] == 1
    assert reversal["init_setl_id"] == bills[4]["setl_id"]
    assert reversal["status"] == "revoked"
    assert reversal["medfee_sumamt"] == f"{-Decimal(bills[4]['medfee_sumamt']):.2f}"
    assert reversal["fund_pay_sumamt"] == f"{-Decimal(bills[4]['fund_pay_sumamt']):.2f}"
    only_service = rows[bills[1]["setl_id"]]
    assert only_service["differences"] == []
    assert only_service["medfee_sumamt"] == bills[1]["medfee_sumamt"]
    only_hospital = rows["HIS-ONLY-0001"]
    assert only_hospital["medfee_sumamt"] == "88.80"
    assert only_hospital["visit_id"] == "VX-HIS-0001"
    for code in ("0",):
        assert all(r["differences"] == [] for r in result["rows"] if r["result"] == code)


async def test_detail_json_names_every_result_code(svc: Service) -> None:
    hospital, bills = await five_bills(svc)
    day = local_day(bills[0]).isoformat()
    rows, expected = detail_books(bills)
    response = await svc.client.post(
        "/v1/reconciliations/detail",
        json={"begin_date": day, "end_date": day, "bills": rows},
        headers=hospital.headers(),
    )
    assert response.status_code == 200, response.text
    check_detail(response.json(), bills, expected)


async def test_detail_tsv_names_every_result_code(svc: Service) -> None:
    hospital, bills = await five_bills(svc)
    day = local_day(bills[0]).isoformat()
    rows, expected = detail_books(bills)

    async def body() -> Any:  # streamed in small pieces, split inside lines and characters
        data = tsv(rows)
        for start in range(0, len(data), 7):
            yield data[start : start + 7]

    response = await svc.client.post(
        "/v1/reconciliations/detail",
        params={"begin_date": day, "end_date": day},
        content=body(),
        headers={**hospital.headers(), "Content-Type": "text/tab-separated-values"},
    )
    assert response.status_code == 200, response.text
    check_detail(response.json(), bills, expected)

    mismatched = await svc.client.post(
        "/v1/reconciliations/detail",
        params={"begin_date": day, "end_date": day, "rows": "mismatched"},
        content=tsv(rows, bom=False, crlf=False),
        headers={**hospital.headers(), "Content-Type": "text/tab-separated-values; charset=utf-8"},
    )
    assert mismatched.status_code == 200, mismatched.text
    assert sorted(r["result"] for r in mismatched.json()["rows"]) == ["1", "2", "3", "3"]

    # Books that agree: every record "0", matched.
    agree = [book_row(b) for b in records(bills)]
    matched = await svc.client.post(
        "/v1/reconciliations/detail",
        params={"begin_date": day, "end_date": day},
        content=tsv(agree),
        headers={**hospital.headers(), "Content-Type": "text/tab-separated-values"},
    )
    assert matched.json()["matched"] is True
    assert matched.json()["counts"] == {"0": 6, "1": 0, "2": 0, "3": 0}

    # The six-column form cannot hold a reversal: its negative amounts are refused.
    legacy = await svc.client.post(
        "/v1/reconciliations/detail",
        params={"begin_date": day, "end_date": day},
        content=tsv(agree, flag=False),
        headers={**hospital.headers(), "Content-Type": "text/tab-separated-values"},
    )
    assert legacy.status_code == 422
    errors = legacy.json()["errors"]
    assert {(e["line"], e["field"]) for e in errors} == {
        (7, "medfee_sumamt"),
        (7, "fund_pay_sumamt"),
    }
    assert "refd_setl_flag 1" in errors[0]["message"]


async def test_detail_reports_visit_and_patient_differences(svc: Service) -> None:
    hospital = await svc.hospital()
    bill = await settle(svc, hospital)
    day = local_day(bill).isoformat()
    other_person = new_id_number()
    response = await svc.client.post(
        "/v1/reconciliations/detail",
        json={
            "begin_date": day,
            "end_date": day,
            "bills": [book_row(bill, visit_id="OTHER-VISIT", id_number=other_person)],
        },
        headers=hospital.headers(),
    )
    row = response.json()["rows"][0]
    assert row["result"] == "3"
    fields = {d["field"]: d for d in row["differences"]}
    assert set(fields) == {"visit_id", "id_number"}
    # ID numbers are shown masked.
    assert fields["id_number"]["hospital"] == other_person[:6] + "********" + other_person[-4:]
    assert other_person not in response.text
    assert ID_NUMBERS[bill["setl_id"]] not in response.text


async def test_bad_tsv_rows_are_a_422_with_line_numbers(svc: Service) -> None:
    hospital, bills = await five_bills(svc)
    day = local_day(bills[0]).isoformat()
    rows = [book_row(b) for b in bills]
    rows[1]["medfee_sumamt"] = "12.345"  # line 3
    rows[3]["status"] = "cancelled"  # line 5
    rows[4]["id_number"] = "123"  # line 6
    data = (
        tsv(rows, bom=False, crlf=False, flag=False).decode()
        + "only\ttwo\n"
        + tsv([book_row(bills[0])], bom=False, crlf=False, flag=False).decode().split("\n", 1)[1]
    )
    response = await svc.client.post(
        "/v1/reconciliations/detail",
        params={"begin_date": day, "end_date": day},
        content=data.encode(),
        headers={**hospital.headers(), "Content-Type": "text/tab-separated-values"},
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    errors = response.json()["errors"]
    got = {(e["line"], e["field"]) for e in errors}
    assert (3, "medfee_sumamt") in got
    assert (5, "status") in got
    assert (6, "id_number") in got
    assert (7, "row") in got  # wrong number of fields
    assert (8, "setl_id") in got  # bill 0 listed twice (first at line 2)
    assert len(errors) == 5
    assert "line 3" in response.json()["detail"]

    # Nothing was stored for a refused request.
    listed = await svc.client.get("/v1/reconciliations", headers=hospital.headers())
    assert listed.json()["items"] == []

    header = await svc.client.post(
        "/v1/reconciliations/detail",
        params={"begin_date": day, "end_date": day},
        content=b"setl_id\tvisit_id\tamount\n",
        headers={**hospital.headers(), "Content-Type": "text/tab-separated-values"},
    )
    assert header.status_code == 422
    assert header.json()["errors"][0]["line"] == 1

    no_period = await svc.client.post(
        "/v1/reconciliations/detail",
        content=tsv([]),
        headers={**hospital.headers(), "Content-Type": "text/tab-separated-values"},
    )
    assert no_period.status_code == 422
    assert {e["field"] for e in no_period.json()["errors"]} == {
        "query.begin_date",
        "query.end_date",
    }

    binary = await svc.client.post(
        "/v1/reconciliations/detail",
        params={"begin_date": day, "end_date": day},
        content=COLUMNS.encode() + b"\n\xff\xfe\n",
        headers={**hospital.headers(), "Content-Type": "text/tab-separated-values"},
    )
    assert binary.status_code == 422

    xml = await svc.client.post(
        "/v1/reconciliations/detail",
        params={"begin_date": day, "end_date": day},
        content=b"<bills/>",
        headers={**hospital.headers(), "Content-Type": "application/xml"},
    )
    assert xml.status_code == 415


async def test_bad_json_rows_are_named(svc: Service) -> None:
    hospital, bills = await five_bills(svc)
    day = local_day(bills[0]).isoformat()
    rows: list[Any] = [book_row(b) for b in bills]
    rows[1]["fund_pay_sumamt"] = -1
    rows[2]["extra"] = "x"
    rows[3] = "not an object"
    response = await svc.client.post(
        "/v1/reconciliations/detail",
        json={"begin_date": day, "end_date": day, "bills": rows},
        headers=hospital.headers(),
    )
    assert response.status_code == 422, response.text
    fields = {e["field"] for e in response.json()["errors"]}
    assert fields == {"bills[1].fund_pay_sumamt", "bills[2].extra", "bills[3]"}

    long = await svc.client.post(
        "/v1/reconciliations/detail",
        json={"begin_date": "2026-01-01", "end_date": "2026-03-01", "bills": []},
        headers=hospital.headers(),
    )
    assert long.status_code == 422
    assert long.json()["errors"][0]["field"] == "end_date"


async def test_a_hospital_cannot_reconcile_another_hospitals_bills(svc: Service) -> None:
    owner, bills = await five_bills(svc)
    intruder = await svc.hospital()
    day = local_day(bills[0]).isoformat()
    books = [book_row(b) for b in records(bills)]

    # Listing some of the owner's bills as its own: the service has none of them for the
    # intruder, and the owner's other bills never show.
    response = await svc.client.post(
        "/v1/reconciliations/detail",
        json={"begin_date": day, "end_date": day, "bills": books[:3]},
        headers=intruder.headers(),
    )
    assert response.status_code == 200
    result = response.json()
    assert result["counts"] == {"0": 0, "1": 0, "2": 3, "3": 0}
    assert result["service_bill_count"] == 0
    assert bills[3]["setl_id"] not in response.text
    assert bills[4]["setl_id"] not in response.text

    named = await svc.client.post(
        "/v1/reconciliations/detail",
        params={"hospital_code": owner.code},
        json={"begin_date": day, "end_date": day, "bills": []},
        headers=intruder.headers(),
    )
    assert named.status_code == 403
    named_tsv = await svc.client.post(
        "/v1/reconciliations/detail",
        params={"begin_date": day, "end_date": day, "hospital_code": owner.code},
        content=tsv(books),
        headers={**intruder.headers(), "Content-Type": "text/tab-separated-values"},
    )
    assert named_tsv.status_code == 403

    # The admin may reconcile any hospital.
    admin = await svc.client.post(
        "/v1/reconciliations/detail",
        json={"begin_date": day, "end_date": day, "hospital_code": owner.code, "bills": books},
        headers=admin_headers(),
    )
    assert admin.status_code == 200
    assert admin.json()["counts"] == {"0": 6, "1": 0, "2": 0, "3": 0}

    unauthenticated = await svc.client.post(
        "/v1/reconciliations/detail",
        json={"begin_date": day, "end_date": day, "bills": books},
    )
    assert unauthenticated.status_code == 401


async def test_reconciliations_are_stored_and_listed(svc: Service) -> None:
    hospital, bills = await five_bills(svc)
    other, other_bills = await five_bills(svc)
    day = local_day(bills[0]).isoformat()
    rows, _ = detail_books(bills)
    detail = await svc.client.post(
        "/v1/reconciliations/detail",
        json={"begin_date": day, "end_date": day, "bills": rows},
        headers=hospital.headers(),
    )
    detail_id = detail.json()["reconciliation_id"]
    summary = await svc.client.post(
        "/v1/reconciliations/summary",
        json={"begin_date": day, "end_date": day, **totals(records(bills))},
        headers=hospital.headers(),
    )
    summary_id = summary.json()["reconciliation_id"]
    assert summary.json()["matched"] is True
    await svc.client.post(
        "/v1/reconciliations/detail",
        json={"begin_date": day, "end_date": day, "bills": []},
        headers=other.headers(),
    )

    own = await svc.client.get("/v1/reconciliations", headers=hospital.headers())
    assert own.status_code == 200
    items = own.json()["items"]
    assert [i["id"] for i in items] == [summary_id, detail_id]  # newest first
    assert {i["hospital_code"] for i in items} == {hospital.code}

    unmatched = await svc.client.get(
        "/v1/reconciliations", params={"matched": "false"}, headers=hospital.headers()
    )
    listed = unmatched.json()["items"]
    assert [i["id"] for i in listed] == [detail_id]
    assert listed[0]["counts"] == {"0": 3, "1": 1, "2": 1, "3": 2}
    assert listed[0]["mismatch_count"] == 4
    assert listed[0]["kind"] == "detail"

    stored = await svc.client.get(f"/v1/reconciliations/{detail_id}", headers=hospital.headers())
    assert stored.status_code == 200
    stored_rows = stored.json()["rows"]
    assert sorted(r["result"] for r in stored_rows) == ["1", "2", "3", "3"]
    status_row = next(r for r in stored_rows if r["setl_id"] == bills[4]["setl_id"])
    assert status_row["differences"][0]["field"] == "status"
    # Stored (COPY on PostgreSQL) as answered: the mismatching rows, in order, every value.
    assert stored_rows == [r for r in detail.json()["rows"] if r["result"] != "0"]
    summary_stored = await svc.client.get(
        f"/v1/reconciliations/{summary_id}", headers=hospital.headers()
    )
    assert summary_stored.json()["totals"]["service"]["setl_cnt"] == 6

    # Another hospital sees neither the list entries nor the record.
    assert (
        await svc.client.get(f"/v1/reconciliations/{detail_id}", headers=other.headers())
    ).status_code == 404
    theirs = await svc.client.get("/v1/reconciliations", headers=other.headers())
    assert {i["hospital_code"] for i in theirs.json()["items"]} == {other.code}
    assert other_bills  # the other hospital has bills of its own

    everyone = await svc.client.get(
        "/v1/reconciliations", params={"matched": "false", "limit": 500}, headers=admin_headers()
    )
    codes = {i["hospital_code"] for i in everyone.json()["items"]}
    assert {hospital.code, other.code} <= codes
    assert all(i["matched"] is False for i in everyone.json()["items"])

    one = await svc.client.get(
        "/v1/reconciliations", params={"hospital_code": hospital.code}, headers=admin_headers()
    )
    assert [i["id"] for i in one.json()["items"]] == [summary_id, detail_id]
    page = await svc.client.get(
        "/v1/reconciliations",
        params={"hospital_code": hospital.code, "limit": 1},
        headers=admin_headers(),
    )
    assert [i["id"] for i in page.json()["items"]] == [summary_id]
    assert page.json()["next_before"] == summary_id
    rest = await svc.client.get(
        "/v1/reconciliations",
        params={"hospital_code": hospital.code, "before": summary_id},
        headers=admin_headers(),
    )
    assert [i["id"] for i in rest.json()["items"]] == [detail_id]
