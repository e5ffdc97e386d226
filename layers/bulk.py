"""Reading a whole layer without the garbage collector's pauses.

Decoding 100,000 features makes over a million Python objects (row tuples, strings, dates),
and every few hundred thousand of them CPython's cyclic collector walks *all* tracked
objects, those of the imports and the caches included: on a 100,000-parcel GeoPackage half of
a read's time went to those walks. None of the objects a read makes can form a cycle, so the
collector is paused for the read and restored after it (reference counting still frees
everything as usual). The pause is counted, so reads in several threads at once keep it until
the last one ends, and a collector someone else turned off stays off.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class _Pause:
    """How many blocks hold the pause now, and whether the collector was on before the first."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.depth = 0
        self.restore = False


_PAUSE = _Pause()


@contextmanager
def paused_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while the block runs (see the module's text)."""
    with _PAUSE.lock:
        if _PAUSE.depth == 0:
            _PAUSE.restore = gc.isenabled()
            gc.disable()
        _PAUSE.depth += 1
    try:
        yield
    finally:
        with _PAUSE.lock:
            _PAUSE.depth -= 1
            if _PAUSE.depth == 0 and _PAUSE.restore:
                gc.enable()
