"""Transparent parcel allocation: eligibility, the queue, competing applications and the draw.

Pure functions over layer frames (no I/O): the service in ``api.allocation`` reads the store,
calls these and writes the results in one transaction.

Eligibility
    An application (a polygon, one row) is eligible when every check passes; every failed
    check is a :class:`Reason` with a stable code and a message in Mongolian and English:

    * inside an issued, valid Land Conclusion, under the area cap, not on another parcel,
      excluded land or a licence in force — the proposal review of :mod:`geo.review`
      (``PARCEL_LC_NOT_VALID``, ``PARCEL_OUTSIDE_LC``, ``PARCEL_OVER_CAP``,
      ``PARCEL_OVERLAP``, ``PARCEL_OVER_EXCLUSION``, ``PARCEL_OVER_LICENCE``) with the
      parcels that hold their land as everywhere else (:func:`geo.vocab.holds_land`:
      ``applied``, ``active`` *and* ``suspended`` — a suspended contract may be reinstated);
    * ``APPLICATION_BEHIND_EARLIER``: no overlap with a pending application filed in an
      earlier window (the queue is first come, first served);
    * ``MEMBERS_BELOW_MIN``: at least ``min_members`` members, women and men together;
    * ``HOLDER_REHAB_OUTSTANDING``: the holder has no rehabilitation zone that is not accepted
      by the commission and is either past ``due_on`` or left from a contract that has ended
      (expired, terminated) or from no contract (a legacy zone). Zones of the holder's running
      contracts that are not yet due do not block: that work is still in time.

    Warnings of the review (e.g. another holder's rehabilitation zone under the parcel) are
    kept as notes, as are the competing applications.

Competing applications
    Pending applications whose land overlaps (above the tolerance) and whose local filing days
    are at most ``competing_window_days`` apart (0: the same day) compete; the groups are the
    connected components of that relation. A group is resolved by a draw.

The draw (anyone can re-run it)
    The seed is the SHA-256 (hex) of the UTF-8 text :func:`draw_input`::

        gazar-draw-v1
        <application numbers, sorted as text, one per line>
        <draw date, YYYY-MM-DD>
        <the public value the governor announced beforehand, as written>

    (lines joined by a single ``\\n``, no final newline). The order is the numbers sorted by
    ``SHA-256(seed + ":" + number)`` in hex (ties, which do not happen in practice, by the
    number): the first is the winner. With ``sha256sum`` only::

        printf 'gazar-draw-v1\\nMN4322-2026-0001\\nMN4322-2026-0002\\n2026-05-02\\n48213' \\
            | sha256sum
        printf '%s' "$SEED:MN4322-2026-0001" | sha256sum

The package: :mod:`geo.allocation.reasons` (statuses, :class:`Reason`, local days),
:mod:`geo.allocation.checks` (the checks, size requests) and
:mod:`geo.allocation.draws` (competing groups, the draw, approval, the contract row). Every
name is importable from ``geo.allocation``; the labels and messages are in
``layers/catalogue/allocation.toml``.
"""

from geo.allocation.checks import (
    ALLOCATING,
    ALLOCATION_LIVE,
    NoRoom,
    eligibility,
    holder_key,
    members_reason,
    parcel_of_size,
    queue_reasons,
    rehab_reason,
)
from geo.allocation.draws import (
    DRAW_FORMAT,
    DrawCheck,
    approval_reasons,
    competing_groups,
    contract_parcel,
    draw_input,
    draw_order,
    draw_seed,
    group_closed,
    verify_draw,
)
from geo.allocation.reasons import (
    APPLICATION_STATUSES,
    OUTCOMES,
    REASON_TITLES,
    STATUS_LABELS,
    Eligibility,
    Reason,
    add_years,
    local_day,
    objection_until,
)

__all__ = [
    "ALLOCATING",
    "ALLOCATION_LIVE",
    "APPLICATION_STATUSES",
    "DRAW_FORMAT",
    "OUTCOMES",
    "REASON_TITLES",
    "STATUS_LABELS",
    "DrawCheck",
    "Eligibility",
    "NoRoom",
    "Reason",
    "add_years",
    "approval_reasons",
    "competing_groups",
    "contract_parcel",
    "draw_input",
    "draw_order",
    "draw_seed",
    "eligibility",
    "group_closed",
    "holder_key",
    "local_day",
    "members_reason",
    "objection_until",
    "parcel_of_size",
    "queue_reasons",
    "rehab_reason",
    "verify_draw",
]
