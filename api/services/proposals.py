"""Proposals as the review reads them: a GeoJSON body or an uploaded file, checked against the
server's caps, refused with the feature and the reason when they cannot be reviewed.

The check of ``POST /analysis/check`` and the ``/check`` page read proposals here, so both take
the same formats, caps and messages.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import Any, Final

import geopandas as gpd
import numpy as np
import orjson
import pandas as pd
import shapely

from api.services.errors import BadRequest, PayloadTooLarge, Unprocessable
from api.settings import ApiSettings
from geo.frames import geo_frame
from layers.errors import GazarError, InvalidGeometry
from layers.sandbox import read_bounded
from layers.uploads import ReadersBusy, UploadTooLarge

GEOMETRY_TYPES: Final = frozenset(
    {
        "Point",
        "MultiPoint",
        "LineString",
        "MultiLineString",
        "Polygon",
        "MultiPolygon",
        "GeometryCollection",
    }
)
#: the proposal's properties a review reads; others are ignored
PROPERTIES: Final = ("name", "land_conclusion_id", "holder", "soum_code")

_SUFFIX = re.compile(r"^\.[a-z0-9]{1,8}$")


class Unreadable(GazarError):
    """An uploaded file ``read_features`` could not read (its message names the upload)."""


def proposal_from_body(body: bytes, *, settings: ApiSettings) -> gpd.GeoDataFrame:
    """A GeoJSON body as a proposal frame (EPSG:4326) with ``id`` and the properties a review
    reads; refuses what cannot be reviewed, naming the feature and the reason."""
    if not body.strip():
        raise BadRequest("the body is empty; send a GeoJSON Polygon, Feature or FeatureCollection")
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"the body is not JSON ({exc}); send GeoJSON") from None
    features = _features(doc)
    if not features:
        raise Unprocessable("the FeatureCollection has no features; send at least one polygon")
    if len(features) > settings.max_check_features:
        raise Unprocessable(
            f"{len(features):,} features sent; a check takes at most "
            f"{settings.max_check_features:,} (GAZAR_MAX_CHECK_FEATURES): send them in "
            "several requests"
        )
    ids: list[str | None] = []
    columns: dict[str, list[str | None]] = {name: [] for name in PROPERTIES}
    geoms = np.empty(len(features), dtype=object)
    for i, feature in enumerate(features):
        where = f"feature #{i}"
        if not isinstance(feature, dict) or feature.get("type") != "Feature":
            raise Unprocessable(f"{where} is not a GeoJSON Feature (an object with type Feature)")
        props = feature.get("properties") or {}
        if not isinstance(props, dict):
            raise Unprocessable(f"{where}: 'properties' must be an object or null")
        fid = _text(props.get("id", feature.get("id")))
        ids.append(fid)
        for name in PROPERTIES:
            columns[name].append(_text(props.get(name)))
        geoms[i] = _geometry(
            feature.get("geometry"), f"{where}{'' if fid is None else f' (id={fid})'}"
        )
    vertices = int(shapely.get_num_coordinates(geoms).sum())
    if vertices > settings.max_vertices:
        raise Unprocessable(
            f"the proposal has {vertices:,} vertices; at most {settings.max_vertices:,} are "
            "accepted (GAZAR_MAX_VERTICES): simplify the outline or send fewer features"
        )
    return geo_frame({"id": ids, **columns}, geoms)  # EPSG:4326, as GeoDataFrame(...) gives


def proposal_from_file(
    name: str, data: bytes, *, settings: ApiSettings
) -> tuple[gpd.GeoDataFrame, list[str]]:
    """An uploaded file as a proposal: read by ``read_features`` (any format it knows) under
    the upload caps and budgets (:func:`layers.sandbox.read_bounded`: archives and GeoPackages
    checked from their directories first, the parse in a child process), then through the same
    checks as a GeoJSON body; returns it with the reader's notes.

    Raises
    ------
    PayloadTooLarge
        Over a cap or budget of ``GAZAR_MAX_UPLOAD_*`` or ``GAZAR_MAX_PARSE_*`` (413).
    """
    suffix = Path(name).suffix.lower()
    suffix = suffix if _SUFFIX.match(suffix) else ""
    with tempfile.TemporaryDirectory(prefix="gazar-check-") as folder:
        path = Path(folder) / f"upload{suffix}"
        path.write_bytes(data)
        try:
            frame, info = read_bounded(path, limits=settings.upload_limits())
        except UploadTooLarge as exc:
            raise PayloadTooLarge(str(exc).replace(str(path), name)) from None
        except ReadersBusy:
            raise
        except GazarError as exc:
            raise Unreadable(str(exc).replace(str(path), name)) from None
    body = orjson.dumps(proposal_geojson(frame))
    notes = [n.replace(str(path), name) for n in info.notes]
    return proposal_from_body(body, settings=settings), notes


def proposal_geojson(frame: gpd.GeoDataFrame) -> dict[str, Any]:
    """Features with their properties as text (column names lower-cased), as the parser and
    the report form read them."""
    table = pd.DataFrame(frame.drop(columns=frame.geometry.name))
    table.columns = [str(c).lower() for c in table.columns]
    table = table.loc[:, ~table.columns.duplicated()].astype(object)
    table = table.where(table.notna(), None)
    records = [
        {k: None if v is None else str(v) for k, v in row.items()}
        for row in table.to_dict("records")
    ]
    texts = shapely.to_geojson(np.asarray(frame.geometry.array, dtype=object))
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": props,
                "geometry": orjson.Fragment(g) if g is not None else None,
            }
            for props, g in zip(records, texts, strict=True)
        ],
    }


def _features(doc: object) -> list[Any]:
    if not isinstance(doc, dict):
        raise Unprocessable(
            f"the body is a JSON {type(doc).__name__}, not a GeoJSON object: send a Polygon, "
            "MultiPolygon, Feature or FeatureCollection"
        )
    kind = doc.get("type")
    if kind == "FeatureCollection":
        features = doc.get("features")
        if not isinstance(features, list):
            raise Unprocessable("a FeatureCollection needs a 'features' array")
        return features
    if kind == "Feature":
        return [doc]
    if isinstance(kind, str) and kind in GEOMETRY_TYPES:
        return [{"type": "Feature", "geometry": doc, "properties": None}]
    raise Unprocessable(
        f"type {kind!r} is not GeoJSON: send a Polygon, MultiPolygon, Feature or FeatureCollection"
    )


def _geometry(value: object, where: str) -> shapely.Geometry | None:
    """One GeoJSON geometry; ``None`` stays ``None`` (the review reports it as empty)."""
    if value is None:
        return None
    kind = value.get("type") if isinstance(value, dict) else None
    if not isinstance(kind, str) or kind not in GEOMETRY_TYPES:  # a list is unhashable
        raise InvalidGeometry(
            f"{where}: the geometry is not a GeoJSON geometry object; a polygon is "
            '{"type": "Polygon", "coordinates": [[[lon, lat], ...]]}'
        )
    try:
        geom = shapely.from_geojson(orjson.dumps(value))
    except (shapely.errors.GEOSException, ValueError, TypeError) as exc:
        raise InvalidGeometry(
            f"{where}: the geometry cannot be read ({exc}); a polygon's rings are lists of "
            "[lon, lat] positions, each ring closed (its last position equal to its first)"
        ) from None
    rings = shapely.get_rings(geom) if geom.geom_type in ("Polygon", "MultiPolygon") else []
    short = [r for r in rings if shapely.get_num_coordinates(r) < 4]
    if short:
        raise InvalidGeometry(
            f"{where}: a ring has {shapely.get_num_coordinates(short[0])} positions; a closed "
            "ring needs at least 4 (three corners and the first repeated)"
        )
    return geom


def _text(value: object) -> str | None:
    if value is None:
        return None
    text = str(value)
    return text if text.strip() else None
