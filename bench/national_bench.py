"""What the national envelope costs on top of the native API, in process.

Both sides settle the same kind of visit — an outpatient visit registered (2201 / ``POST
/v1/admissions``) with four uploaded lines (2204 / ``POST /v1/visits/{id}/fee-details``) —
and the timed call is the settle of the uploaded lines: 2207 through the envelope, ``POST
/v1/settlements`` without ``items`` natively. Also timed: a 2207 retried with the same
``msgid`` (the stored answer). The app runs in this process on a temporary SQLite database
with a stand-in registry (``tests.support.apps``), so the figures compare the two paths; they
are not the service's throughput (``python -m bench.run`` measures that).

Run: .venv/bin/python -m bench.national_bench [--visits N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx

from tests.settlement.conftest import migrate
from tests.support.apps import SETTLEMENT_ADMIN_TOKEN, settlement_app
from tests.support.data import make_patients

PATH = "/fsi/api/rsfComIfsService/callService"
LINES = [
    ("110200001", "普通门诊诊查费", "01", "A", 12, 1),
    ("XA02BCL", "奥美拉唑肠溶胶囊", "02", "B", 18.5, 3),
    ("250301", "胸部CT", "01", "A", 280, 1),
    ("Z0009", "代煎费", "03", "C", 5, 2),
]


def envelope(infno: str, code: str, msgid: str, input_: Any) -> bytes:
    return json.dumps(
        {"infno": infno, "msgid": msgid, "fixmedins_code": code, "input": input_},
        ensure_ascii=False,
    ).encode()


async def main(visits: int, url: str) -> None:
    patients = [p for p in make_patients(visits * 2, seed=3, start=900_000) if p.registered]
    app = settlement_app(
        url, patients, migrated=True, SETTLEMENT_NATIONAL_SECRET="bench-national-secret-0123456789"
    )
    today = datetime.now(timezone(timedelta(hours=8))).date().isoformat()
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            created = await client.post(
                "/v1/hospitals",
                headers={"Authorization": f"Bearer {SETTLEMENT_ADMIN_TOKEN}"},
                json={"code": "HB0001", "name": "基准医院", "level": 2, "region_code": "370305"},
            )
            auth = {"Authorization": f"Bearer {created.json()['api_key']}"}
            serial = 0

            async def national(infno: str, input_: Any, msgid: str | None = None) -> float:
                nonlocal serial
                serial += 1
                body = envelope(infno, "HB0001", msgid or f"M{serial:08d}", input_)
                start = time.perf_counter()
                response = await client.post(PATH, content=body, headers=auth)
                elapsed = time.perf_counter() - start
                assert json.loads(response.text)["infcode"] == 0, response.text
                return elapsed

            national_times, replay_times, native_times = [], [], []
            for index, patient in enumerate(patients[: visits * 2]):
                visit = f"MZB{index:06d}"
                if index % 2 == 0:
                    data = {
                        "mdtrt_cert_type": "02",
                        "mdtrt_cert_no": patient.id_number,
                        "psn_name": patient.name,
                        "begntime": today,
                        "ipt_otp_no": visit,
                    }
                    await national("2201", {"data": data})
                    lines = [
                        {
                            "feedetl_sn": f"{visit}-{n}",
                            "mdtrt_id": visit,
                            "med_list_codg": code,
                            "med_list_name": name,
                            "chrgitm_lv": level,
                            "pric": price,
                            "cnt": count,
                        }
                        for n, (code, name, level, _, price, count) in enumerate(LINES)
                    ]
                    await national("2204", {"feedetail": lines})
                    msgid = f"S{index:08d}"
                    national_times.append(
                        await national("2207", {"data": {"mdtrt_id": visit}}, msgid)
                    )
                    replay_times.append(
                        await national("2207", {"data": {"mdtrt_id": visit}}, msgid)
                    )
                else:
                    patient_in = {"id_number": patient.id_number, "name": patient.name}
                    visit_in = {"visit_id": visit, "type": "outpatient", "admitted_on": today}
                    await client.post(
                        "/v1/admissions",
                        json={"patient": patient_in, "visit": visit_in},
                        headers=auth,
                    )
                    items = [
                        {
                            "feedetl_sn": f"{visit}-{n}",
                            "code": code,
                            "name": name,
                            "category": category,
                            "unit_price": price,
                            "quantity": count,
                        }
                        for n, (code, name, _, category, price, count) in enumerate(LINES)
                    ]
                    await client.post(
                        f"/v1/visits/{visit}/fee-details", json={"items": items}, headers=auth
                    )
                    start = time.perf_counter()
                    response = await client.post(
                        "/v1/settlements",
                        json={"patient": patient_in, "visit": visit_in},
                        headers={**auth, "Idempotency-Key": f"K{index}"},
                    )
                    native_times.append(time.perf_counter() - start)
                    assert response.status_code == 201, response.text

    def line(label: str, times: list[float]) -> None:
        ms = sorted(t * 1000 for t in times)
        p95 = ms[int(len(ms) * 0.95) - 1]
        print(f"{label:<44} median {statistics.median(ms):6.2f} ms   p95 {p95:6.2f} ms")

    print(f"{len(native_times)} visits each way, SQLite, in process ({datetime.now(UTC):%Y-%m-%d})")
    line("native POST /v1/settlements (uploaded lines)", native_times)
    line("national 2207 (uploaded lines)", national_times)
    line("national 2207 again, same msgid (replay)", replay_times)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--visits", type=int, default=200)
    database = f"sqlite:///{tempfile.mkdtemp(prefix='medaid-national-bench-')}/settlement.db"
    migrate(database)
    asyncio.run(main(parser.parse_args().visits, database))
