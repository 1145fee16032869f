"""``GET /v1/persons/{id_number}/accumulators?year=`` (like the national 5206)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, cast

from fastapi import APIRouter, Path, Query

from settlement.accumulators.schemas import AccumulatorsOut
from settlement.accumulators.service import limits_for, reference_date
from settlement.deps import ConnectionDep, ContextDep, PrincipalDep, RequestIdDep
from settlement.grants import repository as grants
from settlement.grants.service import grant_out
from settlement.settlements import repository as bills
from settlement.settlements.service import policy_for
from shared.errors import Forbidden, Unprocessable, problem_responses
from shared.idnumber import IdNumber, mask_id_number
from shared.money import money_str

router = APIRouter(prefix="/v1/persons", tags=["accumulators"])


@router.get(
    "/{id_number}/accumulators",
    response_model=AccumulatorsOut,
    summary="A person's running totals and what each fund can still pay",
    responses=problem_responses(401, 403, 422, 503),
)
async def person_accumulators(
    id_number: Annotated[IdNumber, Path(description="18-character resident ID number")],
    principal: PrincipalDep,
    ctx: ContextDep,
    conn: ConnectionDep,
    request_id: RequestIdDep,
    year: Annotated[int | None, Query(ge=1990, le=2999, description="Default: this year")] = None,
) -> AccumulatorsOut:
    """For the admin, or a hospital that has billed this person. The aid class (and so the
    limits) is the registry's for today, or for 31 December of a past year."""
    if principal.hospital is not None and not await bills.hospital_has_billed(
        conn, principal.hospital.id, id_number
    ):
        raise Forbidden("This hospital has no bill for this person.")
    now = datetime.now(ctx.settings.local_tz)
    year = year or now.year
    if year > now.year:
        raise Unprocessable.field("query.year", "must not be in the future")
    on = reference_date(year, now)
    policy = policy_for(ctx, on, "query.year")
    answer = await ctx.registry.eligibility(id_number, on, request_id=request_id)
    categories = list(answer.categories) if answer is not None else []
    aid_class = policy.aid_class_for(categories)
    funds, totals, settled = await limits_for(ctx, policy, id_number, year, aid_class)
    person_grants = await grants.for_person(conn, id_number)
    return AccumulatorsOut(
        id_number_masked=mask_id_number(id_number),
        year=year,
        on=on,
        aid_class=cast(Any, aid_class),
        categories=categories,
        registered=answer is not None,
        policy_version=policy.version,
        settled_bills=settled,
        funds=funds,
        totals={k: money_str(v) for k, v in sorted(totals.items())},
        grants=[grant_out(g) for g in person_grants],
    )
