"""Prepared geometries, used safely from threads.

GEOS builds a prepared geometry's indexes (its segment index, its point-in-area locator) the
first time a predicate uses them, without a lock: two threads using one prepared geometry for
the first time at once corrupt them and crash the process (seen as a worker crash in the test
suite, reproduced with two threads calling ``contains_properly`` on shared prepared polygons).
So the analyses

* never prepare a layer's own geometry objects, which the server's layer caches hand to every
  request (another request's threads would find them prepared): :func:`tested` gives the
  large polygons of a predicate's first argument as prepared private copies, one per feature,
  and leaves the small ones unprepared (a polygon of a few dozen coordinates is tested as fast
  as it is: 100,000 pairs of five-corner parcels took 13–23 ms either way);
* split a predicate across threads with :func:`map_grouped`, which gives all the rows of one
  prepared copy to the same thread.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Final

import numpy as np
import numpy.typing as npt
import shapely

from geo.repair import MIN_PER_THREAD

#: polygons of more coordinates than this are tested through a prepared copy
PREPARE_MIN_COORDS: Final = 32

#: slices per thread in :func:`map_grouped` (groups differ in size; more slices even them out)
PIECES_PER_THREAD: Final = 4


def prepared_large(
    geoms: npt.NDArray[np.object_], positions: npt.NDArray[np.integer]
) -> npt.NDArray[np.object_]:
    """``geoms`` ready to be a predicate's first argument: its polygons of more than
    :data:`PREPARE_MIN_COORDS` coordinates replaced by prepared copies (one copy per
    position in the layer, shared by its rows), the others as they are.

    ``positions``: each row's feature (its position in its layer), so that rows of one feature
    share one copy. The input objects are left unprepared.

    Examples
    --------
    >>> from shapely import Point, box
    >>> big, small = Point(0, 0).buffer(10), box(0, 0, 1, 1)
    >>> rows = prepared_large(np.array([big, small, big]), np.array([0, 1, 0]))
    >>> [bool(shapely.is_prepared(g)) for g in rows], rows[0] is rows[2], rows[0] is big
    ([True, False, True], True, False)
    >>> bool(shapely.is_prepared(big)), bool(shapely.equals_exact(rows[0], big, 0))
    (False, True)
    """
    out = np.array(geoms, dtype=object, copy=True)
    large = np.flatnonzero(shapely.get_num_coordinates(out) > PREPARE_MIN_COORDS)
    if large.size:
        _, first, inverse = np.unique(
            np.asarray(positions)[large], return_index=True, return_inverse=True
        )
        copies = np.asarray(shapely.transform(out[large[first]], lambda c: c, include_z=None))
        shapely.prepare(copies)
        out[large] = copies[inverse.reshape(-1)]
    return out


def map_grouped(
    op: Callable[..., npt.NDArray[np.generic]],
    owner: npt.NDArray[np.integer],
    *arrays: npt.NDArray[np.generic],
    workers: int,
    minimum: int = MIN_PER_THREAD,
) -> npt.NDArray[np.generic]:
    """``op(*arrays)`` row by row, in threads, with every row of one ``owner`` in one thread.

    ``owner`` says which (prepared) geometry each row tests against (its position in the layer):
    rows are ordered by it and cut between owners only, so no prepared geometry is used by two
    threads. The answers come back in the rows' order.

    Examples
    --------
    >>> from shapely import box, points
    >>> square = box(0, 0, 10, 10)
    >>> inner = points(np.arange(12_000) % 12, 5)
    >>> owner = np.zeros(12_000, dtype=int)
    >>> first = prepared_large(np.full(12_000, square), owner)
    >>> inside = map_grouped(shapely.contains_properly, owner, first, inner, workers=2)
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
