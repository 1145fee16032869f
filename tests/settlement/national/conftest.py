"""Fixtures of the national interface tests: the settlement app with the national secret set
(on each backend), and a HIS that speaks the envelope."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from shared.money import fen
from tests.settlement.conftest import BACKENDS, Hospital, Service, start_service, unique

NATIONAL_SECRET = "test-national-secret-0123456789abcdef"
PATH = "/fsi/api/rsfComIfsService/callService"
CHINA = timezone(timedelta(hours=8))
_msgids = itertools.count(1)


def today() -> date:
    """Today in the hospitals' local time (the service's default UTC+8)."""
    return datetime.now(CHINA).date()


@pytest.fixture(params=BACKENDS)
async def nsvc(
    request: pytest.FixtureRequest,
    migrated_urls: Callable[[str], str],
    _service_pool: dict[str, tuple[Service, Any]],
) -> Service:
    """The settlement app with ``SETTLEMENT_NATIONAL_SECRET`` set, on SQLite and PostgreSQL
    (the session's databases; tests use their own hospitals and patients)."""
    backend: str = request.param
    key = f"national-{backend}"
    if key not in _service_pool:
        url = await asyncio.to_thread(migrated_urls, backend)
        _service_pool[key] = await start_service(url, backend, national_secret=NATIONAL_SECRET)
    service = _service_pool[key][0]
    service.registry.mode = "ok"
    return service


@pytest.fixture
async def sqlite_nsvc(
    migrated_urls: Callable[[str], str], _service_pool: dict[str, tuple[Service, Any]]
) -> Service:
    if "national-sqlite" not in _service_pool:
        url = await asyncio.to_thread(migrated_urls, "sqlite")
        _service_pool["national-sqlite"] = await start_service(
            url, "sqlite", national_secret=NATIONAL_SECRET
        )
    service = _service_pool["national-sqlite"][0]
    service.registry.mode = "ok"
    return service


def new_msgid(code: str) -> str:
    """Like the platform's: the hospital's code, a time, a serial."""
    return f"{code}{datetime.now(CHINA):%Y%m%d%H%M%S}{next(_msgids):06d}"


def envelope(infno: str, code: str, input_: Any, msgid: str | None = None) -> dict[str, Any]:
    return {
        "infno": infno,
        "msgid": msgid or new_msgid(code),
        "mdtrtarea_admvs": "370305",
        "insuplc_admdvs": "370305",
        "recer_sys_code": "MEDAID",
        "dev_no": "",
        "dev_safe_info": "",
        "cainfo": "",
        "signtype": "",
        "infver": "V1.0",
        "opter_type": "1",
        "opter": "0001",
        "opter_name": "收费员",
        "inf_time": f"{datetime.now(CHINA):%Y-%m-%d %H:%M:%S}",
        "fixmedins_code": code,
        "fixmedins_name": "测试医院",
        "sign_no": "",
        "input": input_,
    }


def body_of(value: Any) -> bytes:
    """JSON as an HIS writes it: amounts as JSON numbers (a ``Decimal`` is written exactly)."""

    def encode(item: Any) -> Any:
        if isinstance(item, Decimal):
            return float(item)  # pragma: no cover - tests pass numbers as written
        raise TypeError(type(item).__name__)

    return json.dumps(value, ensure_ascii=False, default=encode).encode("utf-8")


def answer_of(text: str) -> dict[str, Any]:
    """An answer envelope, numbers read exactly."""
    value: dict[str, Any] = json.loads(text, parse_float=Decimal)
    return value


@dataclass
class His:
    """A hospital information system integrated with the national platform, pointed at
    medaid."""

    svc: Service
    hospital: Hospital

    @property
    def code(self) -> str:
        return self.hospital.code

    async def send(
        self,
        infno: str,
        input_: Any,
        *,
        msgid: str | None = None,
        headers: dict[str, str] | None = None,
        raw: bytes | None = None,
    ) -> tuple[dict[str, Any], str]:
        """POST one envelope; (answer, answer text). Every authenticated answer is 200 JSON."""
        content = raw if raw is not None else body_of(envelope(infno, self.code, input_, msgid))
        response = await self.svc.client.post(
            PATH,
            content=content,
            headers=headers if headers is not None else self.hospital.headers(),
        )
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("application/json")
        return answer_of(response.text), response.text

    async def ok(self, infno: str, input_: Any, **kw: Any) -> dict[str, Any]:
        answer, _ = await self.send(infno, input_, **kw)
        assert answer["infcode"] == 0, answer["err_msg"]
        assert answer["err_msg"] is None
        output: dict[str, Any] = answer["output"]
        return output

    async def fail(self, infno: str, input_: Any, **kw: Any) -> str:
        answer, _ = await self.send(infno, input_, **kw)
        assert answer["infcode"] == -1, answer
        assert answer["output"] is None
        message: str = answer["err_msg"]
        return message

    # ---------------------------------------------------------------- common transactions

    async def person(self, id_number: str, name: str | None = "张三") -> dict[str, Any]:
        data: dict[str, Any] = {"mdtrt_cert_type": "02", "mdtrt_cert_no": id_number}
        if name:
            data["psn_name"] = name
        return await self.ok("1101", {"data": data})

    async def register(
        self, id_number: str, *, visit_id: str | None = None, on: date | None = None
    ) -> tuple[str, str]:
        """1101 then 2201: ``(psn_no, mdtrt_id)``."""
        psn_no = (await self.person(id_number))["baseinfo"]["psn_no"]
        output = await self.ok(
            "2201",
            {
                "data": {
                    "psn_no": psn_no,
                    "insutype": "390",
                    "begntime": f"{(on or today()).isoformat()} 09:12:00",
                    "mdtrt_cert_type": "02",
                    "mdtrt_cert_no": id_number,
                    "ipt_otp_no": visit_id or unique("MZ"),
                    "atddr_no": "D001",
                    "dr_name": "李医生",
                    "dept_code": "03",
                    "dept_name": "内科",
                    "caty": "03",
                }
            },
        )
        return psn_no, str(output["data"]["mdtrt_id"])

    async def admit(
        self, id_number: str, *, visit_id: str | None = None, on: date, diagnoses: list[str]
    ) -> tuple[str, str]:
        """1101 then 2401: ``(psn_no, mdtrt_id)``."""
        psn_no = (await self.person(id_number))["baseinfo"]["psn_no"]
        output = await self.ok(
            "2401",
            {
                "mdtrtinfo": {
                    "psn_no": psn_no,
                    "insutype": "390",
                    "begntime": f"{on.isoformat()} 08:00:00",
                    "mdtrt_cert_type": "02",
                    "mdtrt_cert_no": id_number,
                    "med_type": "21",
                    "ipt_no": visit_id or unique("ZY"),
                    "atddr_no": "D002",
                    "chfpdr_name": "王医生",
                    "adm_diag_dscr": "肺炎",
                    "adm_dept_codg": "04",
                    "adm_dept_name": "呼吸内科",
                    "adm_bed": "12",
                    "dscg_maindiag_code": diagnoses[0],
                    "dscg_maindiag_name": "肺炎",
                },
                "diseinfo": [
                    {
                        "psn_no": psn_no,
                        "diag_type": "1",
                        "maindiag_flag": "1" if i == 0 else "0",
                        "diag_srt_no": str(i + 1),
                        "diag_code": code,
                        "diag_name": "诊断",
                        "diag_dept": "04",
                        "dise_dor_no": "D002",
                        "dise_dor_name": "王医生",
                        "diag_time": f"{on.isoformat()} 08:30:00",
                    }
                    for i, code in enumerate(diagnoses)
                ],
            },
        )
        return psn_no, str(output["result"]["mdtrt_id"])


async def his_of(svc: Service, level: int = 2) -> His:
    return His(svc, await svc.hospital(level=level))


def feedetail(
    mdtrt_id: str, psn_no: str, lines: list[dict[str, Any]], *, batch: str = "B1", prefix: str = ""
) -> dict[str, Any]:
    """2204 / 2301 ``input`` for native-style lines (code, name, category, unit_price,
    quantity, …): the national fields a HIS sends."""
    out = []
    for index, line in enumerate(lines):
        row: dict[str, Any] = {
            "feedetl_sn": line.get("feedetl_sn") or f"{prefix}{batch}-{index + 1:04d}",
            "mdtrt_id": mdtrt_id,
            "psn_no": psn_no,
            "chrg_bchno": batch,
            "dise_codg": "",
            "rxno": "",
            "rx_circ_flag": "0",
            "fee_ocur_time": f"{today().isoformat()} 10:00:00",
            "med_list_codg": line["code"],
            "medins_list_codg": f"H-{line['code']}",
            "med_list_name": line["name"],
            "chrgitm_lv": {"A": "01", "B": "02", "C": "03"}[line["category"]],
            "pric": _number(line["unit_price"]),
            "cnt": _number(line["quantity"]),
            "det_item_fee_sumamt": _number(
                line.get("amount")
                or fen(Decimal(str(line["unit_price"])) * Decimal(str(line["quantity"])))
            ),
            "bilg_dept_codg": "03",
            "bilg_dept_name": "内科",
            "bilg_dr_codg": "D001",
            "bilg_dr_name": "李医生",
            "hosp_appr_flag": "1",
        }
        if line.get("self_pay_ratio") is not None:
            row["selfpay_prop"] = _number(line["self_pay_ratio"])
        if line.get("price_cap") is not None:
            row["pric_uplmt_amt"] = _number(line["price_cap"])
        out.append(row)
    return {"feedetail": out}


def _number(value: Any) -> Any:
    """A JSON number as an HIS sends it (exact: every test value has few decimals)."""
    text = str(value)
    return int(text) if text.isdigit() else float(text)
