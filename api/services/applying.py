"""An organisation's application as the pages take it: the parcel given by a drawing, an
uploaded file, a typed corner list (decimal degrees or DMS) or a size, each checked before
:meth:`api.services.allocation.AllocationService.apply` files it.

The checks here refuse, naming the form field, what the applicant must correct — an outline
that crosses itself, too many vertices, a corner that cannot be read, a parcel reaching out
of the chosen Land Conclusion — so that nothing is written for a mistyped form (the service
itself records every application it is given, eligible or not, with its reasons). A drawing
and a file are read by the parsers and under the caps of ``/check``
(:mod:`api.services.proposals`); a corner is read by :func:`layers.dms.parse_coordinate`.
"""

from __future__ import annotations

import re
from typing import Any, Final

import geopandas as gpd
import shapely

from api.services.errors import Unprocessable
from api.services.messages import both
from api.services.proposals import proposal_from_body, proposal_from_file
from api.settings import ApiSettings
from layers.dms import parse_coordinate
from layers.errors import GazarError
from layers.labels import Lang, message
from layers.schema import MONGOLIA_BOUNDS

__all__ = [
    "FormProblem",
    "check_parcel",
    "corners_polygon",
    "drawn_polygon",
    "file_polygon",
    "free_land_conclusions",
]

#: corner lines separate the longitude and the latitude with one of these
_SEPARATOR: Final = re.compile(r"\s*[;\t|]\s*")
#: a parcel drawn on the map may pass its Land Conclusion's edge by this much (degrees, ~1 m)
EDGE_TOLERANCE_DEG: Final = 1e-5


class FormProblem(Unprocessable):
    """A form value that must be corrected (422): the field it belongs to and the message of
    the catalogue's ``org_message`` group (or a message already written, ``said``)."""

    def __init__(self, field: str, code: str | None = None, *, said: str = "", **values: Any):
        self.field = field
        self.code = code
        self.values = values
        self.said = said
        super().__init__(both("org_message", code, **values) if code else said)

    def text(self, lang: Lang) -> str:
        """The message in ``lang``."""
        return message("org_message", self.code, lang, **self.values) if self.code else self.said


def free_land_conclusions(available: gpd.GeoDataFrame) -> list[dict[str, Any]]:
    """The Land Conclusions in force with free land (the ``available_land`` frame of
    :meth:`api.services.Services.available_land`), most free land first within each soum."""
    if available is None or len(available) == 0:
        return []
    rows = [
        {
            "id": str(r["id"]),
            "name": "" if r.get("name") is None else str(r.get("name")),
            "soum_code": "" if r.get("soum_code") is None else str(r.get("soum_code")),
            "available_ha": float(r["available_ha"]),
        }
        for r in available.drop(columns=available.geometry.name).to_dict("records")
        if float(r.get("available_ha") or 0) > 0.005
    ]
    return sorted(rows, key=lambda r: (r["soum_code"], -r["available_ha"], r["id"]))


def _one_polygon(frame: gpd.GeoDataFrame, field: str) -> shapely.Geometry:
    if len(frame) != 1:
        raise FormProblem(field, "one_polygon", count=len(frame))
    geom = frame.geometry.iloc[0]
    if geom is None or geom.geom_type not in ("Polygon", "MultiPolygon"):
        kind = "nothing" if geom is None else geom.geom_type
        raise FormProblem(field, "not_polygon", kind=kind)
    return geom


def drawn_polygon(text: str, *, settings: ApiSettings) -> shapely.Geometry:
    """The polygon drawn on the map (GeoJSON from Leaflet.draw), read as ``/check`` reads it."""
    if not text.strip():
        raise FormProblem("drawn", "nothing_drawn")
    try:
        frame = proposal_from_body(text.encode("utf-8"), settings=settings)
    except GazarError as exc:
        raise FormProblem("drawn", said=str(exc)) from None
    return _one_polygon(frame, "drawn")


def file_polygon(name: str, data: bytes, *, settings: ApiSettings) -> shapely.Geometry:
    """The polygon of an uploaded file, read by the parsers and under the caps of ``/check``
    (a file over a cap raises ``PayloadTooLarge``, 413, as there)."""
    if not name or not data:
        raise FormProblem("file", "no_file")
    try:
        frame, _ = proposal_from_file(name, data, settings=settings)
    except Unprocessable as exc:
        raise FormProblem("file", said=str(exc)) from None
    except GazarError as exc:
        if type(exc).__name__ in ("PayloadTooLarge", "ReadersBusy"):
            raise
        raise FormProblem("file", said=str(exc)) from None
    return _one_polygon(frame, "file")


def corners_polygon(text: str, *, max_corners: int) -> shapely.Geometry:
    """A polygon from corners typed one to a line, ``longitude; latitude`` (or the other way
    round: the two axes of Mongolia do not overlap), each in decimal degrees or DMS.

    Examples
    --------
    >>> corners_polygon("106 27 00 E; 47 30 00 N\\n106.46; 47.5\\n106.46; 47.51", max_corners=9)
    <POLYGON ((106.45 47.5, 106.46 47.5, 106.46 47.51, 106.45 47.5))>
    """
    lines = [(i, ln.strip()) for i, ln in enumerate(text.splitlines(), start=1) if ln.strip()]
    if not lines:
        raise FormProblem("corners", "corners_empty")
    if len(lines) > max_corners:
        raise FormProblem("corners", "corners_many", count=len(lines), limit=max_corners)
    x0, y0, x1, y1 = MONGOLIA_BOUNDS
    points: list[tuple[float, float]] = []
    for line, raw in lines:
        parts = _SEPARATOR.split(raw)
        if len(parts) != 2 and raw.count(",") == 1 and "." in raw:
            parts = [p.strip() for p in raw.split(",")]  # "106.45, 47.5"
        if len(parts) != 2 or not all(parts):
            raise FormProblem("corners", "corner_line", line=line)
        try:
            a, b = (parse_coordinate(p) for p in parts)
        except ValueError as exc:
            raise FormProblem("corners", "corner_value", line=line, why=str(exc)) from None
        lon, lat = (a, b) if x0 <= a <= x1 else (b, a)
        if not (x0 <= lon <= x1 and y0 <= lat <= y1):
            raise FormProblem("corners", "corner_outside", line=line)
        points.append((lon, lat))
    if len(points) > 1 and points[0] == points[-1]:
        points.pop()
    if len(set(points)) < 3:
        raise FormProblem("corners", "corners_few", count=len(set(points)))
    return shapely.Polygon(points)


def check_parcel(
    geom: shapely.Geometry,
    *,
    field: str,
    land_conclusion_id: str,
    land_conclusion: shapely.Geometry,
    max_vertices: int | None,
) -> shapely.Geometry:
    """Refuse an outline the applicant must correct: too many vertices, crossing itself,
    reaching out of the Land Conclusion. Returns it unchanged."""
    count = int(shapely.get_num_coordinates(geom))
    if max_vertices is not None and count > max_vertices:
        raise FormProblem(field, "too_many_vertices", count=f"{count:,}", limit=f"{max_vertices:,}")
    if not shapely.is_valid(geom):
        raise FormProblem(field, "self_intersecting", why=shapely.is_valid_reason(geom))
    if not land_conclusion.buffer(EDGE_TOLERANCE_DEG).covers(geom):
        raise FormProblem(field, "outside_lc", id=land_conclusion_id)
    return geom
