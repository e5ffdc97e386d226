"""Pages kept per store revision: what a page costs to build (a map's HTML), built once per
view and state of the store, and built again only when the state moves.

A page names its view (the page, its arguments, its language, its day) and the state it was
built from (:meth:`api.services.Services.map_state`: every layer's revision, the day, the
registered rasters). The cache holds at most ``size`` answers, the most recently used kept; an
answer built while the store changed underneath is returned but not kept, and keeping one of a
new state drops those of older states (they can never be asked for again). Only what is the
same for every visitor is kept here: the page around it (the signed-in user, the CSRF field,
the script nonce) is rendered for each request.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

__all__ = ["PageCache"]

T = TypeVar("T")


class PageCache(Generic[T]):
    """At most ``size`` built answers by (view, state), least recently used dropped first."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._lock = threading.Lock()
        self._kept: OrderedDict[tuple[Hashable, Hashable], T] = OrderedDict()
        #: answers built (for tests and the benchmark: a hit builds nothing)
        self.builds = 0

    def get(self, view: Hashable, state: Callable[[], Hashable], build: Callable[[], T]) -> T:
        """The answer of ``view`` at the store's ``state()``: kept, or ``build()`` now (an
        exception is raised as it is and nothing is kept)."""
        before = state()
        key = (view, before)
        with self._lock:
            hit = self._kept.get(key)
            if hit is not None:
                self._kept.move_to_end(key)
                return hit
        value = build()
        with self._lock:
            self.builds += 1
            if self.size > 0 and state() == before:
                for old in [k for k in self._kept if k[1] != before]:
                    del self._kept[old]
                self._kept[key] = value
                while len(self._kept) > self.size:
                    self._kept.popitem(last=False)
        return value

    def __len__(self) -> int:
        return len(self._kept)

    def clear(self) -> None:
        with self._lock:
            self._kept.clear()
