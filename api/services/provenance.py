"""What a printed document says about the data it was made from: the store's revision and the
hash-chained log's head (the last sealed event), so that a paper in a decision file can be
matched with the store and the log it came from (``gazar audit verify`` prints the same head).
"""

from __future__ import annotations

import contextlib
import hashlib
from dataclasses import dataclass

from api.services.allocation import AllocationService, LedgerUnavailable
from api.services.layers import LayerCache
from layers.errors import GazarError
from layers.ledger.base import APPLICATIONS
from layers.schema import REGISTRY


@dataclass(frozen=True)
class Provenance:
    """The store revision (a short digest of every layer's and the applications' revision
    token: it changes whenever any of them changes) and the log's head."""

    revision: str
    head_seq: int | None
    head_hash: str | None
    #: whether the log's hash chain recomputed without a break (None: no log)
    chain_ok: bool | None


def store_revision(layers: LayerCache) -> str:
    """The store's revision: ``r-`` and 12 hex digits of a digest of the revision tokens."""
    tokens = list(layers.revisions(REGISTRY))
    with contextlib.suppress(GazarError):  # a store without the ledger's tables
        tokens.append(layers.store.revision(APPLICATIONS.name))
    digest = hashlib.sha256("\x1f".join(tokens).encode()).hexdigest()
    return f"r-{digest[:12]}"


def provenance(layers: LayerCache, allocation: AllocationService) -> Provenance:
    """The store revision and the log's head (None when no log can be opened)."""
    revision = store_revision(layers)
    try:
        check = allocation.audit()
    except (LedgerUnavailable, GazarError):
        return Provenance(revision, None, None, None)
    head = check["head"]
    return Provenance(revision, head["seq"], head["hash"], bool(check["ok"]))


__all__ = ["Provenance", "provenance", "store_revision"]
