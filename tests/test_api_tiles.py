"""OGC API – Tiles: vector tiles decoded with ``mapbox_vector_tile`` and checked against the store.

The scene is :mod:`tests.test_api_ogc`'s (twelve 100 m parcels in a row in Mandal, P-13 over
half of P-01, a Land Conclusion, an exclusion, a soum). What a tile should hold is worked out
here independently of the server: the store's features reprojected to EPSG:3857 with pyproj
and intersected with the tile's square (grown by the buffer) in metres.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import geopandas as gpd
import mapbox_vector_tile
import numpy as np
import pytest
import shapely
from fastapi.testclient import TestClient
from shapely.geometry import shape

from api.services.collections import FrameData
from api.services.tiles import BUFFER, EXTENT, MAX_ZOOM, encode_tile
from layers.store import Store
from tests import factories as f
from tests.test_api_ogc import client_for, problem, scene_layers

R = 6378137.0
HALF = math.pi * R
BASE = "/collections/{cid}/tiles/WebMercatorQuad"


@pytest.fixture
def scene(store: Store) -> Store:
    store.write(scene_layers())
    return store


@pytest.fixture
def client(scene: Store) -> Iterator[TestClient]:
    with client_for(scene.location) as c:
        yield c


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    """(row, column) of the tile holding a point (the textbook formula)."""
    n = 2**z
    col = int((lon + 180) / 360 * n)
    r = math.radians(lat)
    row = int((1 - math.asinh(math.tan(r)) / math.pi) / 2 * n)
    return row, col


def mercator_box(z: int, row: int, col: int, grow: float) -> shapely.Polygon:
    size = 2 * HALF / 2**z
    pad = grow / EXTENT * size
    x0, y1 = -HALF + col * size, HALF - row * size
    return shapely.box(x0 - pad, y1 - size - pad, x0 + size + pad, y1 + pad)


def expected(frame: gpd.GeoDataFrame, z: int, row: int, col: int) -> gpd.GeoDataFrame:
    merc = frame.to_crs(3857)
    return frame[merc.intersects(mercator_box(z, row, col, BUFFER)).to_numpy()]


def get_tile(client: TestClient, cid: str, z: int, row: int, col: int) -> dict[str, Any]:
    r = client.get(f"{BASE.format(cid=cid)}/{z}/{row}/{col}")
    if r.status_code == 204:
        assert r.content == b""
        return {}
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/vnd.mapbox-vector-tile"
    decoded: dict[str, Any] = mapbox_vector_tile.decode(
        r.content, default_options={"y_coord_down": True}
    )
    assert set(decoded) == {cid}, decoded.keys()
    assert decoded[cid]["extent"] == EXTENT
    return decoded[cid]


def within_extent(geometry: dict[str, Any]) -> bool:
    coords = shapely.get_coordinates(shape(geometry))
    return bool(((coords >= -BUFFER) & (coords <= EXTENT + BUFFER)).all())


# ------------------------------------------------------------------------------ documents


def test_conformance_and_collection_link_to_the_tiles(client: TestClient) -> None:
    classes = client.get("/conformance").json()["conformsTo"]
    for part in ("core", "tileset", "tilesets-list", "geodata-tilesets", "mvt"):
        assert f"http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/{part}" in classes
    doc = client.get("/collections/contract_parcels").json()
    rels = {x["rel"]: x["href"] for x in doc["links"]}
    tiles = rels["http://www.opengis.net/def/rel/ogc/1.0/tilesets-vector"]
    assert tiles.endswith("/collections/contract_parcels/tiles")


@pytest.mark.parametrize("cid", ["contract_parcels", "soums", "overlaps", "available_land"])
def test_tileset_list_and_metadata(client: TestClient, cid: str) -> None:
    listing = client.get(f"/collections/{cid}/tiles")
    assert listing.status_code == 200, listing.text
    (summary,) = listing.json()["tilesets"]
    assert summary["dataType"] == "vector"
    assert summary["tileMatrixSetURI"].endswith("/tilematrixset/OGC/1.0/WebMercatorQuad")
    self_link = next(x["href"] for x in summary["links"] if x["rel"] == "self")
    doc = client.get(self_link.replace("http://testserver", "")).json()
    assert doc["dataType"] == "vector"
    assert doc["crs"] == "http://www.opengis.net/def/crs/EPSG/0/3857"
    assert doc["tileMatrixSetURI"] == summary["tileMatrixSetURI"]
    assert (doc["minTileMatrix"], doc["maxTileMatrix"]) == ("0", str(MAX_ZOOM))
    (item,) = [x for x in doc["links"] if x["rel"] == "item"]
    assert item["templated"] is True
    assert item["type"] == "application/vnd.mapbox-vector-tile"
    assert item["href"].endswith(f"/collections/{cid}/tiles/WebMercatorQuad/"
                                 "{tileMatrix}/{tileRow}/{tileCol}")  # fmt: skip
    # the limits of a tile matrix hold the tile of the collection's features
    box = doc["boundingBox"]
    lon = (box["lowerLeft"][0] + box["upperRight"][0]) / 2
    lat = (box["lowerLeft"][1] + box["upperRight"][1]) / 2
    limits = {x["tileMatrix"]: x for x in doc["tileMatrixSetLimits"]}
    row, col = tile_of(lon, lat, 14)
    assert limits["14"]["minTileRow"] <= row <= limits["14"]["maxTileRow"]
    assert limits["14"]["minTileCol"] <= col <= limits["14"]["maxTileCol"]
    url = item["href"].replace("http://testserver", "")
    url = url.format(tileMatrix=14, tileRow=row, tileCol=col)
    assert client.get(url).status_code == 200


# ------------------------------------------------------------------------------ decoding


@pytest.mark.parametrize("z", [15, 16, 17])
def test_a_tile_holds_exactly_the_features_intersecting_it(
    client: TestClient, scene: Store, z: int
) -> None:
    parcels = scene.read("contract_parcels")
    lon, lat = shapely.union_all(parcels.geometry.to_numpy()).centroid.coords[0]
    row, col = tile_of(lon, lat, z)
    seen = 0
    for dr in (-1, 0, 1):
        for dc in (-1, 0, 1):
            want = expected(parcels, z, row + dr, col + dc)
            layer = get_tile(client, "contract_parcels", z, row + dr, col + dc)
            feats = layer.get("features", [])
            assert not any(x["properties"].get("aggregated") for x in feats)
            got = {x["properties"]["id"]: x for x in feats}
            assert sorted(got) == sorted(want["id"]), (z, dr, dc)
            for _, rec in want.iterrows():
                feat = got[rec["id"]]
                assert feat["properties"]["status"] == rec["status"]
                assert feat["type"] == "Feature"
                assert feat["geometry"]["type"] in ("Polygon", "MultiPolygon")
                assert within_extent(feat["geometry"])
                geom = shape(feat["geometry"])
                assert geom.is_valid and geom.area > 0
            seen += len(got)
    assert seen > 0


def test_tile_geometry_is_the_feature_in_tile_units(client: TestClient, scene: Store) -> None:
    """At zoom 17 the 100 m square P-05 is about 100 pixels: its decoded outline, taken back
    to lon/lat, lies on the store's within a pixel."""
    parcel = scene.get("contract_parcels", "P-05")
    geom = parcel.geometry.iloc[0]
    z = 17
    row, col = tile_of(*geom.centroid.coords[0], z)
    layer = get_tile(client, "contract_parcels", z, row, col)
    feat = next(x for x in layer["features"] if x["properties"]["id"] == "P-05")
    size = 2 * HALF / 2**z

    def back(coords: np.ndarray) -> np.ndarray:
        x = -HALF + (col + coords[:, 0] / EXTENT) * size
        y = HALF - (row + coords[:, 1] / EXTENT) * size
        return np.column_stack([x, y])

    drawn = shapely.transform(shape(feat["geometry"]), back)
    store = gpd.GeoSeries([geom], crs=4326).to_crs(3857).iloc[0]
    clipped = store.intersection(mercator_box(z, row, col, BUFFER))
    pixel = size / 256
    assert drawn.symmetric_difference(clipped).area < 4 * pixel * math.sqrt(clipped.area)
    assert shapely.hausdorff_distance(drawn, clipped) < pixel


def test_low_zoom_aggregates_small_parcels_counting_every_one(
    client: TestClient, scene: Store
) -> None:
    parcels = scene.read("contract_parcels")
    lon, lat = parcels.geometry.iloc[0].centroid.coords[0]
    for z in (6, 9):
        row, col = tile_of(lon, lat, z)
        layer = get_tile(client, "contract_parcels", z, row, col)
        counts: dict[str, int] = {}
        for feat in layer["features"]:
            props = feat["properties"]
            assert props["aggregated"] is True
            geom = shape(feat["geometry"])
            assert geom.is_valid and not geom.is_empty
            assert within_extent(feat["geometry"])
            counts[props["status"]] = counts.get(props["status"], 0) + props["count"]
        want = expected(parcels, z, row, col)["status"].value_counts().to_dict()
        assert counts == want


def test_simplification_keeps_large_polygons_valid(client: TestClient, scene: Store) -> None:
    soum = scene.read("soums")
    lon, lat = soum.geometry.iloc[0].centroid.coords[0]
    for z in (8, 10, 12):
        row, col = tile_of(lon, lat, z)
        layer = get_tile(client, "soums", z, row, col)
        (feat,) = layer["features"]
        assert feat["properties"]["id"] == "MN4322"
        assert feat["properties"]["name_mn"] == "Мандал"
        geom = shape(feat["geometry"])
        assert geom.is_valid and geom.area > 0
        assert within_extent(feat["geometry"])


def test_derived_collections_have_tiles(client: TestClient, scene: Store) -> None:
    parcel = scene.get("contract_parcels", "P-01").geometry.iloc[0]
    row, col = tile_of(*parcel.centroid.coords[0], 16)
    layer = get_tile(client, "overlaps", 16, row, col)
    (feat,) = [x for x in layer["features"] if x["properties"]["rule"] == "PARCEL_OVERLAP"]
    assert feat["properties"]["severity"] == "block"
    assert shape(feat["geometry"]).is_valid
    free = get_tile(client, "available_land", 16, row, col)
    assert [x["properties"]["id"] for x in free["features"]]


def test_an_empty_tile_is_204(client: TestClient) -> None:
    r = client.get(f"{BASE.format(cid='contract_parcels')}/14/0/0")
    assert r.status_code == 204
    assert r.content == b""


# ------------------------------------------------------------------------------ bad requests


@pytest.mark.parametrize(
    ("path", "status", "word"),
    [
        ("21/0/0", 400, "tileMatrix"),
        ("-1/0/0", 400, "tileMatrix"),
        ("abc/0/0", 400, "tileMatrix"),
        ("1.5/0/0", 400, "tileMatrix"),
        ("3/x/0", 400, "tileRow"),
        ("3/0/2.5", 400, "tileCol"),
        ("3/8/0", 404, "tileRow 8"),
        ("3/0/8", 404, "tileCol 8"),
        ("0/1/0", 404, "tileRow 1"),
        ("3/99999999999999999999/0", 404, "tileRow"),
    ],
)
def test_bad_tile_indices_name_the_parameter(
    client: TestClient, path: str, status: int, word: str
) -> None:
    problem(client.get(f"{BASE.format(cid='contract_parcels')}/{path}"), status, word)


def test_unknown_collection_matrix_set_or_parameter(client: TestClient) -> None:
    problem(client.get("/collections/nope/tiles"), 404, "nope")
    problem(client.get(f"{BASE.format(cid='nope')}/0/0/0"), 404, "nope")
    problem(client.get("/collections/soums/tiles/WorldCRS84Quad"), 404, "WorldCRS84Quad")
    problem(client.get("/collections/soums/tiles/WorldCRS84Quad/0/0/0"), 404, "tileMatrixSetId")
    problem(client.get(f"{BASE.format(cid='soums')}/0/0/0?bbox=1"), 400, "bbox")


# ------------------------------------------------------------------------------ the cache


def test_a_write_gives_a_new_tile_and_an_unchanged_store_the_kept_one(
    client: TestClient, scene: Store
) -> None:
    tiles = client.app.state.services.tiles  # type: ignore[attr-defined]
    parcel = scene.get("contract_parcels", "P-02")
    row, col = tile_of(*parcel.geometry.iloc[0].centroid.coords[0], 16)
    first = get_tile(client, "contract_parcels", 16, row, col)
    made = tiles.made
    assert get_tile(client, "contract_parcels", 16, row, col) == first
    assert tiles.made == made  # the second answer came from the cache
    status = {x["properties"]["id"]: x["properties"]["status"] for x in first["features"]}
    assert status["P-02"] == "applied"
    changed = parcel.copy()
    changed["status"] = "suspended"
    changed["geometry"] = [f.utm_box(270, 130, 60, 60)]  # moved and smaller
    scene.write({"contract_parcels": changed}, mode="upsert")
    after = get_tile(client, "contract_parcels", 16, row, col)
    new = {x["properties"]["id"]: x for x in after["features"]}
    assert new["P-02"]["properties"]["status"] == "suspended"
    assert tiles.made == made + 1
    # the kept server (the write laid over its cached layer) answers as a fresh one, also
    # at a zoom where the parcels are aggregated by status (the overlay's status counted)
    low = tile_of(*parcel.geometry.iloc[0].centroid.coords[0], 8)
    kept_low = get_tile(client, "contract_parcels", 8, *low)
    assert any(x["properties"].get("aggregated") for x in kept_low["features"])
    assert "suspended" in {x["properties"].get("status") for x in kept_low["features"]}
    with client_for(scene.location) as fresh:
        assert get_tile(fresh, "contract_parcels", 16, row, col) == after
        assert get_tile(fresh, "contract_parcels", 8, *low) == kept_low
    scene.delete("contract_parcels", ["P-02"])
    gone = get_tile(client, "contract_parcels", 16, row, col)
    assert "P-02" not in {x["properties"]["id"] for x in gone.get("features", [])}


# ------------------------------------------------------------------------------ any geometry


def test_lines_and_points_encode_too() -> None:
    """The encoder is generic: a line layer and a point layer (as the reference layers roads
    and settlements will be) tile with their own geometry types and properties."""
    line = shapely.LineString([(106.50, 48.80), (106.52, 48.81), (106.55, 48.80)])
    tiny = shapely.LineString([(106.5, 48.8), (106.500001, 48.800001)])
    point = shapely.Point(106.51, 48.805)
    frame = gpd.GeoDataFrame(
        {"id": ["R-1", "R-2", "S-1"], "kind": ["road", "track", "soum_centre"],
         "name": ["Зам", None, "Мандал"]},
        geometry=[line, tiny, point], crs=4326,
    )  # fmt: skip
    data = FrameData(frame, None)
    row, col = tile_of(106.51, 48.805, 13)
    body = encode_tile(data, "reference", 13, row, col)
    assert body is not None
    layer = mapbox_vector_tile.decode(body, default_options={"y_coord_down": True})["reference"]
    got = {x["properties"]["id"]: x for x in layer["features"]}
    assert set(got) == {"R-1", "S-1"}  # the sub-pixel line is left out
    assert got["R-1"]["geometry"]["type"] == "LineString"
    assert got["R-1"]["properties"] == {"id": "R-1", "kind": "road", "name": "Зам"}
    assert got["S-1"]["geometry"]["type"] == "Point"
    x, y = got["S-1"]["geometry"]["coordinates"]
    assert 0 <= x <= EXTENT and 0 <= y <= EXTENT
    assert encode_tile(data, "reference", 13, row + 20, col) is None


def test_varints_of_a_run_equal_each_value_encoded_alone() -> None:
    """The vectorised varints (one byte for most values, the longer values' further bytes
    written apart) against the one-value encoder, around every byte boundary."""
    from api.services.mvt import _uvarint, varints

    edges = [v for k in range(1, 10) for v in (2 ** (7 * k) - 1, 2 ** (7 * k))]
    rng = np.random.default_rng(3)
    for values in (
        [0, 1, 127],
        [0, *edges, 2**64 - 1, 5],
        rng.integers(0, 300, 2_000).tolist(),
        rng.integers(0, 2**63 - 1, 500, dtype=np.int64).tolist(),
    ):
        data, size = varints(np.array(values, dtype=np.uint64))
        alone = [_uvarint(int(v)) for v in values]
        assert data.tobytes() == b"".join(alone)
        assert size.tolist() == [len(b) for b in alone]


def test_the_vectorised_encoder_writes_what_the_library_writes() -> None:
    """:mod:`api.services.mvt` against ``mapbox_vector_tile.encode`` on every geometry type
    (holes, several parts, repeated points): both decode to the same features."""
    from api.services.mvt import encode_layer

    ring = shapely.Polygon(
        [(10, 10), (400, 10), (400, 300), (10, 300)], [[(50, 50), (50, 100), (100, 100), (100, 50)]]
    )
    geoms = np.array(
        [
            shapely.orient_polygons(ring, exterior_cw=False),
            shapely.orient_polygons(
                shapely.MultiPolygon(
                    [shapely.box(500, 500, 600, 600), shapely.box(700, 700, 900, 800)]
                ),
                exterior_cw=False,
            ),
            shapely.LineString([(0, 0), (5, 5), (5, 5), (4000, 20)]),
            shapely.MultiLineString([[(1, 1), (2, 3)], [(10, 10), (20, 30), (40, 10)]]),
            shapely.Point(3, 4000),
            shapely.MultiPoint([(1, 2), (3, 4), (-30, 4100)]),
        ],
        dtype=object,
    )
    props = [{"id": f"F-{i}", "n": i, "ok": i % 2 == 0, "x": i / 3, "none": None} for i in range(6)]
    ours = mapbox_vector_tile.decode(
        encode_layer(
            "t", geoms, {k: np.array([p[k] for p in props], dtype=object) for k in props[0]}
        ),
        default_options={"y_coord_down": True},
    )
    theirs = mapbox_vector_tile.decode(
        mapbox_vector_tile.encode(
            [
                {
                    "name": "t",
                    "features": [
                        {"geometry": g, "properties": p} for g, p in zip(geoms, props, strict=True)
                    ],
                }
            ],
            default_options={"y_coord_down": True},
        ),
        default_options={"y_coord_down": True},
    )
    a, b = ours["t"]["features"], theirs["t"]["features"]
    assert len(a) == len(b) == 6
    for x, y, g in zip(a, b, geoms, strict=True):
        assert x["properties"] == y["properties"]
        assert x["geometry"]["type"] == y["geometry"]["type"]
        assert shape(x["geometry"]).equals(shape(y["geometry"]))
        assert shape(x["geometry"]).equals(g)


@pytest.mark.parametrize("multi", [False, True])
def test_polygon_commands_from_coordinates_equal_the_geometry_path(multi: bool) -> None:
    """Few-corner polygons are encoded straight from their coordinates: rings of either
    orientation (a hole too) come out as the geometry path writes them, and a polygon that
    snaps to no area is handed back to the geometry path."""
    from api.services.mvt import commands, polygon_commands

    def snap(c: np.ndarray) -> np.ndarray:
        return np.rint(c * 10)

    cw = shapely.Polygon([(0, 0), (0, 50), (50, 50), (50, 0)])
    ccw = shapely.Polygon(
        [(60, 0), (90, 0), (90, 40), (60, 40)], [[(70, 10), (70, 20), (80, 20), (80, 10)]]
    )
    flat = shapely.Polygon([(0, 100), (50, 100.01), (0, 100.02)])
    geoms = np.array([cw, ccw, flat], dtype=object)
    if multi:
        geoms = np.array([shapely.MultiPolygon([g]) for g in geoms], dtype=object)
    cmds, owner, collapsed = polygon_commands(geoms, snap)
    assert collapsed.tolist() == [False, False, True]
    want = shapely.orient_polygons(shapely.transform(geoms[:2], snap), exterior_cw=False)
    want_cmds, want_owner = commands(want)
    assert cmds.tolist() == want_cmds.tolist()
    assert owner.tolist() == want_owner.tolist()


def test_four_corner_rings_take_fixed_rows_equal_to_the_general_path() -> None:
    """A tile of one-ring four-corner parcels is written as fixed rows of 11 integers; the
    result equals the general ragged path and the geometry path: rings of both orientations,
    a parcel that snaps to nothing (handed back), and a tile where a snapped parcel repeats a
    corner (the general path then leaves the point out)."""
    from api.services import mvt

    rng = np.random.default_rng(11)
    n = 400
    centre = rng.uniform(0, 400, (n, 1, 2))
    half = rng.uniform(0.2, 6, (n, 1, 2))
    square = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], dtype=float)
    corners = centre + half * square[None]
    corners[::2] = corners[::2, ::-1]  # half of them clockwise
    corners[7] = corners[7, :1] + np.array([[0, 0], [0.001, 0], [0.001, 0.0001], [0, 0.0001]])
    geoms = shapely.polygons(np.concatenate([corners, corners[:, :1]], axis=1))

    def snap(c: np.ndarray) -> np.ndarray:
        return np.rint(c * 10)

    coords, ring_at, poly_at, geom_at = mvt.ragged(geoms)
    assert mvt._one_ring_quads(ring_at, poly_at, geom_at)
    assert mvt._quad_commands(snap(coords), n) is not None  # the fixed path is taken here
    fast = mvt.ring_commands(snap(coords), ring_at, poly_at, geom_at)
    general = mvt._ring_commands(snap(coords), ring_at, poly_at, geom_at)
    for got, want in zip(fast, general, strict=True):
        assert got.tolist() == want.tolist()
    assert fast[2].tolist() == [i == 7 for i in range(n)]
    kept = shapely.orient_polygons(shapely.transform(geoms[~fast[2]], snap), exterior_cw=False)
    want_cmds, want_owner = mvt.commands(kept)
    renumber = np.flatnonzero(~fast[2])
    assert fast[0].tolist() == want_cmds.tolist()
    assert fast[1].tolist() == renumber[want_owner].tolist()

    # a corner that snaps onto the next one: the whole tile goes the general way
    corners[3, 1] = corners[3, 0] + 0.01
    geoms = shapely.polygons(np.concatenate([corners, corners[:, :1]], axis=1))
    coords, ring_at, poly_at, geom_at = mvt.ragged(geoms)
    assert mvt._quad_commands(snap(coords), n) is None
    fast = mvt.ring_commands(snap(coords), ring_at, poly_at, geom_at)
    general = mvt._ring_commands(snap(coords), ring_at, poly_at, geom_at)
    for got, want in zip(fast, general, strict=True):
        assert got.tolist() == want.tolist()
    assert len(fast[0]) == 11 * (n - 1) - 2  # parcel 3 lost a point: LineTo of two
