"""Four-corner parcels: convex quadrilaterals, intersected and measured without GEOS overlay.

An ASM contract describes its parcel by four corner coordinates, and Gazar draws parcels the
same way (rectangles in the local UTM zone, ``gazar suggest`` and the demo). A convex
quadrilateral is valid by construction, and the shared part of two of them is the first
clipped by the four edges of the second (Sutherland–Hodgman), which numpy does for every
candidate pair at once. The analyses use this for pairs of quadrilaterals and GEOS for every
other pair; both give the same pairs and areas (``tests/test_quads.py``).

A quadrilateral here is a Polygon of exactly five coordinates (four corners and the first again:
no room for a hole) with finite values, whose four turns all go the same way with none
straight: that is exactly a convex, non-degenerate four-corner ring (a bow-tie turns both
ways). A turn counts only when it is well above the rounding of the products it is computed
from, so that float arithmetic never calls a corner convex that GEOS's exact orientation test
would call straight or reversed; such a nearly straight ring goes to GEOS.

Coordinates are taken relative to the first corner of each pair's first polygon before any
arithmetic, as GEOS does for areas, so that a few hundred square metres at longitude 106 keep
their precision.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import shapely
from shapely import GeometryType

FloatArray = npt.NDArray[np.float64]


def convex_quads(geoms: npt.ArrayLike) -> npt.NDArray[np.bool_]:
    """Which geometries are convex quadrilaterals (see the module's definition).

    Missing, empty and non-polygon geometries are not.

    Examples
    --------
    >>> from shapely import Polygon, box
    >>> tilted = Polygon([(0, 0), (2, 1), (1, 3), (-1, 2)])
    >>> bowtie = Polygon([(0, 0), (1, 1), (1, 0), (0, 1)])
    >>> five = Polygon([(0, 0), (1, 0), (2, 0), (2, 1), (0, 1)])
    >>> convex_quads([box(106, 47, 106.01, 47.01), tilted, bowtie, five, None]).tolist()
    [True, True, False, False, False]
    """
    return find_quads(geoms)[0]


def quad_corners(geoms: npt.ArrayLike) -> FloatArray:
    """The four corners of each geometry, all convex quadrilaterals, counter-clockwise.

    Raises
    ------
    ValueError
        If a geometry is not a convex quadrilateral.

    Examples
    --------
    >>> from shapely import Polygon
    >>> quad_corners([Polygon([(0, 0), (0, 1), (1, 1), (1, 0)])]).tolist()
    [[[1.0, 0.0], [1.0, 1.0], [0.0, 1.0], [0.0, 0.0]]]
    """
    mask, corners = find_quads(geoms)
    if not mask.all():
        raise ValueError(f"geometry #{int(np.flatnonzero(~mask)[0])} is not a convex quadrilateral")
    return corners


def find_quads(
    geoms: npt.ArrayLike, *, sizes: npt.NDArray[np.intp] | None = None
) -> tuple[npt.NDArray[np.bool_], FloatArray]:
    """Which geometries are convex quadrilaterals, and their corners counter-clockwise.

    ``sizes``: each geometry's number of coordinates (``shapely.get_num_coordinates``), if the
    caller has them already.

    Returns
    -------
    (numpy.ndarray of bool, numpy.ndarray of shape (k, 4, 2))
        The mask, and the corners of the k geometries it selects, in order.
    """
    arr = np.asarray(geoms, dtype=object).reshape(-1)
    mask = np.zeros(len(arr), dtype=bool)
    if sizes is None:
        sizes = shapely.get_num_coordinates(arr)
    # five coordinates leave no room for a hole (every ring has at least four), and GEOS
    # only builds closed rings
    candidates = np.flatnonzero((sizes == 5) & (shapely.get_type_id(arr) == GeometryType.POLYGON))
    if candidates.size == 0:
        return mask, np.zeros((0, 4, 2))
    ring = shapely.get_coordinates(arr[candidates]).reshape(-1, 5, 2)
    # vertex-major (row k: every ring's corner k), so that each edge is a contiguous slice
    x, y = np.ascontiguousarray(ring[..., 0].T), np.ascontiguousarray(ring[..., 1].T)
    ex, ey = x[1:] - x[:4], y[1:] - y[:4]  # edge k: corner k -> corner k + 1
    after = [1, 2, 3, 0]
    nx, ny = ex[after], ey[after]  # edge k + 1
    with np.errstate(invalid="ignore", over="ignore"):
        # the turn at corner k + 1, from edge k to edge k + 1, and the size of its two products:
        # a turn is trusted only well above their rounding (a few 1e-16 of it), so that one
        # float arithmetic calls convex is convex by GEOS's exact orientation test too (a
        # nearly straight corner or a spike goes to GEOS)
        p, q = ex * ny, ey * nx
        turn = p - q
        margin = 1e-12 * (np.abs(p) + np.abs(q))
        # a NaN or infinite coordinate makes some turn NaN or infinite
        left = ((turn > margin) & (turn < np.inf)).all(axis=0)
        right = ((turn < -margin) & (turn > -np.inf)).all(axis=0)
    ok = left | right
    mask[candidates[ok]] = True
    corners = ring[ok, :4]
    clockwise = right[ok]
    corners[clockwise] = corners[clockwise, ::-1]
    return mask, np.ascontiguousarray(corners)


def _next_index(count: npt.NDArray[np.intp], width: int) -> npt.NDArray[np.intp]:
    k = np.arange(width)[None, :]
    return np.where(k + 1 < count[:, None], k + 1, 0)


def clip_quads(subject: FloatArray, clip: FloatArray) -> tuple[FloatArray, npt.NDArray[np.intp]]:
    """The shared polygon of each pair of counter-clockwise convex quadrilaterals.

    Parameters
    ----------
    subject, clip : numpy.ndarray, shape (n, 4, 2)
        The corners of each pair's quadrilaterals, counter-clockwise (``quad_corners``), in
        any coordinates (use local ones for precision).

    Returns
    -------
    (numpy.ndarray of shape (n, m, 2), numpy.ndarray of int)
        The shared polygons' vertices, counter-clockwise, padded to the longest (m <= 8 but
        for near-degenerate input; the padding holds anything), and each one's vertex count
        (below 3: nothing shared). A boundary the two polygons share may leave a repeated
        vertex; it adds no area.

    Examples
    --------
    >>> a = np.array([[[0.0, 0.0], [2.0, 0.0], [2.0, 2.0], [0.0, 2.0]]])
    >>> b = a + 1.0
    >>> verts, count = clip_quads(a, b)
    >>> count.tolist(), verts[0, : count[0]].tolist()
    ([4], [[2.0, 2.0], [1.0, 2.0], [1.0, 1.0], [2.0, 1.0]])
    """
    n = len(subject)
    # rings kept closed (the first vertex again at ``count``), x and y apart and vertex-major
    # (row k holds every polygon's k-th vertex): the next vertex of every vertex is then a
    # contiguous slice, and a clipped polygon's vertices are scattered into place through flat
    # positions instead of a two-dimensional gather
    xs = np.empty((9, n))
    ys = np.empty((9, n))
    xs[:4], ys[:4] = subject[..., 0].T, subject[..., 1].T
    xs[4], ys[4] = xs[0], ys[0]
    cx, cy = np.ascontiguousarray(clip[..., 0].T), np.ascontiguousarray(clip[..., 1].T)
    count = np.full(n, 4, dtype=np.intp)
    width = 4
    for e in range(4):
        sx, sy = cx[e], cy[e]
        dx, dy = cx[(e + 1) % 4] - sx, cy[(e + 1) % 4] - sy
        # >= 0: on the inner (left) side of the clip edge; the padding past a polygon's
        # vertices holds whatever ``np.empty`` left (maybe inf or nan): masked by ``present``
        with np.errstate(invalid="ignore", over="ignore"):
            side = dx * (ys[: width + 1] - sy) - dy * (xs[: width + 1] - sx)
        present = np.arange(width)[:, None] < count
        # only polygons with a vertex outside this edge change
        rows = np.flatnonzero((present & (side[:width] < 0)).any(axis=0))
        if rows.size == 0:
            continue
        s, x, y, present = (
            side[:, rows],
            xs[: width + 1, rows],
            ys[: width + 1, rows],
            present[:, rows],
        )
        s0, s1 = s[:width], s[1:]
        inside_after = s1 >= 0
        with np.errstate(invalid="ignore", divide="ignore"):
            t = s0 / (s0 - s1)
        # each edge of the polygon gives: where it crosses the clip line, then its end if inside
        keep = np.empty((2 * width, rows.size), dtype=bool)
        keep[0::2] = present & ((s0 >= 0) != inside_after)
        keep[1::2] = present & inside_after
        out_x = np.empty((2 * width, rows.size))
        out_y = np.empty((2 * width, rows.size))
        with np.errstate(invalid="ignore"):
            out_x[0::2] = x[:width] + t * (x[1:] - x[:width])
            out_y[0::2] = y[:width] + t * (y[1:] - y[:width])
        out_x[1::2], out_y[1::2] = x[1:], y[1:]
        slot = np.cumsum(keep, axis=0) - 1  # where each kept vertex goes, in order
        new_count = slot[-1] + 1
        longest = int(new_count.max())
        if longest + 1 > xs.shape[0]:  # only near-degenerate input adds more than one vertex
            grow = np.zeros((longest + 1 - xs.shape[0], n))
            xs, ys = np.vstack((xs, grow)), np.vstack((ys, grow))
        flat = (slot * n + rows)[keep]
        xs.reshape(-1)[flat] = out_x[keep]
        ys.reshape(-1)[flat] = out_y[keep]
        count[rows] = new_count
        xs[new_count, rows] = xs[0, rows]
        ys[new_count, rows] = ys[0, rows]
        width = max(width, longest)
    width = max(int(count.max(initial=0)), 1)
    return np.stack((xs[:width].T, ys[:width].T), axis=2), count


def ring_measures(
    verts: FloatArray, count: npt.NDArray[np.intp]
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Area and centroid of padded rings (shoelace), as ``(area, x, y)``.

    A ring of under three vertices has area 0 and a NaN centroid.

    Examples
    --------
    >>> v = np.array([[[0.0, 0.0], [2.0, 0.0], [2.0, 1.0], [0.0, 1.0]]])
    >>> [a.tolist() for a in ring_measures(v, np.array([4]))]
    [[2.0], [1.0], [0.5]]
    """
    rows = np.arange(len(verts))[:, None]
    width = verts.shape[1]
    present = np.arange(width)[None, :] < count[:, None]
    after = verts[rows, _next_index(count, width)]
    x, y, xa, ya = verts[..., 0], verts[..., 1], after[..., 0], after[..., 1]
    with np.errstate(invalid="ignore", over="ignore"):  # the padding may hold anything
        term = np.where(present, x * ya - xa * y, 0.0)
        twice = term.sum(axis=1)
        sum_x = np.where(present, (x + xa) * term, 0.0).sum(axis=1)
        sum_y = np.where(present, (y + ya) * term, 0.0).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        cx = sum_x / (3 * twice)
        cy = sum_y / (3 * twice)
    ok = (count >= 3) & (twice > 0)
    return np.where(ok, twice / 2, 0.0), np.where(ok, cx, np.nan), np.where(ok, cy, np.nan)


def ring_polygons(verts: FloatArray, count: npt.NDArray[np.intp]) -> npt.NDArray[np.object_]:
    """Polygons from padded rings; an empty polygon for a ring of under three vertices.

    Examples
    --------
    >>> v = np.array([[[0.0, 0.0], [2.0, 0.0], [2.0, 1.0], [0.0, 1.0]], [[0.0, 0.0]] * 4])
    >>> [g.wkt for g in ring_polygons(v, np.array([4, 1]))]
    ['POLYGON ((0 0, 2 0, 2 1, 0 1, 0 0))', 'POLYGON EMPTY']
    """
    out = np.full(len(verts), shapely.Polygon(), dtype=object)
    rows = np.flatnonzero(count >= 3)
    if rows.size == 0:
        return out
    verts, count = verts[rows], count[rows]
    # each ring closed: its vertices, then its first vertex again
    width = verts.shape[1]
    closed = np.concatenate((verts, np.zeros_like(verts[:, :1])), axis=1)
    closed[np.arange(len(rows)), count] = verts[:, 0]
    keep = np.arange(width + 1)[None, :] <= count[:, None]
    ring_offsets = np.concatenate(([0], np.cumsum(count + 1)))
    polygon_offsets = np.arange(len(rows) + 1)
    out[rows] = shapely.from_ragged_array(
        GeometryType.POLYGON, closed[keep], (ring_offsets, polygon_offsets)
    )
    return out
