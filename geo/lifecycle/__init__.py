"""Contract lifecycle and the Land Conclusion pipeline: what expires, what is late, what waits.

Contracts for ASM parcels are short (often a year) and must be renewed; renewal is refused while
the holder's rehabilitation is outstanding. Land Conclusions pass through steps (proposal, Khural
approval, submission to MRPAM, decision) whose delays are a known pain point. The functions here
take layer frames (``contract_parcels``, ``rehab_zones``, ``land_conclusions`` as the store returns
them: date columns hold ``datetime.date`` or ``None``) and return plain DataFrames. No I/O.

Rules chosen where the brief left a choice (see ``../shared/domain.md``):

* A contract is *open* while its status is ``active`` or ``suspended``
  (:func:`geo.vocab.open_contract`): a suspension pauses work, not the term, so a suspended
  contract still expires and still needs renewing.
* A rehabilitation zone belongs to a contract when its ``parcel_id`` is the contract's ``id``, or,
  for a legacy zone with no ``parcel_id``, when its ``holder`` is the contract's holder (compared
  by :func:`geo.vocab.holder_key`: trimmed, white space collapsed, case ignored). A zone on
  the holder's *other* parcel blocks the renewal of that other contract, not of this one.
* Every zone not yet ``accepted`` by the commission blocks renewal; those past ``due_on`` are
  called overdue in the reason.
* The Land Conclusion dates do not include the start of MRPAM's review, so the ``submitted`` and
  ``under_review`` statuses share one step, from ``submitted_on`` to ``decided_on``; each status
  still has its own waiting limit.

The package: :mod:`geo.lifecycle.contracts` (``expiring``, ``overdue_contracts``) and
:mod:`geo.lifecycle.steps` (``pipeline``, ``pipeline_summary``); every name is importable
from ``geo.lifecycle``. The texts are in ``layers/catalogue/lifecycle.toml``.
"""

from geo.lifecycle.contracts import (
    EXPIRING_COLUMNS,
    OPEN_CONTRACT,
    OVERDUE_COLUMNS,
    expiring,
    overdue_contracts,
)
from geo.lifecycle.steps import (
    PIPELINE_COLUMNS,
    PROBLEMS,
    STEP_DATES,
    STEPS,
    SUMMARY_COLUMNS,
    pipeline,
    pipeline_summary,
)

__all__ = [
    "EXPIRING_COLUMNS",
    "OPEN_CONTRACT",
    "OVERDUE_COLUMNS",
    "PIPELINE_COLUMNS",
    "PROBLEMS",
    "STEPS",
    "STEP_DATES",
    "SUMMARY_COLUMNS",
    "expiring",
    "overdue_contracts",
    "pipeline",
    "pipeline_summary",
]
