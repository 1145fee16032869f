"""The national interface's envelope: read it, dispatch on ``infno``, answer, and keep the
answers of the writing transactions by ``msgid`` (the retry key).

``msgid`` (发送方报文ID) is the sender's unique message id. A writing transaction claims its
``(hospital, msgid)`` before it runs (a ``pending`` row with the request's fingerprint, the
SHA-256 of ``infno`` and ``input`` written canonically), stores its answer when it succeeds
and gives the claim up when it fails (a failure writes nothing, so the same message may be
sent again). The same ``msgid`` with the same ``infno`` and ``input`` then answers the stored
answer, byte for byte, without running again (no second bill); with another body it answers
``infcode`` -1. A claim left ``pending`` longer than :data:`CLAIM_TIMEOUT` (a process that
died mid-call) is taken over by the next retry; the settle's ``Idempotency-Key``, derived from
the ``msgid``, still finds a bill that was written. Reads (9001, 1101, 2206, 2303, 5203, 5206)
are answered afresh every time and not kept.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta, timezone
from typing import Any

from pydantic import ValidationError

from settlement.database import Database, utcnow
from settlement.hospitals.repository import HospitalRef
from settlement.national import jsontext
from settlement.national import repository as national
from settlement.national.auth import NationalAuth
from settlement.national.errors import NationalError, from_problem, from_validation
from settlement.national.handlers import Call, Handlers, Outcome
from settlement.national.models import DONE, PENDING
from settlement.national.schemas import Envelope, blank
from shared.errors import Problem
from shared.outage import RETRY_AFTER_S, database_unavailable

CLAIM_TIMEOUT = timedelta(seconds=60)
Handler = Callable[[Call], Awaitable[Outcome]]

READS = ("9001", "1101", "2206", "2303", "5203", "5206")
WRITES = (
    "2201",
    "2204",
    "2205",
    "2207",
    "2208",
    "2401",
    "2301",
    "2302",
    "2402",
    "2304",
    "2305",
    "3201",
    "3202",
    "2601",
)
SUPPORTED = tuple(sorted((*READS, *WRITES)))


def fingerprint(envelope: Envelope) -> str:
    """SHA-256 (hex) of ``infno`` and ``input`` written canonically (keys sorted, numbers as
    sent): the envelope's other fields (``inf_time``, ``sign_no``, the operator) may change on
    a retry."""
    text = jsontext.canonical({"infno": envelope.infno, "input": envelope.input})
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class NationalService:
    """The national interface: built once in the app's lifespan with the native services;
    ``handlers`` None (no ``SETTLEMENT_NATIONAL_SECRET``) answers every call -1."""

    def __init__(
        self,
        *,
        db: Database,
        local_tz: timezone,
        auth: NationalAuth,
        handlers: Handlers | None,
    ) -> None:
        self.db = db
        self.tz = local_tz
        self.auth = auth
        self.handlers = handlers
        self._dispatch: dict[str, Handler] = {}
        if handlers is not None:
            self._dispatch = {
                "9001": handlers.sign_in,
                "1101": handlers.person,
                "2201": handlers.register,
                "2204": handlers.upload,
                "2205": handlers.withdraw_outpatient,
                "2206": handlers.settle,
                "2207": handlers.settle,
                "2208": handlers.revoke,
                "2401": handlers.admit,
                "2301": handlers.upload,
                "2302": handlers.withdraw_inpatient,
                "2402": handlers.discharge,
                "2303": handlers.settle,
                "2304": handlers.settle,
                "2305": handlers.revoke,
                "5203": handlers.query,
                "5206": handlers.totals,
                "3201": handlers.reconcile_summary,
                "3202": handlers.reconcile_detail,
                "2601": handlers.reverse,
            }

    async def call(self, hospital: HospitalRef, body: bytes, request_id: str | None) -> str:
        """The answer envelope (JSON text) to a request envelope from ``hospital``."""
        received = datetime.now(self.tz)
        try:
            envelope = self._envelope(body)
            if envelope.fixmedins_code != hospital.code:
                raise NationalError.field(
                    "fixmedins_code", f"与密钥所属的定点医药机构 {hospital.code} 不符"
                )
            handler = self._dispatch.get(envelope.infno)
            if self.handlers is None:
                raise NationalError(
                    "本服务未启用国家接口：请管理员设置 SETTLEMENT_NATIONAL_SECRET"
                    "（人员编号的密钥）"
                )
            if handler is None:
                raise NationalError.field(
                    "infno", f"不支持的交易 {envelope.infno}；支持：{'、'.join(SUPPORTED)}"
                )
            call = Call(hospital, envelope, request_id)
            if envelope.infno in WRITES:
                return await self._recorded(call, handler, received)
            outcome = await handler(call)
            return self._answer(received, outcome.output)
        except NationalError as exc:
            return self._answer(received, None, err_msg=exc.err_msg)
        except Problem as problem:
            return self._answer(received, None, err_msg=from_problem(problem).err_msg)
        except ValidationError as exc:
            return self._answer(received, None, err_msg=from_validation(exc).err_msg)
        except Exception as exc:
            if not database_unavailable(exc):
                raise
            message = f"数据库暂时不可用，未写入任何数据，请{RETRY_AFTER_S}秒后重试"
            return self._answer(received, None, err_msg=message)

    def _envelope(self, body: bytes) -> Envelope:
        try:
            value = jsontext.loads(body)
        except (ValueError, RecursionError):
            raise NationalError("报文不是有效的JSON（UTF-8）") from None
        if not isinstance(value, dict):
            raise NationalError("报文须为JSON对象")
        if isinstance(value.get("input"), str) and not blank(value["input"]):
            # Some HIS send ``input`` as a JSON string holding the object.
            try:
                value["input"] = jsontext.loads(value["input"])
            except (ValueError, RecursionError):
                raise NationalError.field("input", "不是有效的JSON对象") from None
        try:
            return Envelope.model_validate(value)
        except ValidationError as exc:
            raise from_validation(exc) from None

    async def _recorded(self, call: Call, handler: Handler, received: datetime) -> str:
        """Run a writing transaction once per ``msgid`` (see the module's docstring)."""
        hospital, envelope = call.hospital, call.envelope
        taken = fingerprint(envelope)
        now = utcnow()
        async with self.db.write() as conn:
            claimed = await national.claim(
                conn,
                {
                    "hospital_id": hospital.id,
                    "msgid": envelope.msgid,
                    "infno": envelope.infno,
                    "fingerprint": taken,
                    "state": PENDING,
                    "mdtrt_id": None,
                    "subject": None,
                    "answer": None,
                    "reversed_by": None,
                    "created_at": now,
                    "updated_at": now,
                },
            )
            existing = (
                None if claimed else await national.message(conn, hospital.id, envelope.msgid)
            )
        if not claimed:
            busy = NationalError.field("msgid", "同一报文正在办理中，请稍后重试")
            if existing is None:
                raise busy  # given up meanwhile: the retry may claim it
            if existing.fingerprint != taken:
                raise NationalError.field(
                    "msgid",
                    f"已用于另一笔交易（{existing.infno}），新的交易请使用新的报文ID",
                )
            if existing.state == DONE:
                return str(existing.answer)
            if now - existing.updated_at < CLAIM_TIMEOUT:
                raise busy
            async with self.db.write() as conn:
                took = await national.take_over(
                    conn, hospital.id, envelope.msgid, existing.updated_at, now, taken
                )
            if not took:
                raise busy
        try:
            outcome = await handler(call)
        except BaseException:
            await self._release(hospital.id, envelope.msgid)
            raise
        answer = self._answer(received, outcome.output)
        async with self.db.write() as conn:
            await national.finish(
                conn,
                hospital.id,
                envelope.msgid,
                answer=answer,
                subject=outcome.subject,
                mdtrt_id=outcome.mdtrt_id,
                now=utcnow(),
            )
        return answer

    async def _release(self, hospital_id: int, msgid: str) -> None:
        """Give a failed message's claim up (best effort: an unreachable database leaves it to
        :data:`CLAIM_TIMEOUT`)."""
        try:
            async with self.db.write() as conn:
                await national.release(conn, hospital_id, msgid)
        except Exception as exc:  # the original error is what the caller needs to see
            if not database_unavailable(exc):
                raise

    def _answer(
        self,
        received: datetime,
        output: dict[str, Any] | None,
        *,
        err_msg: str | None = None,
        warn_msg: str | None = None,
    ) -> str:
        responded = datetime.now(self.tz)
        return jsontext.dumps(
            {
                "infcode": -1 if err_msg is not None else 0,
                "inf_refmsgid": f"{responded:%Y%m%d%H%M%S%f}{secrets.token_hex(4)}",
                "refmsg_time": _time(received),
                "respond_time": _time(responded),
                "err_msg": err_msg,
                "warn_msg": warn_msg,
                "output": output,
            }
        )


def _time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
