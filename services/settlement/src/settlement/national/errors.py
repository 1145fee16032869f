"""Business errors of the national interface: answered with HTTP 200, ``infcode`` -1 and an
``err_msg`` in Chinese naming the field (``单价(feedetail[2].pric)：最多两位小数``), as the
platform does.

A handler raises :class:`NationalError`; the native services' problems (422 naming a field,
409, 404, 403, 503) and pydantic's validation errors are turned into one here, their field
names translated to the national ones (:func:`settlement.national.mapping.national_field`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import ValidationError

from settlement.national.mapping import field_label, national_field
from settlement.registry_client import RegistryUnavailable
from shared.errors import (
    Conflict,
    Forbidden,
    NotFound,
    Problem,
    ServiceUnavailable,
    Unprocessable,
    field_path,
)


class NationalError(Exception):
    """A business error: the transaction did nothing; ``err_msg`` says why."""

    def __init__(self, err_msg: str) -> None:
        super().__init__(err_msg)
        self.err_msg = err_msg

    @classmethod
    def field(cls, path: str, message: str) -> NationalError:
        """An error about one national field: ``<中文名>(<path>)：<message>``."""
        return cls(f"{field_label(path)}：{message}")


RETRY_HINT = "未写入任何数据，请{seconds}秒后重试"

_MESSAGES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), text)
    for pattern, text in (
        (r"^Field required$", "必填"),
        (r"^is required$", "必填"),
        (r"^is required for an inpatient visit$", "住院结算必填"),
        (r"^must have at most two decimals$", "最多两位小数"),
        (r"^must have at most (\d+) decimals$", r"最多\1位小数"),
        (r"^must not be negative.*$", "不能为负数"),
        (r"^must be greater than zero$", "必须大于0"),
        (r"^must not exceed (.+)$", r"不能超过\1"),
        (r"^is too large$", "数值过大"),
        (r"^must be a (finite )?(number|money amount)$", "须为数值"),
        (r"^must not be in the future$", "不能晚于今天"),
        (r"^must not be before (\d{4}-\d{2}-\d{2})$", r"不能早于\1"),
        (r"^must not be before admitted_on$", "不能早于入院日期(begntime)"),
        (r"^must be a date written YYYY-MM-DD$", "须为日期 yyyy-MM-dd 或 yyyy-MM-dd HH:mm:ss"),
        (r"^is not a valid calendar date$", "不是有效日期"),
        (r"^must be 18 characters$", "须为18位居民身份证号"),
        (r"^must be 17 digits followed by a digit or X$", "须为17位数字加1位数字或X"),
        (r"^has an invalid birth date$", "出生日期无效"),
        (r"^has a wrong check digit$", "校验位错误"),
        (r"^must be a string of 18 characters$", "须为18位居民身份证号"),
        (r"^must not contain control characters$", "不能含控制字符"),
        (r"^String should match pattern .*$", "格式不符"),
        (r"^String should have at most (\d+) characters?$", r"长度不能超过\1"),
        (r"^String should have at least (\d+) characters?$", r"长度不能少于\1"),
        (r"^List should have at most (\d+) items.*$", r"最多\1条"),
        (r"^List should have at least (\d+) items?.*$", r"至少\1条"),
        (r"^Input should be a valid string$", "须为字符串"),
        (r"^Input should be a valid list$", "须为列表"),
        (r"^Input should be a valid dictionary.*$", "须为对象"),
        (r"^Input should be a valid integer.*$", "须为整数"),
        (r"^Input should be a valid boolean.*$", "须为布尔值"),
        (r"^Input should be a valid date.*$", "须为日期"),
        (r"^Input should be (.+)$", r"取值须为\1"),
        (r"^Extra inputs are not permitted$", "不允许的字段"),
        (r"^only an inpatient stay is settled in parts$", "只有住院可以中途结算"),
        (r"^the bill total must not exceed (.+)$", r"费用总额不能超过\1"),
        (
            r"^no items were sent and the visit has no uploaded fee details left to settle$",
            "该就诊没有未结算的费用明细，请先上传费用明细",
        ),
        (r"^a visit holds at most (\d+) open fee lines$", r"一次就诊最多\1条未结算明细"),
        (r"^must be 0 \(a bill\) or 1 \(a reversal\)$", "须为0（结算）或1（退费冲销）"),
        (r"^(.+) is listed twice.*$", r"\1重复"),
        (r"^end_date must not be before begin_date$", "结束日期不能早于开始日期"),
        (r"^the period must not be longer than (\d+) days$", r"对账期间不能超过\1天"),
    )
)


def chinese(message: str) -> str:
    """A native or pydantic message in Chinese when it is a known one, else as it is."""
    text = message.removeprefix("Value error, ")
    for pattern, replacement in _MESSAGES:
        if pattern.match(text):
            return pattern.sub(replacement, text)
    return text


def from_validation(
    exc: ValidationError, *, prefix: str = "", renames: Mapping[str, str] | None = None
) -> NationalError:
    """pydantic's errors of a model built from national values: every field named."""
    return _fields(
        [
            {"field": field_path(tuple(err["loc"])), "message": str(err["msg"])}
            for err in exc.errors()
        ],
        prefix=prefix,
        renames=renames,
    )


def _fields(
    errors: Sequence[Mapping[str, Any]], *, prefix: str, renames: Mapping[str, str] | None
) -> NationalError:
    parts = []
    seen: set[str] = set()
    for err in errors[:5]:
        native = str(err.get("field") or "")
        path = national_field(native, renames) if native else "input"
        if prefix and path != "input":
            path = f"{prefix}{path}"
        text = f"{field_label(path)}：{chinese(str(err.get('message', '')))}"
        if text not in seen:
            seen.add(text)
            parts.append(text)
    more = f"（另有{len(errors) - 5}处错误）" if len(errors) > 5 else ""
    return NationalError("；".join(parts) + more)


def from_problem(problem: Problem, *, renames: Mapping[str, str] | None = None) -> NationalError:
    """A native service's problem as a national business error."""
    if isinstance(problem, Unprocessable) and problem.errors:
        return _fields(problem.errors, prefix="", renames=renames)
    detail = problem.detail
    if isinstance(problem, RegistryUnavailable):
        seconds = problem.headers.get("Retry-After", "5")
        return NationalError(
            f"医保救助对象登记系统暂时无法访问，{RETRY_HINT.format(seconds=seconds)}（{detail}）"
        )
    if isinstance(problem, ServiceUnavailable):
        seconds = problem.headers.get("Retry-After", "5")
        return NationalError(f"服务暂时不可用，{RETRY_HINT.format(seconds=seconds)}（{detail}）")
    if isinstance(problem, Conflict):
        return NationalError(f"业务冲突：{detail}")
    if isinstance(problem, NotFound):
        return NationalError(f"未找到：{detail}")
    if isinstance(problem, Forbidden):
        return NationalError(f"无权办理：{detail}")
    if isinstance(problem, Unprocessable):
        return NationalError(f"输入有误：{detail}")
    return NationalError(f"交易失败：{detail}")
