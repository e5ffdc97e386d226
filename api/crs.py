"""OGC API – Features Part 2: the coordinate reference systems the API reads and writes.

The store keeps lon/lat on WGS84 (EPSG:4326 with GeoJSON's axis order), which OGC names
``CRS84``. A client may ask for features (``crs``) or give a bounding box (``bbox-crs``) in

* ``CRS84`` — longitude, latitude (the default, as GeoJSON has it);
* ``EPSG:4326`` — the same datum with the axes as EPSG defines them: **latitude first**;
* WGS84 UTM zones 45N–50N (EPSG:32645–32650, easting and northing in metres), the zones
  Mongolia spans and in which the cadastre measures.

A CRS is named by its OGC URI (``http://www.opengis.net/def/crs/EPSG/0/32648``) or a safe
CURIE (``[EPSG:32648]``, ``[OGC:CRS84]``). ``Content-Crs`` headers carry the URI in angle
brackets.
"""

from __future__ import annotations

import threading
from typing import Final

import numpy as np
import numpy.typing as npt
import shapely
from pyproj import Transformer

from api.errors import BadRequest

CRS84: Final = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
EPSG_4326: Final = "http://www.opengis.net/def/crs/EPSG/0/4326"
#: WGS84 UTM zones 45N-50N, the zones Mongolia spans.
UTM_EPSG: Final = tuple(range(32645, 32651))

#: Every CRS the API reads and writes, CRS84 first (the default and the storage CRS).
SUPPORTED: Final[tuple[str, ...]] = (
    CRS84,
    EPSG_4326,
    *(f"http://www.opengis.net/def/crs/EPSG/0/{code}" for code in UTM_EPSG),
)
#: The CRS features are stored in (lon/lat on WGS84).
STORAGE_CRS: Final = CRS84

_CURIES: Final[dict[str, str]] = {
    "[OGC:CRS84]": CRS84,
    "[EPSG:4326]": EPSG_4326,
    **{f"[EPSG:{code}]": f"http://www.opengis.net/def/crs/EPSG/0/{code}" for code in UTM_EPSG},
}

_local = threading.local()


def parse_crs(value: str | None, *, parameter: str) -> str:
    """The URI of the CRS a query parameter names (``CRS84`` when it names none).

    Raises
    ------
    BadRequest
        For a CRS the API does not support, listing those it does.

    Examples
    --------
    >>> parse_crs("[EPSG:32648]", parameter="crs")
    'http://www.opengis.net/def/crs/EPSG/0/32648'
    """
    if value is None or value == "":
        return CRS84
    text = value.strip()
    uri = _CURIES.get(text.upper(), text)
    if uri.startswith("https://"):
        uri = "http://" + uri[len("https://") :]
    if uri not in SUPPORTED:
        raise BadRequest(
            f"{parameter}={value!r} is not a supported coordinate reference system; "
            f"use one of: {', '.join(SUPPORTED)}"
        )
    return uri


def content_crs(uri: str) -> str:
    """The ``Content-Crs`` header value of a CRS URI (the URI in angle brackets)."""
    return f"<{uri}>"


def _epsg(uri: str) -> int:
    return int(uri.rsplit("/", 1)[1])


def _transformer(epsg: int, *, inverse: bool) -> Transformer:
    """lon/lat -> ``epsg`` (or back) for the calling thread (pyproj's are not shared)."""
    cache: dict[tuple[int, bool], Transformer] | None = getattr(_local, "transformers", None)
    if cache is None:
        cache = _local.transformers = {}
    key = (epsg, inverse)
    if key not in cache:
        src, dst = (epsg, 4326) if inverse else (4326, epsg)
        cache[key] = Transformer.from_crs(src, dst, always_xy=True)
    return cache[key]


def _swap(coords: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    return coords[:, ::-1].copy()


def to_crs(geoms: npt.NDArray[np.object_], uri: str) -> npt.NDArray[np.object_]:
    """Store geometries (lon/lat) in the CRS ``uri`` with that CRS's axis order.

    Missing geometries stay missing; the input array is not changed.

    Examples
    --------
    >>> out = to_crs(np.array([shapely.Point(106.5, 48.8)]), EPSG_4326)
    >>> shapely.get_coordinates(out).tolist()
    [[48.8, 106.5]]
    """
    if uri == CRS84:
        return geoms
    if uri == EPSG_4326:
        return np.asarray(shapely.transform(geoms, _swap), dtype=object)
    fwd = _transformer(_epsg(uri), inverse=False)

    def project(coords: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        x, y = fwd.transform(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    return np.asarray(shapely.transform(geoms, project), dtype=object)


def bbox_to_crs84(
    bbox: tuple[float, float, float, float], uri: str
) -> tuple[float, float, float, float]:
    """A bounding box given in the CRS ``uri`` (its axis order) as lon/lat bounds.

    A projected box is densified along its edges, so the lon/lat box covers it entirely.

    Examples
    --------
    >>> bbox_to_crs84((48.0, 106.0, 49.0, 107.0), EPSG_4326)
    (106.0, 48.0, 107.0, 49.0)
    """
    if uri == CRS84:
        return bbox
    if uri == EPSG_4326:
        return (bbox[1], bbox[0], bbox[3], bbox[2])
    minx, miny, maxx, maxy = _transformer(_epsg(uri), inverse=True).transform_bounds(
        *bbox, densify_pts=21
    )
    return (float(minx), float(miny), float(maxx), float(maxy))
