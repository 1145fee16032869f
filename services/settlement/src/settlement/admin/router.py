"""``/admin``: the administrator's page (server-rendered HTML, no script, no external URL).

Sign-in: ``GET /admin/login`` shows a form that posts the admin token to ``POST /admin/login``;
the token is compared in constant time and a signed session cookie is set (HttpOnly,
SameSite=Strict, path ``/admin``, Secure over HTTPS). ``Authorization: Bearer <admin token>``
works too (scripts). Without either, every ``/admin`` page redirects to the sign-in form.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qs, quote, urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from pydantic import ValidationError
from starlette.requests import ClientDisconnect

from settlement.admin import labels, repository, service
from settlement.deps import ContextDep, RequestIdDep
from settlement.receipts.service import render_receipt
from settlement.reports.schemas import GROUP_BYS
from settlement.reports.service import fund_report, report_csv
from settlement.settlements.service import local_today
from settlement.supervision.schemas import ReviewIn
from shared.errors import BadRequest, Conflict, NotFound, PayloadTooLarge, Unprocessable
from shared.idnumber import mask_id_number
from shared.money import signed_money_str
from shared.security import bearer_token, secrets_equal

router = APIRouter(prefix="/admin", include_in_schema=False)

LOGIN_PATH = "/admin/login"
DEFAULT_DAYS = 30
MAX_FORM_BYTES = 4096
MAX_ID = 2**31 - 1
"""Largest id of a stored row (a 32-bit integer column)."""
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


@lru_cache(maxsize=1)
def _templates() -> Environment:
    env = Environment(
        loader=FileSystemLoader(Path(__file__).parent / "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["money"] = lambda v: signed_money_str(v if isinstance(v, Decimal) else Decimal(v))
    env.filters["mask"] = mask_id_number
    env.filters["percent"] = _percent
    env.globals.update(labels.GLOBALS)
    return env


def _percent(share: str | None) -> str:
    """A share written ``0.2500`` as ``25.00%`` (``-`` when there is none)."""
    return "-" if share is None else f"{Decimal(share) * 100:.2f}%"


REVIEW_NOTES = {
    "missing": "审核人和审核意见都要填写，审核状态须为审核无误或审核追回。",
    "done": "该提示已经审核过，审核结果不能更改。",
    "unknown": "没有这条提示。",
}
"""What the page says when a review form could not be recorded (``?review_error=``)."""


def _html(template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    html = _templates().get_template(template).render(**context)
    return HTMLResponse(html, status_code=status_code, headers=SECURITY_HEADERS)


def _signed_in(request: Request, admin_token: str | None) -> bool:
    if not admin_token:
        return False
    if service.valid_session(request.cookies.get(service.COOKIE_NAME), admin_token):
        return True
    given = bearer_token(request.headers.get("authorization"))
    return given is not None and secrets_equal(given, admin_token)


def _to_login() -> RedirectResponse:
    return RedirectResponse(LOGIN_PATH, status_code=303, headers={"Cache-Control": "no-store"})


def _login_page(error: str | None = None, status_code: int = 200) -> HTMLResponse:
    return _html(
        "login.html",
        status_code,
        error=error,
        hours=service.SESSION_SECONDS // 3600,
    )


async def _read_form(request: Request) -> bytes:
    """The (small) form body; anything longer is refused as it streams in."""
    body = b""
    try:
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_FORM_BYTES:
                raise PayloadTooLarge(f"The form is larger than {MAX_FORM_BYTES} bytes.")
    except ClientDisconnect:
        raise BadRequest("The client went away before the form was complete.") from None
    return body


@router.get("/login", response_class=HTMLResponse)
async def login_form(request: Request, ctx: ContextDep) -> Response:
    if _signed_in(request, ctx.settings.admin_token):
        return RedirectResponse("/admin", status_code=303)
    return _login_page()


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request, ctx: ContextDep) -> Response:
    body = await _read_form(request)
    try:
        form = parse_qs(body.decode("utf-8"), max_num_fields=5)
    except (UnicodeDecodeError, ValueError):
        form = {}
    token = (form.get("token") or [""])[0].strip()
    admin_token = ctx.settings.admin_token
    if not token or not admin_token or not secrets_equal(token, admin_token):
        return _login_page("令牌不正确（That is not the admin token.）", 401)
    response = RedirectResponse("/admin", status_code=303, headers={"Cache-Control": "no-store"})
    response.set_cookie(
        service.COOKIE_NAME,
        service.new_session(admin_token),
        max_age=service.SESSION_SECONDS,
        path=service.COOKIE_PATH,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


@router.post("/logout")
async def logout(request: Request, ctx: ContextDep) -> Response:
    await _read_form(request)  # the form sends nothing; a body is read (and bounded) anyway
    response = _to_login()
    response.delete_cookie(
        service.COOKIE_NAME,
        path=service.COOKIE_PATH,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


def _period(ctx: Any, begin: str | None, end: str | None) -> tuple[date, date, str | None]:
    """The page's period (default: the last 30 days); a bad entry falls back with a note."""
    today = local_today(ctx.settings.local_tz)
    try:
        last = date.fromisoformat(end) if end else today
        first = date.fromisoformat(begin) if begin else last - timedelta(days=DEFAULT_DAYS - 1)
    except ValueError:
        default = today - timedelta(days=DEFAULT_DAYS - 1)
        return default, today, "日期格式为 YYYY-MM-DD，已显示最近 30 天。"
    if first > last or (last - first).days >= 1096:
        default = today - timedelta(days=DEFAULT_DAYS - 1)
        return (
            default,
            today,
            "期间无效（起始日期须不晚于截止日期，且不超过 1096 天），已显示最近 30 天。",
        )
    return first, last, None


@router.get("", response_class=HTMLResponse)
async def admin_page(
    request: Request,
    ctx: ContextDep,
    begin: Annotated[str | None, Query(alias="from")] = None,
    end: Annotated[str | None, Query(alias="to")] = None,
    q: str = "",
    reviewed: Annotated[int | None, Query(ge=1, le=2**62)] = None,
    review_error: Annotated[str | None, Query(max_length=16)] = None,
) -> Response:
    if not _signed_in(request, ctx.settings.admin_token):
        return _to_login()
    first, last, note = _period(ctx, begin, end)
    query = q.strip()[: repository.MAX_QUERY]
    data = await service.dashboard(ctx.db, first, last, query)
    panel = await ctx.supervision.panel(first, last)
    review_note = REVIEW_NOTES.get(review_error or "") or (
        f"提示 {reviewed} 已审核。" if reviewed is not None else None
    )
    tz = ctx.settings.local_tz

    def local_time(moment: datetime) -> str:
        return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M")

    return _html(
        "dashboard.html",
        d=data,
        s=panel,
        rule_titles={r.code: r.title for r in panel.rules},
        review_note=review_note,
        review_error=review_error in REVIEW_NOTES,
        note=note,
        local_time=local_time,
        now=local_time(datetime.now(UTC)),
    )


@router.get("/reconciliations/{reconciliation_id}", response_class=HTMLResponse)
async def admin_reconciliation(
    reconciliation_id: str, request: Request, ctx: ContextDep
) -> Response:
    """One reconciliation with its bills: the mismatching ones of a detail reconciliation,
    each linked to its receipt where the service has it; the period's bills for a summary.
    (The id is checked after the sign-in, so nobody learns anything without a session.)"""
    if not _signed_in(request, ctx.settings.admin_token):
        return _to_login()
    shown = reconciliation_id[:20]
    if not reconciliation_id.isascii() or not reconciliation_id.isdigit():
        return _html("not_found.html", 404, what=f"对账记录 {shown}")
    number = int(reconciliation_id)
    try:
        if not 1 <= number <= MAX_ID:
            raise NotFound(shown)
        view = await service.reconciliation_view(ctx.db, number)
    except NotFound:
        return _html("not_found.html", 404, what=f"对账记录 {shown}")
    tz = ctx.settings.local_tz
    return _html(
        "reconciliation.html",
        v=view,
        local_time=lambda moment: moment.astimezone(tz).strftime("%Y-%m-%d %H:%M"),
    )


@router.get("/bills/{setl_id}/receipt", response_class=HTMLResponse)
async def admin_receipt(setl_id: str, request: Request, ctx: ContextDep) -> Response:
    """Any hospital's bill, printed with the settlement service's receipt."""
    if not _signed_in(request, ctx.settings.admin_token):
        return _to_login()
    stored = await ctx.settlements.stored_any(setl_id[:64])
    if stored is None:
        return _html("not_found.html", 404, what=f"结算单 {setl_id[:64]}")
    html = render_receipt(stored, ctx.settings.local_tz)
    return HTMLResponse(html, headers=SECURITY_HEADERS)


@router.get("/reports/funds.csv")
async def admin_report_csv(
    request: Request,
    ctx: ContextDep,
    begin: Annotated[str | None, Query(alias="from")] = None,
    end: Annotated[str | None, Query(alias="to")] = None,
    group_by: str | None = None,
) -> Response:
    """The fund report as CSV for the signed-in administrator (same as ``/v1/reports/funds``)."""
    if not _signed_in(request, ctx.settings.admin_token):
        return _to_login()
    try:
        first, last = date.fromisoformat(begin or ""), date.fromisoformat(end or "")
    except ValueError:
        raise Unprocessable.field("query.from", "dates are written YYYY-MM-DD") from None
    if group_by not in GROUP_BYS:
        raise Unprocessable.field("query.group_by", f"must be one of {', '.join(GROUP_BYS)}")
    report = await fund_report(ctx.db, first, last, group_by)
    filename = quote(f"funds-{group_by}-{first.isoformat()}-{last.isoformat()}.csv")
    return Response(
        report_csv(report).encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
        },
    )


@router.post("/supervision/flags/{flag_id}/review")
async def admin_review_flag(
    flag_id: str, request: Request, ctx: ContextDep, request_id: RequestIdDep
) -> Response:
    """The review form of an open flag (审核无误 / 审核追回 with who and a note): recorded like
    ``POST /v1/supervision/flags/{id}/review``, then back to the page's supervision
    section. The cookie is SameSite=Strict, so another site cannot post this form."""
    if not _signed_in(request, ctx.settings.admin_token):
        return _to_login()
    body = await _read_form(request)
    try:
        form = parse_qs(body.decode("utf-8"), max_num_fields=10)
    except (UnicodeDecodeError, ValueError):
        form = {}

    def value(name: str) -> str:
        return (form.get(name) or [""])[0]

    back = {"from": value("from")[:10], "to": value("to")[:10]}
    outcome: dict[str, str] = {}
    try:
        number = int(flag_id) if flag_id.isascii() and flag_id.isdigit() else 0
        if not 1 <= number <= 2**62:
            raise NotFound(flag_id[:20])
        review = ReviewIn.model_validate(
            {"status": value("status"), "reviewer": value("reviewer"), "note": value("note")}
        )
        await ctx.supervision.review(number, review, actor="admin", request_id=request_id)
        outcome = {"reviewed": str(number)}
    except ValidationError:
        outcome = {"review_error": "missing"}
    except Conflict:
        outcome = {"review_error": "done"}
    except NotFound:
        outcome = {"review_error": "unknown"}
    query = urlencode({k: v for k, v in {**back, **outcome}.items() if v})
    return RedirectResponse(
        f"/admin?{query}#supervision", status_code=303, headers={"Cache-Control": "no-store"}
    )


@router.get("/supervision/flags.csv")
async def admin_flags_csv(
    request: Request,
    ctx: ContextDep,
    begin: Annotated[str | None, Query(alias="from")] = None,
    end: Annotated[str | None, Query(alias="to")] = None,
) -> Response:
    """Every flag of the period as CSV (same as ``/v1/supervision/flags`` with ``Accept:
    text/csv``)."""
    if not _signed_in(request, ctx.settings.admin_token):
        return _to_login()
    try:
        first, last = date.fromisoformat(begin or ""), date.fromisoformat(end or "")
    except ValueError:
        raise Unprocessable.field("query.from", "dates are written YYYY-MM-DD") from None
    text = await ctx.supervision.flags_csv(first, last)
    filename = quote(f"flags-{first.isoformat()}-{last.isoformat()}.csv")
    return Response(
        text.encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
        },
    )
