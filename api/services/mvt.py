"""A Mapbox Vector Tile layer written from arrays of geometries in tile units, vectorised.

``mapbox_vector_tile.encode`` walks every coordinate of every feature in Python (about 5 µs a
vertex: 25 ms for the 560 parcels of a dense zoom-12 tile, five times PostGIS's ``ST_AsMVT``).
Here the geometry commands of all the features of a tile are computed at once with numpy from
``shapely``'s coordinate arrays (MoveTo/LineTo/ClosePath with zig-zag deltas, as the
specification 2.1 says), the properties' key and value tables with ``pandas.factorize``, and
the protobuf message (``vector_tile.proto`` as ``mapbox_vector_tile`` ships it: Tile, Layer,
Feature, Value) as one run of varints. ``tests/test_api_tiles.py`` checks it against
``mapbox_vector_tile.encode`` on every geometry type, and every tile test reads tiles with
``mapbox_vector_tile.decode``.

Geometries must be in whole tile units, y down, polygons valid with exterior rings positive by
the surveyor's formula in those coordinates (``shapely.orient_polygons(exterior_cw=False)``),
and one of Point, MultiPoint, LineString, MultiLineString, Polygon or MultiPolygon.
"""

from __future__ import annotations

import functools
import struct
from collections.abc import Callable, Mapping

import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely

MOVE_TO, LINE_TO, CLOSE_PATH = 1, 2, 7
#: the MVT geometry type of each shapely type id
_KIND = {0: 1, 4: 1, 1: 2, 2: 2, 5: 2, 3: 3, 6: 3}

_Ints = npt.NDArray[np.int64]


def _zigzag(v: _Ints) -> _Ints:
    return (v << 1) ^ (v >> 63)


def _paths(
    coords: np.ndarray, path_of: _Ints, feature_of_path: _Ints, *, closed: bool
) -> tuple[_Ints, _Ints]:
    """The command integers of paths (rings or lines) and the feature each integer belongs
    to. ``coords`` (whole numbers) in path order, ``path_of`` each coordinate's path;
    ``closed``: rings (the repeated last point left out, a ClosePath after each)."""
    xy = np.rint(coords).astype(np.int64)
    n = len(xy)
    if n == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    first = np.ones(n, dtype=bool)
    first[1:] = path_of[1:] != path_of[:-1]
    if closed:  # the last point of a ring repeats its first
        last = np.ones(n, dtype=bool)
        last[:-1] = path_of[1:] != path_of[:-1]
        keep = ~last
        xy, path_of, first = xy[keep], path_of[keep], first[keep]
    feature = feature_of_path[path_of]
    # the cursor carries over from path to path within a feature, and starts at 0 per feature
    prev = np.zeros_like(xy)
    prev[1:] = xy[:-1]
    new_feature = np.ones(len(xy), dtype=bool)
    new_feature[1:] = feature[1:] != feature[:-1]
    prev[new_feature] = 0
    delta = xy - prev
    moved = first | (delta != 0).any(axis=1)  # a point repeating the last one is left out
    xy, path_of, first, feature, delta = (
        xy[moved], path_of[moved], first[moved], feature[moved], delta[moved]
    )  # fmt: skip
    # recompute deltas: a removed point equals its predecessor, so the next delta is unchanged
    paths, start, count = np.unique(path_of, return_index=True, return_counts=True)
    lines = count - 1
    # per path: MoveTo(1) x y, LineTo(k) 2k ints, ClosePath(1) for rings
    size = 3 + np.where(lines > 0, 1 + 2 * lines, 0) + (1 if closed else 0)
    offset = np.zeros(len(paths) + 1, dtype=np.int64)
    np.cumsum(size, out=offset[1:])
    out = np.empty(int(offset[-1]), dtype=np.int64)
    owner = np.repeat(feature_of_path[paths], size)
    base = offset[:-1]
    out[base] = (1 << 3) | MOVE_TO
    zz = _zigzag(delta)
    out[base + 1] = zz[start, 0]
    out[base + 2] = zz[start, 1]
    has_lines = lines > 0
    out[base[has_lines] + 3] = (lines[has_lines] << 3) | LINE_TO
    # the LineTo pairs: each point after the first of its path
    rest = ~first
    k = np.arange(len(xy)) - np.repeat(start, count)  # index within the path
    at = np.repeat(base + 4, count)[rest] + 2 * (k[rest] - 1)
    out[at] = zz[rest, 0]
    out[at + 1] = zz[rest, 1]
    if closed:
        out[offset[1:] - 1] = (1 << 3) | CLOSE_PATH
    return out, owner


def _points(geoms: npt.NDArray[np.object_], feature: _Ints) -> tuple[_Ints, _Ints]:
    coords, which = shapely.get_coordinates(geoms, return_index=True)
    xy = np.rint(coords).astype(np.int64)
    owner = feature[which]
    prev = np.zeros_like(xy)
    prev[1:] = xy[:-1]
    fresh = np.ones(len(xy), dtype=bool)
    fresh[1:] = owner[1:] != owner[:-1]
    prev[fresh] = 0
    zz = _zigzag(xy - prev)
    feats, start, count = np.unique(owner, return_index=True, return_counts=True)
    size = 1 + 2 * count
    offset = np.zeros(len(feats) + 1, dtype=np.int64)
    np.cumsum(size, out=offset[1:])
    out = np.empty(int(offset[-1]), dtype=np.int64)
    out[offset[:-1]] = (count << 3) | MOVE_TO
    k = np.arange(len(xy)) - np.repeat(start, count)
    at = np.repeat(offset[:-1] + 1, count) + 2 * k
    out[at] = zz[:, 0]
    out[at + 1] = zz[:, 1]
    return out, np.repeat(feats, size)


def commands(geoms: npt.NDArray[np.object_]) -> tuple[_Ints, _Ints]:
    """The geometry command integers of ``geoms`` and, for each, the index of its geometry
    (ascending): geometry ``i``'s commands are ``out[owner == i]``, a contiguous run."""
    types = shapely.get_type_id(geoms)
    index = np.arange(len(geoms), dtype=np.int64)
    parts: list[tuple[_Ints, _Ints]] = []
    polygonal = (types == 3) | (types == 6)
    if polygonal.any():
        polys, poly_of = shapely.get_parts(geoms[polygonal], return_index=True)
        rings, ring_of = shapely.get_rings(polys, return_index=True)
        coords, path_of = shapely.get_coordinates(rings, return_index=True)
        owners = index[polygonal][poly_of][ring_of]
        parts.append(_paths(coords, path_of, owners, closed=True))
    linear = (types == 1) | (types == 2) | (types == 5)
    if linear.any():
        lines, line_of = shapely.get_parts(geoms[linear], return_index=True)
        coords, path_of = shapely.get_coordinates(lines, return_index=True)
        parts.append(_paths(coords, path_of, index[linear][line_of], closed=False))
    punctual = (types == 0) | (types == 4)
    if punctual.any():
        parts.append(_points(geoms[punctual], index[punctual]))
    if not parts:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    out = np.concatenate([p[0] for p in parts])
    owner = np.concatenate([p[1] for p in parts])
    order = np.argsort(owner, kind="stable")
    return out[order], owner[order]


def varints(values: npt.ArrayLike) -> tuple[npt.NDArray[np.uint8], _Ints]:
    """Protobuf varints of non-negative integers: the bytes, and each one's length.

    Examples
    --------
    >>> data, size = varints([1, 300])
    >>> data.tolist(), size.tolist()
    ([1, 172, 2], [1, 2])
    """
    v = np.asarray(values, dtype=np.uint64)
    if len(v) == 0:
        return np.empty(0, np.uint8), np.empty(0, np.int64)
    size = _sizes(v)
    low = (v & np.uint64(0x7F)).astype(np.uint8)
    if int(size.max()) == 1:  # a tile's tokens are nearly all below 128: one byte each
        return low, size
    # each value's first byte, then only the longer values' further bytes (a high bit on
    # every byte but a value's last)
    start = np.cumsum(size) - size
    out = np.empty(int(start[-1] + size[-1]), dtype=np.uint8)
    out[start] = low | ((size > 1).astype(np.uint8) << 7)
    rows = np.flatnonzero(size > 1)
    k = 1
    while rows.size:
        group = ((v[rows] >> np.uint64(7 * k)) & np.uint64(0x7F)).astype(np.uint8)
        out[start[rows] + k] = group | ((size[rows] > k + 1).astype(np.uint8) << 7)
        k += 1
        rows = rows[size[rows] > k]
    return out, size


def _sizes(values: npt.ArrayLike) -> _Ints:
    """The byte length of each value's varint (what :func:`varints` would write)."""
    v = np.asarray(values, dtype=np.uint64)
    size = np.ones(len(v), dtype=np.int64)
    top = int(v.max()) if len(v) else 0
    k = 1
    while top >= 1 << (7 * k):
        size += v >= (np.uint64(1) << np.uint64(7 * k))
        k += 1
    return size


def _uvarint(n: int) -> bytes:
    """One varint (a scalar: numpy's set-up would cost more than the loop)."""
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _field(number: int, wire: int) -> bytes:
    return _uvarint((number << 3) | wire)


def _bytes_field(number: int, payload: bytes) -> bytes:
    return _field(number, 2) + _uvarint(len(payload)) + payload


@functools.lru_cache(maxsize=1 << 17)
def _value_of(kind: str, value: object) -> bytes:
    """:func:`_value` as a field of a layer (``values``, 4), kept (``kind``: the value's type
    name, so that 1, 1.0 and True differ)."""
    return _bytes_field(4, _value(value))


def _value(value: object) -> bytes:
    """A ``Value`` message: text, a boolean, a whole number (sint64) or a float (double)."""
    if isinstance(value, bool):
        return _field(7, 0) + bytes([1 if value else 0])
    if isinstance(value, str):
        return _bytes_field(1, value.encode("utf-8"))
    if isinstance(value, int):
        return _field(6, 0) + _uvarint((value << 1) ^ (value >> 63) if value < 0 else value << 1)
    return _field(3, 1) + struct.pack("<d", float(value))  # type: ignore[arg-type]


def _tags(
    columns: Mapping[str, npt.NDArray[np.object_]], n: int
) -> tuple[_Ints, _Ints, list[str], list[bytes]]:
    """Per feature its tags (key and value indices, interleaved), their count per feature,
    the keys and the encoded values as layer fields (each distinct typed value once)."""
    names = list(columns)
    if not names or n == 0:
        return np.empty(0, np.int64), np.zeros(n, np.int64), [], []
    # each distinct (type, value) once, numbered in the order first seen
    index: dict[tuple[str, object], int] = {}
    value_ids = np.full((n, len(names)), -1, dtype=np.int64)
    for c, name in enumerate(names):
        # a missing value (None, NaN, NA) gets code -1 and is left out of its feature
        codes, uniques = pd.factorize(np.asarray(columns[name], dtype=object), sort=False)
        if not len(uniques):
            continue
        ids = np.array(
            [index.setdefault((type(v).__name__, v), len(index)) for v in uniques], dtype=np.int64
        )
        ok = np.flatnonzero(codes >= 0)
        value_ids[ok, c] = ids[codes[ok]]
    encoded = [_value_of(kind, v) for kind, v in index]
    present = value_ids >= 0
    keys = np.broadcast_to(np.arange(len(names), dtype=np.int64), value_ids.shape)
    pairs = np.stack([keys[present], value_ids[present]], axis=1).ravel()
    return pairs, 2 * present.sum(axis=1), names, encoded


#: (Multi)Polygons as arrays: coordinates, and the offsets of rings (coordinates per ring),
#: polygons (rings per polygon) and geometries (polygons per geometry)
Ragged = tuple[np.ndarray, _Ints, _Ints, _Ints]


def ragged(geoms: npt.NDArray[np.object_]) -> Ragged:
    """``geoms`` (Polygons and MultiPolygons) as :data:`Ragged` arrays."""
    _, coords, offsets = shapely.to_ragged_array(geoms)
    if len(offsets) == 3:  # MultiPolygons (or a mix)
        ring_at, poly_at, geom_at = offsets
    else:  # Polygons: each its own geometry
        ring_at, poly_at = offsets
        geom_at = np.arange(len(poly_at), dtype=np.int64)
    return coords, ring_at.astype(np.int64), poly_at.astype(np.int64), geom_at.astype(np.int64)


def _ranges(start: _Ints, end: _Ints) -> tuple[_Ints, _Ints]:
    """Every index of the ranges ``start[k]:end[k]`` in turn, and the new offsets."""
    count = end - start
    offsets = np.zeros(len(count) + 1, dtype=np.int64)
    np.cumsum(count, out=offsets[1:])
    idx = np.arange(int(offsets[-1]), dtype=np.int64) + np.repeat(start - offsets[:-1], count)
    return idx, offsets


def take(arrays: Ragged, which: npt.NDArray[np.intp]) -> Ragged:
    """The geometries ``which`` of :data:`Ragged` arrays, as ragged arrays of their own."""
    coords, ring_at, poly_at, geom_at = arrays
    polys, new_geom = _ranges(geom_at[which], geom_at[which + 1])
    rings, new_poly = _ranges(poly_at[polys], poly_at[polys + 1])
    points, new_ring = _ranges(ring_at[rings], ring_at[rings + 1])
    return coords[points], new_ring, new_poly, new_geom


def polygon_commands(
    geoms: npt.NDArray[np.object_], to_tile: Callable[[np.ndarray], np.ndarray]
) -> tuple[_Ints, _Ints, npt.NDArray[np.bool_]]:
    """The commands of lon/lat (Multi)Polygons in tile units (``to_tile``: lon/lat to whole
    tile units) straight from their coordinates (see :func:`ring_commands`)."""
    coords, ring_at, poly_at, geom_at = ragged(geoms)
    return ring_commands(to_tile(coords), ring_at, poly_at, geom_at)


def ring_commands(
    xy: np.ndarray, ring_at: _Ints, poly_at: _Ints, geom_at: _Ints
) -> tuple[_Ints, _Ints, npt.NDArray[np.bool_]]:
    """The commands of (Multi)Polygons given as ragged arrays with coordinates ``xy`` in whole
    tile units, with no geometry made: each ring turned to the orientation MVT wants (exterior
    positive by the surveyor's formula, holes negative). Also which geometries collapsed (a
    ring of no area once snapped): those need the geometry path (made valid), and their
    commands are left out."""
    ngeom = len(geom_at) - 1
    if _one_ring_quads(ring_at, poly_at, geom_at):
        fixed = _quad_commands(xy, ngeom)
        if fixed is not None:
            return fixed
    return _ring_commands(xy, ring_at, poly_at, geom_at)


def _one_ring_quads(ring_at: _Ints, poly_at: _Ints, geom_at: _Ints) -> bool:
    """Whether every geometry is one polygon of one ring of five coordinates (a four-corner
    parcel, the common case of a dense tile)."""
    n = len(geom_at) - 1
    return bool(
        n > 0 and len(poly_at) == n + 1 and len(ring_at) == n + 1
        and (np.diff(ring_at) == 5).all()
        and (np.diff(poly_at) == 1).all() and (np.diff(geom_at) == 1).all()
    )  # fmt: skip


def _quad_commands(xy: np.ndarray, n: int) -> tuple[_Ints, _Ints, npt.NDArray[np.bool_]] | None:
    """:func:`ring_commands` of ``n`` one-ring four-corner polygons, as fixed-width rows: per
    feature MoveTo, one LineTo of three points and ClosePath (11 integers). None when a kept
    ring repeats a point once snapped (its commands leave the point out: the general path)."""
    ring = xy.reshape(n, 5, 2)
    x, y = ring[..., 0], ring[..., 1]
    # twice each ring's signed area; 0: collapsed (the geometry path makes it valid)
    area = (x[:, :4] * y[:, 1:] - x[:, 1:] * y[:, :4]).sum(axis=1)
    collapsed = area == 0
    keep = np.flatnonzero(~collapsed)
    corners = ring[keep, :4]
    flip = area[keep] < 0  # an exterior ring turns positive: its corners reversed
    corners[flip] = corners[flip][:, [0, 3, 2, 1]]
    xy_int = np.rint(corners).astype(np.int64)
    delta = xy_int.copy()
    delta[:, 1:] -= xy_int[:, :-1]  # the first from the origin: one ring per feature
    if (delta[:, 1:] == 0).all(axis=2).any():
        return None
    zz = _zigzag(delta)
    out = np.empty((len(keep), 11), dtype=np.int64)
    out[:, 0] = (1 << 3) | MOVE_TO
    out[:, 1:3] = zz[:, 0]
    out[:, 3] = (3 << 3) | LINE_TO
    out[:, 4:10] = zz[:, 1:].reshape(len(keep), 6)
    out[:, 10] = (1 << 3) | CLOSE_PATH
    return out.reshape(-1), np.repeat(keep.astype(np.int64), 11), collapsed


def _ring_commands(
    xy: np.ndarray, ring_at: _Ints, poly_at: _Ints, geom_at: _Ints
) -> tuple[_Ints, _Ints, npt.NDArray[np.bool_]]:
    """:func:`ring_commands` for any (Multi)Polygons."""
    ngeom = len(geom_at) - 1
    nring = len(ring_at) - 1
    ring_of = np.repeat(np.arange(nring), np.diff(ring_at))
    poly_of_ring = np.repeat(np.arange(len(poly_at) - 1), np.diff(poly_at))
    geom_of_ring = np.repeat(np.arange(ngeom), np.diff(geom_at))[poly_of_ring]
    exterior = np.zeros(nring, dtype=bool)
    exterior[poly_at[:-1][np.diff(poly_at) > 0]] = True
    # twice the signed area of each ring (the closing point repeats the first)
    nxt = np.roll(xy, -1, axis=0)
    cross = xy[:, 0] * nxt[:, 1] - nxt[:, 0] * xy[:, 1]
    cross[ring_at[1:] - 1] = 0.0  # the closing point: no edge to the next ring
    area = np.bincount(ring_of, weights=cross, minlength=nring)
    collapsed = np.zeros(ngeom, dtype=bool)
    collapsed[geom_of_ring[area == 0]] = True
    flip = np.where(exterior, area < 0, area > 0)
    start = ring_at[:-1][ring_of]
    end = ring_at[1:][ring_of]
    i = np.arange(len(xy))
    order = np.where(flip[ring_of], start + end - 1 - i, i)
    keep = ~collapsed[geom_of_ring][ring_of]
    cmds, owner = _paths(xy[order][keep], ring_of[keep], geom_of_ring, closed=True)
    return cmds, owner, collapsed


def encode_layer(
    name: str,
    geoms: npt.NDArray[np.object_],
    columns: Mapping[str, npt.NDArray[np.object_]],
    *,
    extent: int = 4096,
    more: tuple[_Ints, _Ints, int] | None = None,
) -> bytes:
    """A tile of one layer ``name``: ``geoms`` (see the module) with the properties
    ``columns`` (one value per feature: text, a whole number, a float or a boolean; None
    leaves the property out of that feature). ``more``: the commands and owners of further
    polygon features numbered from ``len(geoms)`` on, and how many (their columns follow
    ``geoms``'s). A feature that leaves no command is left out. The whole message is written
    as one run of varints with numpy."""
    cmds, owner = commands(geoms)
    kinds = np.vectorize(_KIND.get, otypes=[np.int64])(shapely.get_type_id(geoms)) if len(
        geoms) else np.empty(0, np.int64)  # fmt: skip
    if more is not None:
        cmds = np.concatenate([cmds, more[0]])
        owner = np.concatenate([owner, more[1] + len(geoms)])
        kinds = np.concatenate([kinds, np.full(more[2], 3, dtype=np.int64)])
    n = len(kinds)
    ncmd = np.bincount(owner, minlength=n).astype(np.int64)
    tags, ntag, keys, values = _tags(columns, n)
    kept = ncmd > 0
    # per feature: the byte lengths of its packed tags and geometry
    tag_size = _sizes(tags)
    cmd_size = _sizes(cmds)
    tag_bytes = np.bincount(np.repeat(np.arange(n), ntag), weights=tag_size, minlength=n)
    cmd_bytes = np.bincount(owner, weights=cmd_size, minlength=n)
    tag_bytes, cmd_bytes = tag_bytes.astype(np.int64), cmd_bytes.astype(np.int64)
    tl = _sizes(tag_bytes)
    cl = _sizes(cmd_bytes)
    # Feature: 0x12 len tags... 0x18 type 0x22 len geometry...
    body = 1 + tl + tag_bytes + 2 + 1 + cl + cmd_bytes
    # each feature as tokens (every token one varint): 0x12 body | 0x12 ntags tags | 0x18 type
    # | 0x22 ncmd cmds
    count = 2 + 2 + ntag + 2 + 2 + ncmd
    count[~kept] = 0
    start = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(count, out=start[1:])
    tokens = np.empty(int(start[-1]), dtype=np.int64)
    at = start[:-1][kept]
    tokens[at] = 0x12
    tokens[at + 1] = body[kept]
    tokens[at + 2] = 0x12
    tokens[at + 3] = tag_bytes[kept]
    tag_owner = np.repeat(np.arange(n), ntag)
    tag_start = np.cumsum(ntag) - ntag
    mine = np.flatnonzero(kept[tag_owner])
    where = start[tag_owner] + 4 + (np.arange(len(tags)) - tag_start[tag_owner])
    tokens[where[mine]] = tags[mine]
    after = start[:-1] + 4 + ntag
    tokens[after[kept]] = 0x18
    tokens[after[kept] + 1] = kinds[kept]
    tokens[after[kept] + 2] = 0x22
    tokens[after[kept] + 3] = cmd_bytes[kept]
    cmd_start = np.cumsum(ncmd) - ncmd
    tokens[after[owner] + 4 + (np.arange(len(cmds)) - cmd_start[owner])] = cmds
    features = varints(tokens)[0].tobytes()
    layer = b"".join(
        [
            _field(15, 0) + b"\x02",
            _bytes_field(1, name.encode("utf-8")),
            features,
            *(_bytes_field(3, k.encode("utf-8")) for k in keys),
            *values,
            _field(5, 0) + _uvarint(extent),
        ]
    )
    return _bytes_field(3, layer)


__all__ = [
    "Ragged",
    "commands",
    "encode_layer",
    "polygon_commands",
    "ragged",
    "ring_commands",
    "take",
    "varints",
]
