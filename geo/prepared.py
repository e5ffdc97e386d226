"""Prepared geometries, used safely from threads.

GEOS builds a prepared geometry's indexes (its segment index, its point-in-area locator) the
first time a predicate uses them, without a lock: two threads using one prepared geometry for
the first time at once corrupt them and crash the process (seen as a worker crash in the test
suite, reproduced with two threads calling ``contains_properly`` on shared prepared polygons).
So the analyses

* prepare geometry only inside :func:`prepared`, which holds one process-wide lock and removes
  the preparation on the way out: geometry shared between requests (the layer caches') is
  never left prepared for another thread to find, and two analyses never use one prepared
  geometry at once;
* split a predicate across threads with :func:`map_grouped`, which gives all the rows of one
  prepared geometry to the same thread.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import numpy as np
import numpy.typing as npt
import shapely

from geo.repair import MIN_PER_THREAD

#: held while any analysis holds prepared geometry (re-entrant: an analysis may call another)
_LOCK = threading.RLock()

#: slices per thread in :func:`map_grouped` (groups differ in size; more slices even them out)
PIECES_PER_THREAD = 4


@contextmanager
def prepared(*arrays: npt.NDArray[np.object_]) -> Iterator[None]:
    """Prepare ``arrays`` for the ``with`` block, under the process-wide lock.

    Examples
    --------
    >>> from shapely import box
    >>> geoms = np.array([box(0, 0, 2, 2)])
    >>> with prepared(geoms):
    ...     bool(shapely.is_prepared(geoms[0]))
    True
    >>> bool(shapely.is_prepared(geoms[0]))
    False
    """
    with _LOCK:
        try:
            for arr in arrays:
                shapely.prepare(arr)
            yield
        finally:
            for arr in arrays:
                shapely.destroy_prepared(arr)


def map_grouped(
    op: Callable[..., npt.NDArray[np.generic]],
    owner: npt.NDArray[np.integer],
    *arrays: npt.NDArray[np.generic],
    workers: int,
    minimum: int = MIN_PER_THREAD,
) -> npt.NDArray[np.generic]:
    """``op(*arrays)`` row by row, in threads, with every row of one ``owner`` in one thread.

    ``owner`` says which prepared geometry each row tests against (its position in the layer):
    rows are ordered by it and cut between owners only, so no prepared geometry is used by two
    threads. The answers come back in the rows' order.

    Examples
    --------
    >>> from shapely import box, points
    >>> square = box(0, 0, 10, 10)
    >>> inner = points(np.arange(12_000) % 12, 5)
    >>> owner = np.zeros(12_000, dtype=int)
    >>> with prepared(np.array([square])):
    ...     inside = map_grouped(shapely.contains_properly, owner, np.full(12_000, square),
    ...                          inner, workers=2)
    >>> int(inside.sum())
    9000
    """
    n = len(owner)
    chunks = min(workers, max(1, n // minimum))
    if chunks <= 1:
        return np.asarray(op(*arrays))
    order = np.argsort(owner, kind="stable")
    key = np.asarray(owner)[order]
    cuts = np.linspace(0, n, chunks * PIECES_PER_THREAD + 1).astype(np.intp)
    # each inner cut back to the first row of its owner: an owner's rows stay in one slice
    cuts[1:-1] = np.searchsorted(key, key[cuts[1:-1]], side="left")

    def run(start: int, stop: int) -> npt.NDArray[np.generic]:
        rows = order[start:stop]
        return np.asarray(op(*(arr[rows] for arr in arrays)))

    with ThreadPoolExecutor(max_workers=chunks) as pool:
        parts = list(pool.map(run, cuts[:-1].tolist(), cuts[1:].tolist()))
    done = np.concatenate(parts)
    out = np.empty(n, dtype=done.dtype)
    out[order] = done
    return out
