"""One handler per transaction (``infno``): read the national ``input``, call the native
service that does the work, answer with the national fields. No rule is computed here: the
amounts are the native services' (see :mod:`settlement.national.mapping` for every field).

A handler raises :class:`~settlement.national.errors.NationalError` for a business error; the
native services' problems are translated on the way out (:func:`native`).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, TypeAdapter, ValidationError

from settlement.admissions import repository as admissions_repository
from settlement.admissions.schemas import AdmissionRequest
from settlement.admissions.service import AdmissionService
from settlement.bills import repository as bills_repository
from settlement.database import Database, utcnow
from settlement.eligibility import EligibilityService
from settlement.engine.vocabulary import AID_CLASS_LABELS, VISIT_TYPE_LABELS
from settlement.fee_details.schemas import FeeDetailUpload
from settlement.fee_details.service import FeeDetailService
from settlement.hospitals.repository import HospitalRef
from settlement.national import mapping
from settlement.national import repository as national
from settlement.national.errors import NationalError, chinese, from_problem, from_validation
from settlement.national.identity import age_on, birth_date, gender, psn_no_of
from settlement.national.mapping import VisitType
from settlement.national.schemas import (
    Credentials,
    DiseInfo,
    Envelope,
    FeeLine,
    In1101,
    In2201,
    In2205,
    In2302,
    In2401,
    In2402,
    In2601,
    In3201,
    In3202,
    In5203,
    In5206,
    In9001,
    InRevoke,
    InSettle,
    InUpload,
    blank,
)
from settlement.persons.service import PersonService
from settlement.reconciliation.parsing import parse_json
from settlement.reconciliation.schemas import (
    MAX_DETAIL_DAYS,
    RESULT_NAMES,
    SummaryRequest,
    check_period,
)
from settlement.reconciliation.service import reconcile_detail, reconcile_summary
from settlement.settlements.schemas import MAX_DIAGNOSES, BillOut, Diagnosis, SettleRequest
from settlement.settlements.service import SettlementService
from shared.errors import Problem
from shared.idnumber import validate_id_number
from shared.money import parse_money

M = TypeVar("M", bound=BaseModel)
_DIAGNOSIS = TypeAdapter(Diagnosis)


@dataclass(frozen=True, slots=True)
class Call:
    """One national call: the hospital, the envelope and the request id (audit, registry)."""

    hospital: HospitalRef
    envelope: Envelope
    request_id: str | None


@dataclass(slots=True)
class Outcome:
    """A handler's answer (``output``) and, for a writing transaction, what 2601 needs to undo
    it (``subject``, JSON text) and the visit it is about."""

    output: dict[str, Any]
    mdtrt_id: str | None = None
    subject: str | None = None


@dataclass(frozen=True, slots=True)
class Visit:
    """A visit as the national transactions see it: its admission record and national
    details."""

    mdtrt_id: str
    visit_type: VisitType
    id_number: str
    psn_no: str
    name: str
    admitted_on: date
    discharged_on: date | None
    diagnoses: tuple[str, ...] = field(default_factory=tuple)
    med_type: str | None = None
    insutype: str | None = None


@contextmanager
def native(renames: Mapping[str, str] | None = None) -> Iterator[None]:
    """Run native code; its problems and validation errors become national errors naming the
    national fields."""
    try:
        yield
    except Problem as problem:
        raise from_problem(problem, renames=renames) from None
    except ValidationError as exc:
        raise from_validation(exc, renames=renames) from None


def parse(model: type[M], value: Any) -> M:
    """A transaction's ``input`` as its model; errors name the fields under ``input``."""
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        raise from_validation(exc) from None


def _id_number(value: str, path: str) -> str:
    try:
        return validate_id_number(value)
    except ValueError as exc:
        raise NationalError.field(path, chinese(str(exc))) from None


def _diagnoses(main: str | None, rows: Sequence[DiseInfo], prefix: str) -> list[str]:
    """Diagnosis codes, main first (``dscg_maindiag_code``, then ``maindiag_flag`` 1, then by
    ``diag_srt_no``), each checked as the native request checks it."""

    def order(item: tuple[int, DiseInfo]) -> tuple[int, int, int]:
        index, row = item
        number = row.diag_srt_no
        rank = int(number) if number is not None and number.isdigit() else 10**6
        return (0 if row.maindiag_flag == mapping.YES else 1, rank, index)

    codes: list[str] = []
    if main:
        codes.append(_diagnosis(main, f"{prefix}dscg_maindiag_code"))
    for index, row in sorted(enumerate(rows), key=order):
        code = _diagnosis(row.diag_code, f"diseinfo[{index}].diag_code")
        if code not in codes:
            codes.append(code)
    return codes[:MAX_DIAGNOSES]


def _diagnosis(code: str, path: str) -> str:
    try:
        return str(_DIAGNOSIS.validate_python(code))
    except ValidationError:
        raise NationalError.field(path, "不是有效的ICD-10诊断代码（如 J18.900）") from None


class Handlers:
    """The transactions, each a method taking a :class:`Call` and answering an
    :class:`Outcome`; built once with the native services they use."""

    def __init__(
        self,
        *,
        db: Database,
        secret: str,
        local_tz: timezone,
        eligibility: EligibilityService,
        settlements: SettlementService,
        admissions: AdmissionService,
        persons: PersonService,
        fee_details: FeeDetailService,
    ) -> None:
        self.db = db
        self.secret = secret
        self.tz = local_tz
        self.eligibility = eligibility
        self.settlements = settlements
        self.admissions = admissions
        self.persons = persons
        self.fee_details = fee_details

    def psn_no(self, id_number: str) -> str:
        return psn_no_of(self.secret, id_number)

    def today(self) -> date:
        return datetime.now(self.tz).date()

    # -------------------------------------------------------------------- persons, visits

    async def _identify(
        self, call: Call, creds: Credentials, prefix: str, on: date
    ) -> tuple[str, str]:
        """The ID number and name of a visit's patient: the ID number from ``mdtrt_cert_no``
        (凭证类型 02) or ``certno``, else from ``psn_no`` as 1101 gave it to this hospital;
        the name as sent, else as 1101 recorded it, else the registry's."""
        hospital = call.hospital
        id_number: str | None = None
        if creds.mdtrt_cert_no and creds.mdtrt_cert_type == mapping.ID_CARD_MDTRT_CERT_TYPE:
            id_number = _id_number(creds.mdtrt_cert_no, f"{prefix}mdtrt_cert_no")
        elif creds.certno:
            id_number = _id_number(creds.certno, f"{prefix}certno")
        if id_number is None:
            if creds.psn_no is None:
                raise NationalError.field(
                    f"{prefix}mdtrt_cert_no",
                    "须传居民身份证号（mdtrt_cert_type 02）或证件号码(certno)，"
                    "或1101所得的人员编号(psn_no)",
                )
            async with self.db.read() as conn:
                known = await national.person(conn, hospital.id, creds.psn_no)
            if known is None:
                raise NationalError.field(
                    f"{prefix}psn_no", "未知：请先调用1101人员信息获取，或以居民身份证号办理"
                )
            id_number = str(known.id_number)
        elif creds.psn_no is not None and creds.psn_no != self.psn_no(id_number):
            raise NationalError.field(f"{prefix}psn_no", "与证件号码不符")
        name = creds.psn_name
        if not name:
            async with self.db.read() as conn:
                known = await national.person(conn, hospital.id, self.psn_no(id_number))
            name = known.psn_name if known is not None else None
        if not name:
            with native():
                answer = await self.eligibility.on_date(id_number, on, call.request_id)
            name = answer.answer.name if answer.answer is not None else None
        if not name:
            raise NationalError.field(
                f"{prefix}psn_name", "必填：医保救助对象登记系统中没有此人，请传人员姓名"
            )
        return id_number, name

    async def _visit(
        self,
        call: Call,
        mdtrt_id: str,
        expected: VisitType | None,
        psn_no: str | None,
        prefix: str,
    ) -> Visit:
        """The visit registered (2201) or admitted (2401) under ``mdtrt_id``."""
        async with self.db.read() as conn:
            admission = await admissions_repository.get(conn, call.hospital.id, mdtrt_id)
            details = await national.visit(conn, call.hospital.id, mdtrt_id)
        if admission is None:
            raise NationalError.field(
                f"{prefix}mdtrt_id", "不存在：请先办理门诊挂号(2201)或入院办理(2401)"
            )
        visit_type: VisitType = "inpatient" if admission.visit_type == "inpatient" else "outpatient"
        if expected is not None and visit_type != expected:
            raise NationalError.field(
                f"{prefix}mdtrt_id",
                f"为{VISIT_TYPE_LABELS[visit_type]}就诊，不能办理{VISIT_TYPE_LABELS[expected]}交易",
            )
        psn = self.psn_no(admission.id_number)
        if psn_no is not None and psn_no != psn:
            raise NationalError.field(f"{prefix}psn_no", "与就诊ID(mdtrt_id)的人员不符")
        return Visit(
            mdtrt_id=mdtrt_id,
            visit_type=visit_type,
            id_number=admission.id_number,
            psn_no=psn,
            name=admission.patient_name,
            admitted_on=admission.admitted_on,
            discharged_on=details.discharged_on if details is not None else None,
            diagnoses=tuple(json.loads(details.diagnoses)) if details is not None else (),
            med_type=details.med_type if details is not None else None,
            insutype=details.insutype if details is not None else None,
        )

    # ------------------------------------------------------------------------- 9001, 1101

    async def sign_in(self, call: Call) -> Outcome:
        """9001 签到: a ``sign_no`` for the HIS's session (medaid keeps no session state: the
        envelope's ``sign_no`` is accepted and not checked)."""
        parse(In9001, call.envelope.input)
        now = datetime.now(self.tz)
        sign_no = f"{now:%Y%m%d%H%M%S}{secrets.token_hex(4)}"
        return Outcome(
            {"signinoutb": {"sign_time": f"{now:%Y-%m-%d %H:%M:%S}", "sign_no": sign_no}}
        )

    async def person(self, call: Call) -> Outcome:
        """1101 人员信息获取: who the person is (from the ID number itself), their insurance
        (the residents' scheme) and their identity records (the registry's categories on
        ``begntime``, default today, through the policy's ``[identity_types]``)."""
        data = parse(In1101, call.envelope.input).data
        if data.mdtrt_cert_no and data.mdtrt_cert_type == mapping.ID_CARD_MDTRT_CERT_TYPE:
            id_number = _id_number(data.mdtrt_cert_no, "data.mdtrt_cert_no")
        elif data.certno and data.psn_cert_type in (None, mapping.ID_CARD_PSN_CERT_TYPE):
            id_number = _id_number(data.certno, "data.certno")
        else:
            raise NationalError.field(
                "data.mdtrt_cert_type",
                "本服务以居民身份证号识别人员：传 mdtrt_cert_type 02 与身份证号，"
                "或 psn_cert_type 01 与 certno",
            )
        on = data.begntime or self.today()
        with native({"visit.discharged_on": "data.begntime"}):
            policy = self.eligibility.policy_for(on, "visit.discharged_on")
            answer = await self.eligibility.on_date(id_number, on, call.request_id)
        registered = answer.answer
        name = registered.name if registered is not None else data.psn_name
        aid_class = policy.aid_class_for(answer.categories)
        psn_no = self.psn_no(id_number)
        async with self.db.write() as conn:
            await national.save_person(
                conn,
                {
                    "hospital_id": call.hospital.id,
                    "psn_no": psn_no,
                    "id_number": id_number,
                    "psn_name": name,
                    "updated_at": utcnow(),
                },
            )
        extra = {
            "aid_class": aid_class,
            "aid_class_name": AID_CLASS_LABELS[aid_class],
            "deposit_free": aid_class in policy.deposit_free_classes,
            "registered": registered is not None,
            "policy_version": policy.version,
        }
        output = {
            "baseinfo": mapping.baseinfo(
                psn_no=psn_no,
                id_number=id_number,
                name=name or "",
                gend=gender(id_number),
                brdy=birth_date(id_number),
                age=age_on(id_number, on),
                extra=extra,
            ),
            "insuinfo": mapping.insuinfo(
                registered.region_code if registered is not None else id_number[:6]
            ),
            "idetinfo": mapping.idetinfo(
                answer.categories,
                policy.identity_types,
                registered.valid_from if registered is not None else None,
                registered.valid_to if registered is not None else None,
            ),
        }
        return Outcome(output)

    # ----------------------------------------------------------------- registration

    async def _admit(
        self,
        call: Call,
        creds: Credentials,
        *,
        prefix: str,
        visit_id: str,
        visit_type: VisitType,
        admitted_on: date,
        visit_field: str,
        diagnoses: Sequence[str],
    ) -> tuple[str, str]:
        """Record the admission (the native one: eligibility on the admission date, one stay
        at a time), then the visit's national details and the person; ``(psn_no, visit_id)``."""
        id_number, name = await self._identify(call, creds, prefix, admitted_on)
        renames = {
            "visit.visit_id": f"{prefix}{visit_field}",
            "visit.admitted_on": f"{prefix}begntime",
            "patient.id_number": f"{prefix}certno",
            "patient.name": f"{prefix}psn_name",
        }
        with native(renames):
            request = AdmissionRequest.model_validate(
                {
                    "patient": {"id_number": id_number, "name": name},
                    "visit": {
                        "visit_id": visit_id,
                        "type": visit_type,
                        "admitted_on": admitted_on.isoformat(),
                    },
                }
            )
            answer, _created = await self.admissions.admit(call.hospital, request, call.request_id)
        if answer.visit_type != visit_type:
            raise NationalError.field(
                f"{prefix}{visit_field}",
                f"已登记为{VISIT_TYPE_LABELS[answer.visit_type]}就诊",
            )
        psn_no = self.psn_no(id_number)
        now = utcnow()
        async with self.db.write() as conn:
            await national.add_visit(
                conn,
                {
                    "hospital_id": call.hospital.id,
                    "mdtrt_id": request.visit.visit_id,
                    "med_type": creds.med_type,
                    "insutype": creds.insutype,
                    "diagnoses": json.dumps(list(diagnoses)),
                    "discharged_on": None,
                    "created_at": now,
                    "updated_at": now,
                },
            )
            await national.save_person(
                conn,
                {
                    "hospital_id": call.hospital.id,
                    "psn_no": psn_no,
                    "id_number": id_number,
                    "psn_name": name,
                    "updated_at": now,
                },
            )
        return psn_no, request.visit.visit_id

    async def register(self, call: Call) -> Outcome:
        """2201 门诊挂号: an outpatient visit, ``mdtrt_id`` = ``ipt_otp_no``."""
        data = parse(In2201, call.envelope.input).data
        psn_no, mdtrt_id = await self._admit(
            call,
            data,
            prefix="data.",
            visit_id=data.ipt_otp_no,
            visit_type="outpatient",
            admitted_on=data.begntime,
            visit_field="ipt_otp_no",
            diagnoses=(),
        )
        output = {"data": {"mdtrt_id": mdtrt_id, "psn_no": psn_no, "ipt_otp_no": mdtrt_id}}
        return Outcome(output, mdtrt_id=mdtrt_id)

    async def admit(self, call: Call) -> Outcome:
        """2401 入院办理: an inpatient stay, ``mdtrt_id`` = ``ipt_no``; the diagnoses
        (``dscg_maindiag_code``, ``diseinfo``) are kept for its settle."""
        body = parse(In2401, call.envelope.input)
        info = body.mdtrtinfo
        diagnoses = _diagnoses(info.dscg_maindiag_code, body.diseinfo, "mdtrtinfo.")
        psn_no, mdtrt_id = await self._admit(
            call,
            info,
            prefix="mdtrtinfo.",
            visit_id=info.ipt_no,
            visit_type="inpatient",
            admitted_on=info.begntime,
            visit_field="ipt_no",
            diagnoses=diagnoses,
        )
        return Outcome({"result": {"mdtrt_id": mdtrt_id, "psn_no": psn_no}}, mdtrt_id=mdtrt_id)

    async def discharge(self, call: Call) -> Outcome:
        """2402 出院办理: the discharge date (``endtime``) the final settle uses, and the
        discharge diagnoses when sent."""
        body = parse(In2402, call.envelope.input)
        info = body.dscginfo
        visit = await self._visit(call, info.mdtrt_id, "inpatient", info.psn_no, "dscginfo.")
        if info.endtime < visit.admitted_on:
            raise NationalError.field(
                "dscginfo.endtime", f"不能早于入院日期 {visit.admitted_on.isoformat()}"
            )
        diagnoses = _diagnoses(None, body.diseinfo, "dscginfo.") if body.diseinfo else None
        now = utcnow()
        async with self.db.write() as conn:
            await national.add_visit(
                conn,
                {
                    "hospital_id": call.hospital.id,
                    "mdtrt_id": visit.mdtrt_id,
                    "med_type": None,
                    "insutype": None,
                    "diagnoses": "[]",
                    "discharged_on": None,
                    "created_at": now,
                    "updated_at": now,
                },
            )
            await national.discharge(
                conn,
                call.hospital.id,
                visit.mdtrt_id,
                info.endtime,
                json.dumps(diagnoses if diagnoses is not None else list(visit.diagnoses)),
                now,
            )
        output = {"dscginfo": {"mdtrt_id": visit.mdtrt_id, "endtime": info.endtime.isoformat()}}
        return Outcome(output, mdtrt_id=visit.mdtrt_id)

    # --------------------------------------------------------------------- fee details

    async def upload(self, call: Call) -> Outcome:
        """2204 / 2301 费用明细上传: one batch of one visit's lines, stored as the native
        upload stores them (all or nothing; a serial already uploaded is refused)."""
        expected: VisitType = "outpatient" if call.envelope.infno == "2204" else "inpatient"
        body = parse(InUpload, call.envelope.input)
        # With a catalogue loaded it decides each line's level: chrgitm_lv may be left out.
        catalogue = (await self.settlements.catalogue.view(call.hospital.id)).loaded
        lines: list[FeeLine] = []
        for index, raw in enumerate(body.feedetail):
            try:
                line = FeeLine.model_validate(raw)
            except ValidationError as exc:
                raise from_validation(exc, prefix=f"feedetail[{index}].") from None
            level = raw.get("chrgitm_lv")
            if (level is None or blank(level)) and not catalogue:
                raise NationalError.field(
                    f"feedetail[{index}].chrgitm_lv", "必填（01甲类、02乙类、03丙类）"
                )
            if not (level is None or blank(level)) and str(level) not in mapping.CHRGITM_LV:
                raise NationalError.field(f"feedetail[{index}].chrgitm_lv", "须为01、02或03")
            if lines and line.mdtrt_id != lines[0].mdtrt_id:
                raise NationalError.field(
                    f"feedetail[{index}].mdtrt_id", "一次上传的明细须属于同一就诊"
                )
            lines.append(line)
        first = lines[0]
        visit = await self._visit(call, first.mdtrt_id, expected, first.psn_no, "feedetail[0].")
        for index, line in enumerate(lines):
            if line.psn_no is not None and line.psn_no != visit.psn_no:
                raise NationalError.field(
                    f"feedetail[{index}].psn_no", "与就诊ID(mdtrt_id)的人员不符"
                )
        with native():
            batch = FeeDetailUpload.model_validate(
                {"items": [mapping.fee_line(raw) for raw in body.feedetail]}
            )
            uploaded = await self.fee_details.upload(call.hospital, visit.mdtrt_id, batch)
        sent = {item.feedetl_sn: item.model_dump() for item in batch.items}
        serials = [line.feedetl_sn for line in uploaded.lines]
        batches: dict[str, list[str]] = {}
        for line in lines:
            batches.setdefault(line.chrg_bchno or "", []).append(line.feedetl_sn)
        output = {
            "result": [mapping.line_result(line, sent[line.feedetl_sn]) for line in uploaded.lines]
        }
        return Outcome(
            output,
            mdtrt_id=visit.mdtrt_id,
            subject=mapping.subject(feedetl_sn=serials, chrg_bchno=batches),
        )

    async def withdraw_outpatient(self, call: Call) -> Outcome:
        """2205 门诊费用明细撤销: the open lines of a charge batch (``chrg_bchno``; ``0000``:
        every open line of the visit)."""
        data = parse(In2205, call.envelope.input).data
        visit = await self._visit(call, data.mdtrt_id, "outpatient", data.psn_no, "data.")
        serials: list[str] | None = None
        if data.chrg_bchno != mapping.ALL_OPEN_LINES:
            async with self.db.read() as conn:
                uploads = await national.done_of_visit(
                    conn, call.hospital.id, visit.mdtrt_id, "2204"
                )
            serials = []
            for row in uploads:
                serials.extend(
                    json.loads(row.subject or "{}").get("chrg_bchno", {}).get(data.chrg_bchno, [])
                )
            if not serials:
                raise NationalError.field("data.chrg_bchno", "该就诊没有以此收费批次号上传的明细")
        with native():
            result = await self.fee_details.withdraw(call.hospital, visit.mdtrt_id, serials)
        output = {"result": [{"feedetl_sn": s} for s in result.withdrawn]}
        return Outcome(output, mdtrt_id=visit.mdtrt_id)

    async def withdraw_inpatient(self, call: Call) -> Outcome:
        """2302 住院费用明细撤销: one open line (``feedetl_sn``; ``0000``: every open line)."""
        data = parse(In2302, call.envelope.input).data
        visit = await self._visit(call, data.mdtrt_id, "inpatient", data.psn_no, "data.")
        every = data.feedetl_sn == mapping.ALL_OPEN_LINES
        with native():
            result = await self.fee_details.withdraw(
                call.hospital, visit.mdtrt_id, None if every else [data.feedetl_sn]
            )
        if not every and not result.withdrawn:
            raise NationalError.field(
                "data.feedetl_sn", "不存在或已结算（已结算的明细须先撤销结算）"
            )
        output = {"result": [{"feedetl_sn": s} for s in result.withdrawn]}
        return Outcome(output, mdtrt_id=visit.mdtrt_id)

    # -------------------------------------------------------------------------- settle

    async def settle(self, call: Call) -> Outcome:
        """2206 / 2207 门诊预结算 / 结算, 2303 / 2304 住院预结算 / 结算: the visit's open uploaded
        lines, through the native preview or settle (an interim part with ``mid_setl_flag``
        1). The settle's ``Idempotency-Key`` is derived from the ``msgid``."""
        infno = call.envelope.infno
        expected: VisitType = "outpatient" if infno.startswith("22") else "inpatient"
        data = parse(InSettle, call.envelope.input).data
        visit = await self._visit(call, data.mdtrt_id, expected, data.psn_no, "data.")
        interim = data.mid_setl_flag == mapping.YES
        if interim and expected == "outpatient":
            raise NationalError.field("data.mid_setl_flag", "门诊不能中途结算")
        bill_date = self._bill_date(visit, interim)
        if data.medfee_sumamt is not None:
            listing = await self.fee_details.listing(call.hospital, visit.mdtrt_id)
            total = sum((line.amount for line in listing.lines if line.setl_id is None), Decimal(0))
            if total != data.medfee_sumamt:
                raise NationalError.field(
                    "data.medfee_sumamt", f"与未结算费用明细合计 {total:.2f} 不符"
                )
        renames = {
            "visit.visit_id": "data.mdtrt_id",
            "visit.discharged_on": "dscginfo.endtime",
            "visit.interim": "data.mid_setl_flag",
        }
        with native(renames):
            request = SettleRequest.model_validate(
                mapping.settle_request(
                    id_number=visit.id_number,
                    name=visit.name,
                    visit_id=visit.mdtrt_id,
                    visit_type=visit.visit_type,
                    admitted_on=visit.admitted_on,
                    bill_date=bill_date,
                    diagnoses=visit.diagnoses,
                    interim=interim,
                )
            )
            if infno in ("2206", "2303"):
                bill = await self.settlements.preview(call.hospital, request, call.request_id)
            else:
                key = f"national {call.envelope.msgid}"
                settled = await self.settlements.settle(
                    call.hospital, request, key, call.request_id
                )
                bill = settled.bill
        preview = bill.setl_id is None
        output = self._bill(
            bill,
            visit,
            interim=interim if expected == "inpatient" else None,
            msgid=None if preview else call.envelope.msgid,
        )
        return Outcome(
            output,
            mdtrt_id=visit.mdtrt_id,
            subject=None if preview else mapping.subject(setl_id=bill.setl_id),
        )

    def _bill_date(self, visit: Visit, interim: bool) -> date:
        """The date a bill is settled up to: an interim part's, today; the last part's, the
        discharge date of 2402 (today when 2402 has not been called); an outpatient visit's,
        the visit date."""
        if visit.visit_type == "outpatient":
            return visit.admitted_on
        if interim or visit.discharged_on is None:
            return max(self.today(), visit.admitted_on)
        return visit.discharged_on

    def _bill(
        self,
        bill: BillOut,
        visit: Visit,
        *,
        interim: bool | None,
        msgid: str | None,
        reversal: bool = False,
    ) -> dict[str, Any]:
        info = mapping.setlinfo(
            bill,
            psn_no=visit.psn_no,
            tz=self.tz,
            interim=interim,
            msgid=msgid,
            med_type=visit.med_type,
            insutype=visit.insutype,
        )
        if reversal:
            return {
                "setlinfo": mapping.reversal_setlinfo(info, bill, self.tz),
                "setldetail": mapping.setldetail(bill.setldetail, sign=-1),
            }
        return {"setlinfo": info, "setldetail": mapping.setldetail(bill.setldetail)}

    async def revoke(self, call: Call) -> Outcome:
        """2208 / 2305 结算撤销: the native revoke; the answer is the reversal it booked (its own
        ``setl_id``, ``refd_setl_flag`` 1, amounts negated)."""
        expected: VisitType = "outpatient" if call.envelope.infno == "2208" else "inpatient"
        data = parse(InRevoke, call.envelope.input).data
        visit = await self._visit(call, data.mdtrt_id, expected, data.psn_no, "data.")
        output, setl_id = await self._revoke(call, visit, data.setl_id, "data.setl_id")
        return Outcome(output, mdtrt_id=visit.mdtrt_id, subject=mapping.subject(setl_id=setl_id))

    async def _revoke(
        self, call: Call, visit: Visit, setl_id: str, path: str
    ) -> tuple[dict[str, Any], str]:
        with native():
            stored = await self.settlements.stored(call.hospital, setl_id)
        if stored.bill.visit_id != visit.mdtrt_id:
            raise NationalError.field(path, f"不属于就诊 {visit.mdtrt_id}")
        reason = f"national {call.envelope.infno} {call.envelope.msgid}"
        assert stored.bill.setl_id is not None
        with native():
            bill = await self.settlements.revoke(
                call.hospital, stored.bill.setl_id, reason=reason, request_id=call.request_id
            )
            async with self.db.read() as conn:
                row = await bills_repository.get(conn, stored.bill.setl_id, call.hospital.id)
        interim = bool(row.interim) if row is not None and visit.visit_type == "inpatient" else None
        output = self._bill(bill, visit, interim=interim, msgid=None, reversal=True)
        return output, stored.bill.setl_id

    # ------------------------------------------------------------------------- queries

    async def query(self, call: Call) -> Outcome:
        """5203 结算信息查询: a bill (or, named by its own ``setl_id``, the reversal of one)."""
        data = parse(In5203, call.envelope.input).data
        with native():
            stored = await self.settlements.stored(call.hospital, data.setl_id)
        bill = stored.bill
        assert bill.setl_id is not None
        async with self.db.read() as conn:
            row = await bills_repository.get(conn, bill.setl_id, call.hospital.id)
            details = await national.visit(conn, call.hospital.id, bill.visit_id)
        assert row is not None
        psn_no = self.psn_no(row.id_number)
        if data.psn_no is not None and data.psn_no != psn_no:
            raise NationalError.field("data.psn_no", "与结算ID(setl_id)的人员不符")
        if data.mdtrt_id is not None and data.mdtrt_id != bill.visit_id:
            raise NationalError.field("data.mdtrt_id", "与结算ID(setl_id)的就诊不符")
        visit = Visit(
            mdtrt_id=bill.visit_id,
            visit_type=bill.visit_type,
            id_number=row.id_number,
            psn_no=psn_no,
            name=bill.patient.name,
            admitted_on=bill.admitted_on,
            discharged_on=bill.discharged_on,
            med_type=details.med_type if details is not None else None,
            insutype=details.insutype if details is not None else None,
        )
        reversal = bill.reversal is not None and bill.reversal.setl_id == data.setl_id
        interim = bool(row.interim) if bill.visit_type == "inpatient" else None
        return Outcome(self._bill(bill, visit, interim=interim, msgid=None, reversal=reversal))

    async def totals(self, call: Call) -> Outcome:
        """5206 人员累计信息查询: the person's running totals of a year (``cum_ym``: its year;
        default this year), as the native accumulators answer (a hospital sees persons it
        has billed)."""
        data = parse(In5206, call.envelope.input).data
        async with self.db.read() as conn:
            known = await national.person(conn, call.hospital.id, data.psn_no)
        if known is None:
            raise NationalError.field("data.psn_no", "未知：请先调用1101人员信息获取")
        year = int(data.cum_ym[:4]) if data.cum_ym else None
        with native({"query.year": "data.cum_ym"}):
            answer = await self.persons.accumulators(
                known.id_number, year=year, hospital=call.hospital, request_id=call.request_id
            )
        return Outcome({"cuminfo": mapping.cuminfo(answer)})

    # ----------------------------------------------------------------- reconciliation

    async def reconcile_summary(self, call: Call) -> Outcome:
        """3201 对总账: the hospital's net totals of a period beside the service's.
        ``cash_payamt`` when sent, else ``medfee_sumamt − fund_pay_sumamt − acct_pay``;
        ``clr_type`` 1x / 2x narrows to outpatient / inpatient records."""
        data = parse(In3201, call.envelope.input).data
        cash = data.cash_payamt
        if cash is None:
            cash = _difference(data.medfee_sumamt, data.fund_pay_sumamt, data.acct_pay)
        renames = {
            "begin_date": "data.stmt_begndate",
            "end_date": "data.stmt_enddate",
            "medfee_sumamt": "data.medfee_sumamt",
            "fund_pay_sumamt": "data.fund_pay_sumamt",
            "psn_cash_pay": "data.cash_payamt",
            "setl_cnt": "data.fixmedins_setl_cnt",
            "body": "data.stmt_enddate",
        }
        with native(renames):
            request = SummaryRequest.model_validate(
                {
                    "begin_date": data.stmt_begndate.isoformat(),
                    "end_date": data.stmt_enddate.isoformat(),
                    "visit_type": mapping.visit_type_of_clr_type(data.clr_type),
                    "medfee_sumamt": mapping.amount_text(data.medfee_sumamt),
                    "fund_pay_sumamt": mapping.amount_text(data.fund_pay_sumamt),
                    "psn_cash_pay": mapping.amount_text(cash),
                    "setl_cnt": data.fixmedins_setl_cnt,
                }
            )
            result = await reconcile_summary(
                self.db,
                call.hospital,
                request,
                actor=f"hospital:{call.hospital.code}",
                request_id=call.request_id,
            )
        return Outcome({"stmtinfo": mapping.stmtinfo(result, data.setl_optins)})

    async def reconcile_detail(self, call: Call) -> Outcome:
        """3202 对明细账: the hospital's records of a period, one per bill or reversal, in
        ``detail`` (``setl_id``, ``mdtrt_id``, ``psn_no``, ``medfee_sumamt``,
        ``fund_pay_sumamt``, ``refd_setl_flag``, and for a reversal ``init_setl_id``: the
        bill it reverses, which then counts as revoked in the period). Every record on either
        side gets the native result code."""
        body = parse(In3202, call.envelope.input)
        data = body.data
        try:
            check_period(data.stmt_begndate, data.stmt_enddate, MAX_DETAIL_DAYS)
        except ValueError as exc:
            raise NationalError.field("data.stmt_enddate", chinese(str(exc))) from None
        wanted: set[str] = set()
        revoked: set[str] = set()
        for index, row in enumerate(body.detail):
            if not isinstance(row, dict):
                raise NationalError.field(f"detail[{index}]", "须为对象")
            psn_no = row.get("psn_no")
            if not isinstance(psn_no, str) or not psn_no:
                raise NationalError.field(f"detail[{index}].psn_no", "必填")
            wanted.add(psn_no)
            if str(row.get("refd_setl_flag", 0)) == "1" and isinstance(
                row.get("init_setl_id"), str
            ):
                revoked.add(row["init_setl_id"])
        async with self.db.read() as conn:
            known = await national.persons_of(conn, call.hospital.id, sorted(wanted))
        items = []
        for index, row in enumerate(body.detail):
            id_number = known.get(row["psn_no"])
            if id_number is None:
                raise NationalError.field(
                    f"detail[{index}].psn_no", "未知：不是本服务给本机构的人员编号"
                )
            reversal = str(row.get("refd_setl_flag", 0)) == "1"
            status: Literal["settled", "revoked"] = (
                "revoked" if reversal or row.get("setl_id") in revoked else "settled"
            )
            items.append(mapping.books_row(row, id_number, status))
        with native():
            books = parse_json(json.dumps({"bills": items}, ensure_ascii=False).encode("utf-8"))
            outcome = await reconcile_detail(
                self.db,
                call.hospital,
                data.stmt_begndate,
                data.stmt_enddate,
                books.bills,
                actor=f"hospital:{call.hospital.code}",
                request_id=call.request_id,
            )
        counts = outcome.counts
        text = (
            "对平"
            if outcome.matched
            else "不平："
            + "；".join(
                f"{RESULT_NAMES[code]} {counts[code]} 笔"
                for code in ("1", "2", "3")
                if counts[code]
            )
        )
        output = {
            "stmtinfo": {
                "setl_optins": data.setl_optins,
                "stmt_rslt": "0" if outcome.matched else "1",
                "stmt_rslt_dscr": text,
                "reconciliation_id": outcome.reconciliation_id,
                "fixmedins_setl_cnt": outcome.hospital_bill_count,
                "center_setl_cnt": outcome.service_bill_count,
            },
            "detail": [mapping.stmt_row(row) for row in outcome.rows],
        }
        return Outcome(output)

    # ----------------------------------------------------------------------- reversal

    REVERSIBLE = {"2204": "upload", "2301": "upload", "2207": "settle", "2304": "settle"}

    async def reverse(self, call: Call) -> Outcome:
        """2601 冲正交易: undo a message by its ``omsgid``: a settle (2207 / 2304) is revoked,
        an upload (2204 / 2301) withdrawn (its lines still open). Undoing it again answers the
        same without doing anything."""
        data = parse(In2601, call.envelope.input).data
        async with self.db.read() as conn:
            original = await national.message(conn, call.hospital.id, data.omsgid)
        if original is None or original.answer is None:
            raise NationalError.field("data.omsgid", "原报文不存在或未成功办理，无需冲正")
        if original.infno != data.oinfno:
            raise NationalError.field("data.oinfno", f"与原报文的交易编号 {original.infno} 不符")
        kind = self.REVERSIBLE.get(original.infno)
        if kind is None:
            raise NationalError.field(
                "data.oinfno",
                f"交易 {original.infno} 不支持冲正"
                "（支持 2204、2301 撤销明细，2207、2304 撤销结算）",
            )
        expected: VisitType = "outpatient" if original.infno.startswith("22") else "inpatient"
        visit = await self._visit(call, original.mdtrt_id, expected, data.psn_no, "data.")
        done = json.loads(original.subject or "{}")
        output: dict[str, Any] = {"omsgid": data.omsgid, "oinfno": data.oinfno}
        if original.reversed_by is not None:
            output["reversed_by"] = original.reversed_by
            return Outcome(output, mdtrt_id=visit.mdtrt_id)
        if kind == "settle":
            answer, _ = await self._revoke(call, visit, str(done["setl_id"]), "data.omsgid")
            output.update(answer)
        else:
            serials = [str(s) for s in done.get("feedetl_sn", [])]
            listing = await self.fee_details.listing(call.hospital, visit.mdtrt_id)
            settled = [
                line.feedetl_sn
                for line in listing.lines
                if line.feedetl_sn in serials and line.setl_id
            ]
            if settled:
                raise NationalError.field(
                    "data.omsgid", f"明细已结算（{', '.join(settled[:5])}），请先撤销结算"
                )
            with native():
                result = await self.fee_details.withdraw(call.hospital, visit.mdtrt_id, serials)
            output["result"] = [{"feedetl_sn": s} for s in result.withdrawn]
        async with self.db.write() as conn:
            await national.mark_reversed(
                conn, call.hospital.id, data.omsgid, call.envelope.msgid, utcnow()
            )
        return Outcome(output, mdtrt_id=visit.mdtrt_id, subject=mapping.subject(omsgid=data.omsgid))


def _difference(medfee: Any, fund: Any, acct: Any) -> Decimal | None:
    """``medfee − fund − acct`` of amounts as sent (no ``acct``: 0); None when one is missing
    or not an amount (the native check then names it)."""
    if medfee is None or fund is None:
        return None
    try:
        amounts = [parse_money(v, allow_negative=True) for v in (medfee, fund, acct or 0)]
    except ValueError:
        return None
    return amounts[0] - amounts[1] - amounts[2]
