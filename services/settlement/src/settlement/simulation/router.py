"""Policy what-if (admin token)."""

from __future__ import annotations

from fastapi import APIRouter

from settlement.deps import AdminDep, ContextDep
from settlement.simulation import service
from settlement.simulation.schemas import SimulateRequest, SimulationResult
from shared.errors import PROBLEM_RESPONSES, problem_responses

router = APIRouter(prefix="/v1/policies", tags=["policies"])


@router.post(
    "/simulate",
    response_model=SimulationResult,
    summary="Cost a candidate policy against the settled bills of a period",
    responses={
        **problem_responses(401, 403, 413, 422),
        400: {**PROBLEM_RESPONSES[422], "description": "The body is not valid JSON"},
    },
)
async def simulate_policy(
    body: SimulateRequest, _admin: AdminDep, ctx: ContextDep
) -> SimulationResult:
    """Re-runs the books of the period (settlement dates `from`..`to`, local, both included, at
    most 366 days: the bills settled in it and the reversals of the revokes made in it) under
    the candidate policy (`policy`: the TOML text of a policy file), patient by patient in the
    order the records were made, from the stored fee items, visit type, hospital level and
    registry categories; a reversal books the negative of what the candidate paid on its bill
    and takes that bill out of the running totals, as the revoke did. Returns per fund what
    the stored records paid under the policy in force (net), what the candidate would pay, and
    the difference; the same for all funds together and for the patients' cash share; and how
    many patients would pay more, less or the same. Running totals start from zero at the
    start of each person's year; the person's earlier records of that year are re-run under
    the candidate too. Nothing is stored. An invalid policy is a 422 naming the key
    (`policy.funds[1].ratio`)."""
    return await service.simulate(
        ctx.db, body.policy, body.from_, body.to, processes=ctx.settings.simulation_processes
    )
