"""Recording temporary-assistance grants."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError

from settlement.audit.repository import append
from settlement.database import AnyRow, Database, utcnow
from settlement.grants import repository
from settlement.grants.schemas import GrantCreate, GrantOut
from shared.errors import Conflict
from shared.idnumber import mask_id_number


def grant_out(row: AnyRow) -> GrantOut:
    return GrantOut(
        grant_id=row.id,
        id_number_masked=mask_id_number(row.id_number),
        amount=row.amount,
        balance=row.balance,
        valid_from=row.valid_from,
        valid_to=row.valid_to,
        reference=row.reference,
        created_at=row.created_at,
    )


async def create_grant(
    db: Database, data: GrantCreate, *, actor: str, request_id: str | None
) -> GrantOut:
    conflict = Conflict(f"A grant with reference {data.reference!r} is already recorded.")
    created_at = utcnow()
    try:
        async with db.write() as conn:
            if await repository.reference_exists(conn, data.reference):
                raise conflict
            grant_id = await repository.insert_grant(
                conn,
                {
                    "id_number": data.id_number,
                    "amount": data.amount,
                    "balance": data.amount,
                    "valid_from": data.valid_from,
                    "valid_to": data.valid_to,
                    "reference": data.reference,
                    "created_at": created_at,
                    "created_by": actor,
                },
            )
            await append(
                conn,
                actor=actor,
                action="grant.create",
                subject=str(grant_id),
                request_id=request_id,
                detail={
                    "id_number": mask_id_number(data.id_number),
                    "amount": data.amount,
                    "reference": data.reference,
                },
                person=data.id_number,
            )
    except IntegrityError:
        raise conflict from None
    return GrantOut(
        grant_id=grant_id,
        id_number_masked=mask_id_number(data.id_number),
        amount=data.amount,
        balance=data.amount,
        valid_from=data.valid_from,
        valid_to=data.valid_to,
        reference=data.reference,
        created_at=created_at,
    )
