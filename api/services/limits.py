"""Rate limits shared by every server process: hits per key and time window, counted in the
store's database (``gazar_rate_limits``: operational, never logged, never a layer).

A page or route takes one hit before the write it limits (``take``); over the limit the
request is refused with :class:`~api.services.errors.TooManyRequests` (429, ``Retry-After``)
and nothing is written. Addresses are kept only as a salted hash.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from api.services.errors import TooManyRequests
from api.services.messages import both
from layers.ledger import Ledger

__all__ = ["RateLimits"]

#: keys are hashed with this prefix, so the table shows no address
_SALT = "gazar-rate-limit:"


class RateLimits:
    """Counters over the ledger of ``ledger_provider`` (called at each hit)."""

    def __init__(self, ledger_provider: Callable[[], Ledger]) -> None:
        self._ledger = ledger_provider

    def take(self, action: str, who: str, *, limit: int, window_s: int) -> int:
        """Count one ``action`` by ``who`` (an address or a user); refuse when it is more
        than ``limit`` in the current window of ``window_s`` seconds.

        Returns the hits of the window so far, this one included.

        Raises
        ------
        TooManyRequests
            Over the limit; ``retry_after`` is the seconds until the window ends.
        """
        ledger = self._ledger()
        digest = hashlib.sha256(f"{_SALT}{who}".encode()).hexdigest()[:32]
        hits = ledger.count_hit(f"{action}:{digest}", window_s=window_s)
        if hits > limit:
            now = ledger.clock().timestamp()
            wait = max(1, int(window_s - now % window_s))
            raise TooManyRequests(
                both("org_message", "rate_limited", limit=limit, minutes=max(1, wait // 60)),
                wait,
            )
        return hits
