"""Mapbox Vector Tiles of every collection in the WebMercatorQuad tile matrix set (OGC API –
Tiles), cut from the collections' cached geometry.

A tile ``z/y/x`` (``tileMatrix/tileRow/tileCol``) holds one layer named after the collection:
the features whose geometry intersects the tile grown by :data:`BUFFER` units on each side (the
collection's spatial index answers the lon/lat box), in tile units (:data:`EXTENT` to a side, y
down). What is drawn depends on the feature's size at that zoom:

- a polygon whose bounding box is smaller than :data:`SMALL_PX` pixels both ways (a pixel
  is :data:`PIXEL` units, 1/256 of the tile) is *aggregated*: the cells its box touches (a
  pixel, or a few when that would need more than :data:`AGGREGATE_CELLS` cells), over all such
  polygons of one value of the styling property (``status``, ``stage``, ``kind`` or
  ``severity``), become one MultiPolygon carrying that value, ``count`` (how many features it
  stands for) and ``aggregated=true``, so that a national view of 100,000 parcels draws every
  one of them at the cost of a few hundred rectangles;
- a line smaller than a pixel both ways is left out (it would draw nothing);
- every other feature is clipped to the buffered tile, simplified by :data:`SIMPLIFY_PX` of a
  pixel (``shapely.simplify``, topology kept), snapped to whole tile units with valid output,
  and carries its ``id`` and the styling properties the collection has (``status``, ``stage``,
  ``kind``, ``severity``, ``rule``, ``name``, ``name_mn``, ``name_en``). Points are always kept.

Everything is vectorised over the tile's features (``shapely`` 2), the geometry commands too
(:mod:`api.services.mvt`, into ``mapbox_vector_tile``'s protobuf message). Tiles are kept in
a bounded LRU per (collection, revision of its sources, z, x, y): a write gives the next
request a new tile.
Nothing here imports FastAPI.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely

from api.services.collections import (
    CollectionCache,
    CollectionData,
    FrameData,
    LayerData,
    collection_def,
)
from api.services.errors import NotFound
from api.services.mvt import (
    Ragged,
    encode_layer,
    polygon_commands,
    ragged,
    ring_commands,
    take,
)
from api.services.tile_properties import TileProperties, tile_properties

#: the tile matrix set served, and its URI
TILE_MATRIX_SET: Final = "WebMercatorQuad"
TILE_MATRIX_SET_URI: Final = "http://www.opengis.net/def/tilematrixset/OGC/1.0/WebMercatorQuad"
#: the CRS of WebMercatorQuad
WEB_MERCATOR: Final = "http://www.opengis.net/def/crs/EPSG/0/3857"
MVT: Final = "application/vnd.mapbox-vector-tile"
#: the conformance classes of OGC API – Tiles the tiles routes implement
TILES_CONFORMANCE: Final[tuple[str, ...]] = (
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/tileset",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/tilesets-list",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/geodata-tilesets",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/mvt",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/oas30",
)
#: the deepest tile matrix served
MAX_ZOOM: Final = 20
#: tile units to a side (the MVT extent), and per pixel of a 256-pixel tile
EXTENT: Final = 4096
PIXELS: Final = 256
PIXEL: Final = EXTENT // PIXELS
#: tile units each side of the tile that a tile also holds (4 pixels), so that the lines of
#: neighbouring tiles meet without seams
BUFFER: Final = 4 * PIXEL
#: the simplification tolerance, in pixels
SIMPLIFY_PX: Final = 0.5
#: a polygon whose bounding box is smaller than this many pixels both ways is aggregated
SMALL_PX: Final = 2
#: the most cells (of one styling value each) the small polygons of a tile are drawn as
AGGREGATE_CELLS: Final = 1500
#: tiles kept (all collections together)
CACHE_TILES: Final = 2048
#: the property a layer is coloured by, first found in this order
STYLE_KEYS: Final = ("status", "stage", "kind", "severity")
#: the properties a feature carries when the collection has them (besides ``id``)
PROPERTIES: Final = ("status", "stage", "kind", "severity", "rule", "name", "name_mn", "name_en")
#: the latitude limit of Web Mercator
MAX_LAT: Final = 85.0511287798066

_POLYGONAL: Final = (3, 6)  # shapely type ids of Polygon and MultiPolygon
_LINEAR: Final = (1, 2, 5)  # LineString, LinearRing, MultiLineString


def _of_type(types: npt.NDArray[np.int64], kinds: tuple[int, ...]) -> npt.NDArray[np.bool_]:
    """Which ``types`` are among ``kinds``: ``np.isin`` by comparisons (a few microseconds
    instead of ~40 per call, on the few hundred features of a tile)."""
    return np.logical_or.reduce([types == k for k in kinds])


# ----------------------------------------------------------------------------- tile matrix


def check_tile(z: int, y: int, x: int) -> None:
    """Raise ``NotFound`` naming the parameter when ``z/y/x`` is not a tile of the set.

    Examples
    --------
    >>> check_tile(3, 7, 0)
    >>> check_tile(3, 8, 0)
    Traceback (most recent call last):
    ...
    api.services.errors.NotFound: tileRow 8 is outside tile matrix 3 (rows 0 to 7)
    """
    if not 0 <= z <= MAX_ZOOM:
        raise NotFound(f"tileMatrix {z} is not in {TILE_MATRIX_SET} here (0 to {MAX_ZOOM})")
    last = (1 << z) - 1
    if not 0 <= y <= last:
        raise NotFound(f"tileRow {y} is outside tile matrix {z} (rows 0 to {last})")
    if not 0 <= x <= last:
        raise NotFound(f"tileCol {x} is outside tile matrix {z} (columns 0 to {last})")


def check_matrix_set(tile_matrix_set: str) -> None:
    if tile_matrix_set != TILE_MATRIX_SET:
        raise NotFound(
            f"tileMatrixSetId '{tile_matrix_set}' is not served; the tile matrix set is "
            f"{TILE_MATRIX_SET}"
        )


def tile_lonlat_bounds(z: int, y: int, x: int, buffer: float = 0.0) -> tuple[float, ...]:
    """The lon/lat box of tile ``z/y/x`` grown by ``buffer`` tile units each side.

    Examples
    --------
    >>> [round(v, 4) for v in tile_lonlat_bounds(1, 0, 1)]
    [0.0, 0.0, 180.0, 85.0511]
    """
    n = float(1 << z)
    grow = buffer / EXTENT

    def lon(u: float) -> float:
        return (x + u) / n * 360.0 - 180.0

    def lat(v: float) -> float:
        return math.degrees(math.atan(math.sinh(math.pi * (1.0 - 2.0 * (y + v) / n))))

    return (lon(-grow), lat(1.0 + grow), lon(1.0 + grow), lat(-grow))


def _to_tile(z: int, y: int, x: int, *, snap: bool = False) -> Callable[[np.ndarray], np.ndarray]:
    """Lon/lat coordinates (an (n, 2) array) to units of tile ``z/y/x`` (y down); ``snap``:
    rounded to whole units."""
    n = float(1 << z)

    def transform(coords: np.ndarray) -> np.ndarray:
        lat = np.radians(np.clip(coords[:, 1], -MAX_LAT, MAX_LAT))
        u = (coords[:, 0] + 180.0) / 360.0 * n - x
        v = (1.0 - np.log(np.tan(lat) + 1.0 / np.cos(lat)) / math.pi) / 2.0 * n - y
        out = np.column_stack([u * EXTENT, v * EXTENT])
        return np.rint(out) if snap else out

    return transform


# ----------------------------------------------------------------------------- the features


@dataclass(frozen=True)
class _Source:
    """What tiles are cut from, per collection revision: every position's geometry, lon/lat
    bounds, type and tile properties; the collection's own spatial index answers boxes."""

    data: CollectionData
    geoms: npt.NDArray[np.object_]
    bounds: npt.NDArray[np.float64]
    types: npt.NDArray[np.int64]
    #: coordinates of each geometry
    ncoords: npt.NDArray[np.int64]
    properties: TileProperties
    key: str | None
    #: a polygon layer's coordinates as ragged arrays in Web Mercator world units (0 to 1,
    #: y down), a tile only scales and snaps them: those of a layer's base (made once per
    #: base, shared by the revisions on it) and of its overlay, and each position's row in
    #: them (``-1 - k``: overlay row k); None for other layers
    world: tuple[Ragged, Ragged | None, npt.NDArray[np.intp]] | None = None


def _columns(data: CollectionData) -> list[str]:
    if isinstance(data, LayerData):
        return [str(c) for c in data.view.base.frame.columns]
    return [str(c) for c in data.frame.columns]


def _world(geoms: npt.NDArray[np.object_]) -> Ragged | None:
    """Polygons' coordinates as ragged arrays in world units; None when not all are
    polygons (a base holding a missing geometry, say)."""
    if not len(geoms) or not np.isin(shapely.get_type_id(geoms), _POLYGONAL).all():
        return None
    coords, ring_at, poly_at, geom_at = ragged(geoms)
    return (_to_tile(0, 0, 0)(coords) / EXTENT, ring_at, poly_at, geom_at)


def _source(data: CollectionData) -> _Source:
    if isinstance(data, LayerData):
        view = data.view
        geoms = view.geoms()
        base = view.base.memo("bounds", lambda: shapely.bounds(view.base.geoms))
        bounds = np.empty((len(view), 4))
        bounds[view.base_pos[view.live]] = base[view.live]
        bounds[view.overlay_pos] = shapely.bounds(view.overlay_geoms)
    elif isinstance(data, FrameData):
        geoms = data.geoms
        bounds = shapely.bounds(geoms)
    else:  # pragma: no cover - every collection is one of the two
        raise TypeError(type(data).__name__)
    columns = _columns(data)
    wanted = [c for c in ("id", *PROPERTIES) if c in columns]
    properties = tile_properties(data, wanted)
    key = next((k for k in STYLE_KEYS if k in columns), None)
    if isinstance(data, LayerData):  # the base's once, the overlay's per revision
        view = data.view
        kinds = view.base.memo("tile_types", lambda: shapely.get_type_id(view.base.geoms))
        counts = view.base.memo("tile_ncoords",
                                lambda: shapely.get_num_coordinates(view.base.geoms))  # fmt: skip
        types = view.merge(kinds, shapely.get_type_id(view.overlay_geoms)).astype(np.int64)
        ncoords = view.merge(counts, shapely.get_num_coordinates(view.overlay_geoms))
        ncoords = ncoords.astype(np.int64)
    else:
        types = shapely.get_type_id(geoms).astype(np.int64)
        ncoords = shapely.get_num_coordinates(geoms).astype(np.int64)
    world = None
    if len(geoms) and np.isin(types, _POLYGONAL).all():
        if isinstance(data, LayerData):
            view = data.view
            base = view.base.memo("tile_world", lambda: _world(view.base.geoms))
            over = _world(view.overlay_geoms) if len(view.overlay_geoms) else None
            if base is not None:
                world = (base, over, view.source())
        else:
            whole = _world(geoms)
            if whole is not None:
                world = (whole, None, np.arange(len(geoms), dtype=np.intp))
    return _Source(data, geoms, bounds, types, ncoords, properties, key, world)


def _cells(low: np.ndarray, high: np.ndarray, size: int) -> tuple[np.ndarray, int, int]:
    """For each box (corners ``low``, ``high`` in tile units), the cells of ``size`` tile
    units it touches, as (box, cell code) pairs flattened: ``(boxes, codes)`` stacked, with
    the grid's side and its first cell index (cells cover the buffered tile)."""
    lo = -(-BUFFER // size)
    side = -(-(EXTENT + BUFFER) // size) - lo + 1
    first = np.clip(np.floor(low / size).astype(np.int64), lo, lo + side - 1) - lo
    last = np.clip(np.floor(high / size).astype(np.int64), lo, lo + side - 1) - lo
    reach = int((last - first).max()) if len(first) else 0
    boxes, codes = [], []
    for du in range(reach + 1):
        for dv in range(reach + 1):
            ok = np.flatnonzero((first[:, 0] + du <= last[:, 0]) & (first[:, 1] + dv <= last[:, 1]))
            boxes.append(ok)
            codes.append((first[ok, 1] + dv) * side + first[ok, 0] + du)
    return np.vstack([np.concatenate(boxes), np.concatenate(codes)]), side, lo


def _aggregate(
    source: _Source, positions: npt.NDArray[np.intp], low: np.ndarray, high: np.ndarray
) -> list[dict[str, Any]]:
    """One MultiPolygon per styling value covering the cells that the bounding boxes
    (``low``, ``high``: their corners in tile units) of the small polygons at ``positions`` of
    that value touch. A cell is a pixel, or 2, 4, 8 pixels to a side when a finer grid would
    need more than :data:`AGGREGATE_CELLS` cells; each row's run of neighbouring cells is one
    rectangle, set in by one unit so that no two touch (a valid MultiPolygon)."""
    if source.key is None:
        values = np.zeros(len(positions), dtype=np.int64)
        uniques: Sequence[object] = [None]
    else:
        codes, found = pd.factorize(pd.Series(source.properties.take(source.key, positions)))
        uniques = list(found)
        values = np.asarray(codes, dtype=np.int64)  # -1: no value
    size = PIXEL
    while True:
        pairs, side, lo = _cells(low, high, size)
        keyed = np.unique(values[pairs[0]] * (side * side) + pairs[1])
        if len(keyed) <= AGGREGATE_CELLS or size >= 8 * PIXEL:
            break
        size *= 2
    kinds, cells = np.divmod(keyed + side * side, side * side)  # values start at -1
    kinds -= 1
    out: list[dict[str, Any]] = []
    for code in np.unique(kinds):
        mine = cells[kinds == code]  # sorted by row, then column
        rows, cols = np.divmod(mine, side)
        start = np.ones(len(mine), dtype=bool)
        start[1:] = (rows[1:] != rows[:-1]) | (cols[1:] != cols[:-1] + 1)
        first = np.flatnonzero(start)
        last = np.r_[first[1:], len(mine)] - 1
        x0 = (cols[first] + lo) * size
        x1 = (cols[last] + lo + 1) * size
        y0 = (rows[first] + lo) * size
        strips = shapely.box(x0 + 1, y0 + 1, x1 - 1, y0 + size - 1)
        props: dict[str, object] = {
            "count": int((values == code).sum()),
            "aggregated": True,
        }
        if code >= 0 and source.key is not None:
            props[source.key] = uniques[int(code)]
        out.append({"geometry": shapely.multipolygons(strips), "properties": props})
    return out


def encode_tile(data: CollectionData, layer: str, z: int, y: int, x: int) -> bytes | None:
    """The MVT of ``layer`` (a collection's ``data``) in tile ``z/y/x``; None when empty."""
    return _encode(_source(data), layer, z, y, x)


def _concat(parts: list[Ragged]) -> Ragged:
    """Ragged arrays one after the other."""
    if len(parts) == 1:
        return parts[0]
    coords = np.concatenate([p[0] for p in parts])
    offsets = []
    for k in (1, 2, 3):  # each part's offsets continue from the last of the one before
        out, shift = [parts[0][k]], 0
        for prev, part in itertools.pairwise(parts):
            shift += int(prev[k][-1])
            out.append(part[k][1:] + shift)
        offsets.append(np.concatenate(out))
    return coords, offsets[0], offsets[1], offsets[2]


def _hits(source: _Source, bounds: tuple[float, ...]) -> npt.NDArray[np.intp]:
    """Positions (ascending) of the features whose geometry intersects the lon/lat box
    ``bounds``: the index's candidates by bounding box, and of those whose box is not inside
    ``bounds`` only the ones whose geometry intersects it."""
    box = shapely.box(*bounds)
    data = source.data
    if isinstance(data, LayerData):
        found = data.view.index().query(box)
    elif isinstance(data, FrameData):
        found = data.tree.query(box)
    else:  # pragma: no cover
        found = data.hits(box)
    found = np.sort(np.asarray(found, dtype=np.intp))
    b = source.bounds[found]
    inside = (
        (b[:, 0] >= bounds[0]) & (b[:, 1] >= bounds[1])
        & (b[:, 2] <= bounds[2]) & (b[:, 3] <= bounds[3])
    )  # fmt: skip
    edge = found[~inside]
    if edge.size:
        inside[~inside] = shapely.intersects(source.geoms[edge], box)
    return found[inside]


def _encode(source: _Source, layer: str, z: int, y: int, x: int) -> bytes | None:
    hits = _hits(source, tile_lonlat_bounds(z, y, x, BUFFER))
    if hits.size == 0:
        return None
    to_tile = _to_tile(z, y, x)
    b = source.bounds[hits]
    low = to_tile(b[:, [0, 3]])  # west, north: the smallest tile x and y
    high = to_tile(b[:, [2, 1]])
    width, height = high[:, 0] - low[:, 0], high[:, 1] - low[:, 1]
    types = source.types[hits]
    tiny = (width < PIXEL) & (height < PIXEL)
    small = (width < SMALL_PX * PIXEL) & (height < SMALL_PX * PIXEL)
    polygonal = _of_type(types, _POLYGONAL)
    small &= polygonal
    drop = tiny & _of_type(types, _LINEAR)
    groups = _aggregate(source, hits[small], low[small], high[small]) if small.any() else []
    snapped = _to_tile(z, y, x, snap=True)
    # polygons of a few corners inside the buffered tile: commands straight from coordinates
    lo, hi = -BUFFER, EXTENT + BUFFER
    inside = (low >= lo).all(axis=1) & (high <= hi).all(axis=1)
    fast = ~(small | drop) & inside & polygonal & (source.ncoords[hits] <= 10)
    more, quick = None, hits[:0]
    if fast.any():
        idx = np.flatnonzero(fast)
        if source.world is not None:
            base, over, row_of = source.world
            rows = row_of[hits[idx]]
            in_base = rows >= 0
            order = np.concatenate([idx[in_base], idx[~in_base]])
            parts = [take(base, rows[in_base])]
            if over is not None and (~in_base).any():
                parts.append(take(over, -1 - rows[~in_base]))
            world, ring_at, poly_at, geom_at = _concat(parts)
            n = float(1 << z)
            xy = np.rint((world * n - np.array([x, y], dtype=float)) * EXTENT)
            cmds, owner, collapsed = ring_commands(xy, ring_at, poly_at, geom_at)
        else:
            order = idx
            cmds, owner, collapsed = polygon_commands(source.geoms[hits[idx]], snapped)
        if collapsed.any():  # renumber the others; the collapsed take the geometry path
            fast[order[collapsed]] = False
            renumber = np.cumsum(~collapsed) - 1
            owner = renumber[owner]
        quick = hits[order[~collapsed]]
        more = (cmds, owner, len(quick))
    rest = ~(small | drop | fast)
    whole = hits[rest]
    if whole.size:
        geoms, positions = _whole(source, whole, snapped, low[rest], high[rest])
    else:
        geoms, positions = _NONE, whole
    if not groups and not len(geoms) and not len(quick):
        return None
    shapes, columns = _columns_of(source, groups, geoms, np.concatenate([positions, quick]))
    return encode_layer(layer, shapes, columns, extent=EXTENT, more=more)


_NONE: Final = np.empty(0, dtype=object)


def _columns_of(
    source: _Source,
    groups: list[dict[str, Any]],
    geoms: npt.NDArray[np.object_],
    positions: npt.NDArray[np.intp],
) -> tuple[npt.NDArray[np.object_], dict[str, npt.NDArray[np.object_]]]:
    """The tile's geometries (aggregates first, then whole features) and the property columns
    of those and then of the rest of ``positions`` (features encoded without a geometry)."""
    k = len(groups)
    shapes = np.empty(k + len(geoms), dtype=object)
    shapes[:k] = [g["geometry"] for g in groups]
    shapes[k:] = geoms
    names = list(dict.fromkeys([*source.properties, *(n for g in groups for n in g["properties"])]))
    columns = {}
    for name in names:
        col = np.full(k + len(positions), None, dtype=object)
        col[:k] = [g["properties"].get(name) for g in groups]
        if name in source.properties:
            col[k:] = source.properties.take(name, positions)
        columns[name] = col
    return shapes, columns


def _whole(
    source: _Source,
    positions: npt.NDArray[np.intp],
    to_tile: Callable[[np.ndarray], np.ndarray],
    low: np.ndarray,
    high: np.ndarray,
) -> tuple[npt.NDArray[np.object_], npt.NDArray[np.intp]]:
    """The features at ``positions`` (``low``, ``high``: their boxes in tile units) in whole
    tile units: clipped to the buffered tile (only those crossing its edge), simplified (only
    those with more than a four-corner parcel's points: Douglas-Peucker keeps a subset of the
    points), made valid where the snap broke them, polygons oriented as MVT wants (exterior
    positive in y-down coordinates); those that vanish are left out."""
    geoms = shapely.transform(source.geoms[positions], to_tile)
    lo, hi = -BUFFER, EXTENT + BUFFER
    edge = (low < lo).any(axis=1) | (high > hi).any(axis=1)
    if edge.any():
        geoms[edge] = shapely.set_precision(
            shapely.clip_by_rect(geoms[edge], lo, lo, hi, hi), 1.0, mode="pointwise"
        )
    many = shapely.get_num_coordinates(geoms) > 8
    if many.any():
        geoms[many] = shapely.simplify(geoms[many], SIMPLIFY_PX * PIXEL, preserve_topology=True)
    broken = ~shapely.is_valid(geoms)
    if broken.any():  # a ring the snap made touch itself, or collapse
        geoms[broken] = shapely.make_valid(geoms[broken])
    polygonal = np.isin(shapely.get_type_id(geoms), _POLYGONAL)
    if polygonal.any():
        geoms[polygonal] = shapely.orient_polygons(geoms[polygonal], exterior_cw=False)
    geoms = _drop_collections(geoms)
    keep = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    return geoms[keep], positions[keep]


def _drop_collections(geoms: npt.NDArray[np.object_]) -> npt.NDArray[np.object_]:
    """A clip or snap that left a collection (a polygon with a stray line) keeps the parts
    of the feature's own dimension (MVT has no collections)."""
    mixed = np.flatnonzero(shapely.get_type_id(geoms) == 7)
    for i in mixed:  # rare: a loop over the few, not the tile
        parts = shapely.get_parts(geoms[i])
        dims = shapely.get_dimensions(parts)
        best = parts[dims == dims.max()] if len(parts) else parts
        geoms[i] = shapely.union_all(best) if len(best) else shapely.from_wkt("POLYGON EMPTY")
    return geoms


# ----------------------------------------------------------------------------- the cache


class TileCache:
    """Tiles per (collection, revision of its sources, z, x, y), at most :data:`CACHE_TILES`
    (least recently used dropped), and the per-revision sources they are cut from."""

    def __init__(self, collections: CollectionCache, *, size: int = CACHE_TILES) -> None:
        self.collections = collections
        self.size = size
        self._lock = threading.Lock()
        self._tiles: OrderedDict[tuple[object, ...], bytes | None] = OrderedDict()
        self._sources: dict[str, _Source] = {}
        self._source_locks: dict[str, threading.Lock] = {}
        #: tiles made (not found in the cache), for tests and benchmarks
        self.made = 0

    def tile(self, collection_id: str, z: int, y: int, x: int) -> bytes | None:
        """The tile's MVT bytes, or None for an empty tile.

        Raises
        ------
        NotFound
            For an unknown collection or a tile outside the tile matrix set.
        """
        definition = collection_def(collection_id)
        check_tile(z, y, x)
        revision = self.collections.key(definition, dt.date.today())
        key = (collection_id, revision, z, x, y)
        with self._lock:
            if key in self._tiles:
                self._tiles.move_to_end(key)
                return self._tiles[key]
        data = self.collections.get(collection_id)
        body = _encode(self._source(collection_id, data), collection_id, z, y, x)
        with self._lock:
            self.made += 1
            self._tiles[key] = body
            while len(self._tiles) > self.size:
                self._tiles.popitem(last=False)
        return body

    def _source(self, collection_id: str, data: CollectionData) -> _Source:
        with self._lock:
            lock = self._source_locks.setdefault(collection_id, threading.Lock())
        with lock:
            hit = self._sources.get(collection_id)
            if hit is not None and hit.data is data:
                return hit
            source = _source(data)
            self._sources[collection_id] = source
            return source


__all__ = [
    "BUFFER",
    "EXTENT",
    "MAX_ZOOM",
    "MVT",
    "TILES_CONFORMANCE",
    "TILE_MATRIX_SET",
    "TILE_MATRIX_SET_URI",
    "TileCache",
    "check_matrix_set",
    "check_tile",
    "encode_tile",
    "tile_lonlat_bounds",
]
