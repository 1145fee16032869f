"""Who the patient is for a bill: the registry's answer, or the one recorded at admission;
their aid class and the policy in force on a date.

One module for admissions, settlements and the accumulators answer, so the three can never
disagree on a person's class.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from typing import Literal, Protocol

from settlement.engine import NoPolicyInForce, Policy, PolicySet
from settlement.registry_client import Eligibility as RegistryEligibility
from settlement.registry_client import RegistryClient, RegistryUnavailable
from shared.errors import Conflict, Unprocessable
from shared.idnumber import mask_id_number


class AdmissionFacts(Protocol):
    """The eligibility an admission record holds for its visit (``inputs.AdmissionFacts``)."""

    @property
    def id_number(self) -> str: ...
    @property
    def categories(self) -> str: ...  # JSON list
    @property
    def registered(self) -> bool: ...
    @property
    def eligibility_on(self) -> date: ...


@dataclass(frozen=True, slots=True)
class UsedEligibility:
    """The eligibility a bill is computed with, and where it came from (``admission``: taken
    at the admission call; ``settlement``: asked at settle time)."""

    categories: tuple[str, ...]
    registered: bool
    on: date
    source: Literal["admission", "settlement"]


@dataclass(frozen=True, slots=True)
class RegistryAnswer:
    """What the registry said about the patient on a date, or why it could not answer (kept,
    not raised: a visit with an admission record does not need it)."""

    answer: RegistryEligibility | None
    error: RegistryUnavailable | None = None

    @property
    def categories(self) -> tuple[str, ...]:
        return self.answer.categories if self.answer is not None else ()


class EligibilityService:
    """The registry client and the deployment's policies, as the services use them."""

    def __init__(self, registry: RegistryClient, policies: PolicySet) -> None:
        self.registry = registry
        self.policies = policies

    def policy_for(self, on: date, field: str) -> Policy:
        """The policy in force on ``on``; a 422 naming ``field`` when none is."""
        try:
            return self.policies.for_date(on)
        except NoPolicyInForce as exc:
            raise Unprocessable.field(field, str(exc)) from None

    def policy_of(self, version: str, on: date, field: str) -> Policy:
        """The policy a stored record names, else the one in force on ``on``."""
        try:
            return self.policies.by_version(version)
        except NoPolicyInForce:
            return self.policy_for(on, field)

    async def ask(self, id_number: str, on: date, request_id: str | None) -> RegistryAnswer:
        """The registry's answer for ``on`` (cached per person), an outage kept as the error."""
        try:
            return RegistryAnswer(
                await self.registry.eligibility(id_number, on, request_id=request_id)
            )
        except RegistryUnavailable as exc:
            return RegistryAnswer(None, exc)

    async def on_date(self, id_number: str, on: date, request_id: str | None) -> RegistryAnswer:
        """The registry's answer for ``on``; an outage raises ``RegistryUnavailable`` (503)."""
        answer = await self.ask(id_number, on, request_id)
        if answer.error is not None:
            raise answer.error
        return answer

    @staticmethod
    def choose(
        admission: AdmissionFacts | None,
        registry: RegistryAnswer,
        *,
        id_number: str,
        visit_id: str,
        admitted_on: date,
    ) -> UsedEligibility:
        """The eligibility recorded at admission for this visit, else the registry's answer
        for the admission date (visit date for outpatients). A visit admitted for another
        patient is a 409; a registry outage matters only without an admission record."""
        if admission is not None:
            if admission.id_number != id_number:
                raise Conflict(
                    f"Visit {visit_id!r} was admitted for another patient "
                    f"({mask_id_number(admission.id_number)})."
                )
            return UsedEligibility(
                categories=tuple(json.loads(admission.categories)),
                registered=admission.registered,
                on=admission.eligibility_on,
                source="admission",
            )
        if registry.error is not None:
            raise registry.error
        return UsedEligibility(
            categories=registry.categories,
            registered=registry.answer is not None,
            on=admitted_on,
            source="settlement",
        )
