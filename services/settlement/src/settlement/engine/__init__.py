"""The settlement engine (结算引擎): pure computation of a bill across the funds of a policy.

No database, HTTP or clock: (policy, hospital level, visit type, aid class, fee items, the
person's running totals for the year) → (bill, changes to the running totals).

The person's running totals for the calendar year (年度累计) are a flat ``str → Decimal`` map;
a missing key is zero. The engine defines the keys (``<code>`` is the fund code from the
policy file):

- ``<basic>.inpatient``, ``<basic>.outpatient`` — basic fund paid this year, per visit type
  (``390100.inpatient``, ``390100.outpatient``);
- ``<critical_illness>.base`` — critical-illness base: in-scope amount left after the tiers
  before it, summed over the year's inpatient bills (``390200.base``);
  ``<critical_illness>`` — critical-illness fund paid this year (``390200``);
- ``<medical_assistance>`` — medical assistance paid this year (``610100``);
- ``<bottom_line>.cash_base`` — in-scope amount left on the patient before the bottom-line
  tier, summed over the year (``640100.cash_base``); ``<bottom_line>`` — paid (``640100``);
- ``<outpatient_chronic>.<group>`` — paid this year for an outpatient chronic-disease group
  (``390101.dialysis``); ``<outpatient_chronic>.<group>.dedc`` — its yearly deductible taken;
- ``<graded_assistance>.base`` — in-scope amount still on the patient when graded assistance
  runs, summed over the year (``610100.base``); ``<graded_assistance>`` — paid;
- ``<secondary_assistance>.cash_base`` — in-scope amount left on the patient before it,
  summed over the year (``610300.cash_base``); ``<secondary_assistance>`` — paid;
- ``<supplementary>`` — paid this year (``990101``); ``<supplementary>.dedc`` — its yearly
  deductible taken;
- ``<disease_programme>`` — paid this year by the disease programmes' fund (``610400``);
- ``temporary_assistance`` — temporary-assistance grants paid on bills this year.

A bill's ``deltas`` add to these keys (only non-zero entries); ``apply_deltas`` moves the map
on settle (+1) and back on revoke (−1). The service stores the map per person-year unchanged.

Modules, by job: ``reader`` + ``params`` + ``programmes`` + ``policy`` read and validate
policy files into frozen parameter objects (``icd`` matches diagnoses); ``scope`` splits fee
items (``item_amount`` is the item-amount rule); ``limits`` reads running totals and annual
limits; ``rules`` holds the rule of each kind of tier; ``cashier`` writes the
``setl_proc_info`` lines; ``vocabulary`` holds the Chinese labels; ``compute`` runs scope →
the visit's programme and chronic-disease group → waterfall → temporary assistance.
"""

from .compute import apply_deltas, compute, remaining_limits, to_be_absorbed
from .errors import BillInputError, EngineError, NoPolicyInForce, PolicyError
from .policy import (
    Policy,
    PolicySet,
    check_plan,
    default_policy_dir,
    ladder_policy_dir,
    load_policy,
    load_policy_file,
)
from .scope import item_amount
from .types import (
    LINE_SPLIT_FIELDS,
    SETLINFO_FIELDS,
    TEMPORARY_ASSISTANCE_KEY,
    AidClass,
    Bill,
    Category,
    FeeItem,
    FundDetail,
    FundLimit,
    LineSplit,
    SetlinfoField,
    VisitType,
)

__all__ = [
    "LINE_SPLIT_FIELDS",
    "SETLINFO_FIELDS",
    "TEMPORARY_ASSISTANCE_KEY",
    "AidClass",
    "Bill",
    "BillInputError",
    "Category",
    "EngineError",
    "FeeItem",
    "FundDetail",
    "FundLimit",
    "LineSplit",
    "NoPolicyInForce",
    "Policy",
    "PolicyError",
    "PolicySet",
    "SetlinfoField",
    "VisitType",
    "apply_deltas",
    "check_plan",
    "compute",
    "default_policy_dir",
    "item_amount",
    "ladder_policy_dir",
    "load_policy",
    "load_policy_file",
    "remaining_limits",
    "to_be_absorbed",
]
