"""The map of a printed document: the subject (a proposal, a parcel, a Land Conclusion) with the
soum outline, the neighbouring features, a legend, a scale bar and a north arrow, all inside
the frame; a locator inset shows the whole soum.

Everything is drawn from the geometries projected to the WGS84 UTM zone of the subject's
centroid (``../shared/domain.md``: zone = floor((lon + 180) / 6) + 1), so the scale bar
measures metres on the map as the official hectares are measured. The geometries are
projected and clipped to the frame in bulk (``shapely.transform``, ``shapely.clip_by_rect``);
the same :class:`DocMap` is written as an inline SVG (:func:`map_svg`, the HTML document) and
drawn with fpdf2 (:func:`draw_map`, the PDF).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from html import escape
from typing import Any, Final

import geopandas as gpd
import numpy as np
import pyproj
import shapely

from layers.labels import Lang, label
from web.i18n import text

RGB = tuple[int, int, int]


@dataclass(frozen=True)
class Style:
    """How a layer is drawn: fill (None: none), its opacity, stroke, width (mm), dashes."""

    fill: RGB | None
    stroke: RGB
    width: float = 0.3
    opacity: float = 0.35
    dash: bool = False


#: The layers a document map draws, bottom to top, with their style (the web maps' colours).
STYLES: Final[dict[str, Style]] = {
    "soums": Style(None, (85, 85, 85), 0.5, dash=True),
    "exclusions": Style((27, 120, 55), (0, 68, 27), 0.25, 0.25),
    "licences": Style((197, 27, 125), (197, 27, 125), 0.25, 0.18),
    "land_conclusions": Style((33, 102, 172), (33, 102, 172), 0.4, 0.08),
    "rehab_zones": Style((140, 81, 10), (140, 81, 10), 0.25, 0.45),
    "contract_parcels": Style((230, 97, 1), (179, 88, 6), 0.25, 0.45),
    "overlap": Style((227, 26, 28), (153, 0, 13), 0.25, 0.75),
    "subject": Style((255, 255, 51), (0, 0, 0), 0.6, 0.35),
}

#: The layers read from the store for a map, in drawing order.
NEIGHBOUR_LAYERS: Final = ("exclusions", "licences", "land_conclusions", "rehab_zones",
                           "contract_parcels")  # fmt: skip


def utm_crs(geoms: Sequence[Any]) -> tuple[int, pyproj.CRS]:
    """The UTM zone (north) of the centroid of ``geoms`` and its CRS (EPSG:326zz)."""
    union = shapely.union_all(np.asarray(geoms, dtype=object))
    lon = float(union.centroid.x)
    zone = int(math.floor((lon + 180) / 6) + 1)
    return zone, pyproj.CRS.from_epsg(32600 + zone)


@dataclass(frozen=True)
class DrawnLayer:
    """One layer of the map: the fills (polygons) and strokes (lines) in UTM metres."""

    key: str
    style: Style
    fills: tuple[Any, ...]
    strokes: tuple[Any, ...]


@dataclass(frozen=True)
class DocMap:
    """A document map in UTM metres: ``bounds`` (x0, y0, x1, y1) of the frame, the layers,
    the inset (the soum's outline and the subject's centre, in the inset's own bounds), the
    scale bar length (m) and the north arrow's angle from grid north (degrees, clockwise)."""

    zone: int
    bounds: tuple[float, float, float, float]
    layers: tuple[DrawnLayer, ...]
    scale_m: float
    north_deg: float
    inset_bounds: tuple[float, float, float, float] | None = None
    inset_lines: tuple[Any, ...] = ()
    inset_mark: tuple[float, float] | None = None
    legend: tuple[tuple[str, str], ...] = field(default=())
    #: the soums the inset shows, by name
    inset_title: str = ""


def document_map(
    subject: Sequence[Any],
    frames: Mapping[str, gpd.GeoDataFrame],
    *,
    lang: Lang,
    soum_codes: Sequence[str] = (),
    overlaps: Sequence[Any] = (),
    skip: Mapping[str, Sequence[str]] | None = None,
    aspect: float = 0.62,
) -> DocMap | None:
    """The map around ``subject`` (lon/lat geometries), None when there is nothing to draw.

    ``frames`` are the store's layers (EPSG:4326); ``soum_codes`` the soums whose outline is
    drawn bold and shown whole in the inset (default: those the subject touches);
    ``overlaps`` the shared areas drawn red; ``skip`` ids per layer not drawn as neighbours
    (the subject itself when it is stored). ``aspect`` is the frame's height / width.
    """
    shapes = [g for g in subject if g is not None and not g.is_empty]
    if not shapes:
        return None
    zone, crs = utm_crs(shapes)
    to_utm = pyproj.Transformer.from_crs(4326, crs, always_xy=True)

    def project(geoms: Any) -> Any:
        return shapely.transform(
            np.asarray(geoms, dtype=object),
            lambda c: np.column_stack(to_utm.transform(c[:, 0], c[:, 1])),
        )

    mine = project(shapes)
    x0, y0, x1, y1 = shapely.total_bounds(mine)
    size = max(x1 - x0, y1 - y0, 1.0)
    pad = max(0.45 * size, 250.0)
    cx, cy, w = (x0 + x1) / 2, (y0 + y1) / 2, (x1 - x0) + 2 * pad
    h = max((y1 - y0) + 2 * pad, w * aspect)
    w = max(w, h / aspect)
    box = (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)
    # the neighbours: features whose bounding box meets the frame (one bulk query per layer)
    lon_box = shapely.box(*to_utm.transform_bounds(*box, direction="INVERSE"))
    drawn: list[DrawnLayer] = []
    legend: list[tuple[str, str]] = []
    soums = frames.get("soums")
    touched: list[str] = list(soum_codes)
    if soums is not None and len(soums):
        hits = soums.sindex.query(lon_box, predicate="intersects")
        near = soums.iloc[hits]
        if not touched:
            at = near.sindex.query(np.asarray(shapes, dtype=object), predicate="intersects")[1]
            touched = near.iloc[np.unique(at)]["id"].astype(str).tolist()
        if len(near):
            lines = shapely.clip_by_rect(shapely.boundary(project(near.geometry.array)), *box)
            layer = _layer("soums", (), lines)
            if layer.strokes:
                drawn.append(layer)
                legend.append(("soums", label("layer", "soums", lang)))
    skip = skip or {}
    for name in NEIGHBOUR_LAYERS:
        frame = frames.get(name)
        if frame is None or not len(frame):
            continue
        near = frame.iloc[frame.sindex.query(lon_box, predicate="intersects")]
        if name in skip:
            near = near[~near["id"].astype(str).isin(list(skip[name]))]
        if not len(near):
            continue
        geoms = project(near.geometry.array)
        fills = shapely.clip_by_rect(geoms, *box)
        lines = shapely.clip_by_rect(shapely.boundary(geoms), *box)
        drawn.append(_layer(name, fills, lines))
        legend.append((name, label("layer", name, lang)))
    drawn.append(_layer("subject", mine, ()))  # its fill under the overlaps, its outline on top
    if len(overlaps):
        shared = project([g for g in overlaps if g is not None and not g.is_empty])
        drawn.append(_layer("overlap", shared, shapely.boundary(shared)))
        legend.append(("overlap", text("doc_map_overlap", lang)))
    drawn.append(_layer("subject", (), shapely.boundary(mine)))
    legend.append(("subject", text("doc_map_subject", lang)))
    inset = _inset(frames, touched, project, (cx, cy))
    title = _soum_names(frames, touched, lang)
    return DocMap(
        zone=zone,
        bounds=box,
        layers=tuple(drawn),
        scale_m=_nice(w / 4),
        north_deg=_convergence(to_utm, cx, cy),
        inset_bounds=inset[0],
        inset_lines=inset[1],
        inset_mark=inset[2],
        inset_title=title,
        legend=tuple(reversed(legend)),
    )


def _layer(key: str, fills: Any, strokes: Any) -> DrawnLayer:
    keep = [g for g in np.asarray(fills, dtype=object) if g is not None and not g.is_empty]
    lines = [g for g in np.asarray(strokes, dtype=object) if g is not None and not g.is_empty]
    return DrawnLayer(key, STYLES[key], tuple(keep), tuple(lines))


def _inset(
    frames: Mapping[str, gpd.GeoDataFrame],
    codes: Sequence[str],
    project: Any,
    centre: tuple[float, float],
) -> tuple[tuple[float, float, float, float] | None, tuple[Any, ...], tuple[float, float] | None]:
    soums = frames.get("soums")
    if soums is None or not codes:
        return None, (), None
    chosen = soums[soums["id"].astype(str).isin(list(codes))]
    if not len(chosen):
        return None, (), None
    lines = shapely.boundary(project(chosen.geometry.array))
    x0, y0, x1, y1 = shapely.total_bounds(lines)
    x0, x1 = min(x0, centre[0]), max(x1, centre[0])
    y0, y1 = min(y0, centre[1]), max(y1, centre[1])
    return (float(x0), float(y0), float(x1), float(y1)), tuple(lines), centre


def _soum_names(frames: Mapping[str, gpd.GeoDataFrame], codes: Sequence[str], lang: Lang) -> str:
    soums = frames.get("soums")
    if soums is None or not codes:
        return ""
    chosen = soums[soums["id"].astype(str).isin(list(codes))]
    column = "name_mn" if lang == "mn" and "name_mn" in chosen else "name_en"
    names = [str(n) if isinstance(n, str) and n else str(c)
             for n, c in zip(chosen[column], chosen["id"], strict=True)]  # fmt: skip
    return ", ".join(names)


def _nice(length: float) -> float:
    """A round length (1, 2 or 5 times a power of ten) at most ``length``."""
    power = 10 ** math.floor(math.log10(max(length, 1e-9)))
    return float(max(s * power for s in (1, 2, 5) if s * power <= length))


def _convergence(to_utm: pyproj.Transformer, x: float, y: float) -> float:
    """True north's angle from the grid's north at (x, y), degrees clockwise."""
    lon, lat = to_utm.transform(x, y, direction="INVERSE")
    x2, y2 = to_utm.transform(lon, lat + 0.01)
    return math.degrees(math.atan2(x2 - x, y2 - y))


def scale_text(metres: float) -> str:
    """``500 m`` or ``2 km``."""
    return f"{metres / 1000:g} km" if metres >= 1000 else f"{metres:g} m"


# --------------------------------------------------------------------------- the viewport


class Viewport:
    """UTM metres to a ``width`` x ``height`` box (y down) whose corner is (left, top)."""

    def __init__(self, bounds: tuple[float, float, float, float], left: float, top: float,
                 width: float, height: float) -> None:  # fmt: skip
        x0, y0, x1, y1 = bounds
        self.k = min(width / max(x1 - x0, 1e-9), height / max(y1 - y0, 1e-9))
        self.x0 = x0 - (width / self.k - (x1 - x0)) / 2
        self.y1 = y1 + (height / self.k - (y1 - y0)) / 2
        self.left, self.top = left, top

    def xy(self, coords: np.ndarray) -> np.ndarray:
        return np.column_stack(
            [self.left + (coords[:, 0] - self.x0) * self.k,
             self.top + (self.y1 - coords[:, 1]) * self.k]
        )  # fmt: skip


def rings(geom: Any) -> list[np.ndarray]:
    """The rings of a polygonal geometry's polygons (exterior, then holes)."""
    out: list[np.ndarray] = []
    for p in getattr(geom, "geoms", [geom]):
        if p.geom_type == "Polygon":
            out.append(np.asarray(p.exterior.coords))
            out += [np.asarray(r.coords) for r in p.interiors]
        elif p.geom_type in ("MultiPolygon", "GeometryCollection"):
            out += rings(p)
    return out


def lines(geom: Any) -> list[np.ndarray]:
    """The coordinate runs of a line geometry's parts."""
    out: list[np.ndarray] = []
    for p in getattr(geom, "geoms", [geom]):
        if p.geom_type in ("LineString", "LinearRing"):
            out.append(np.asarray(p.coords))
        elif hasattr(p, "geoms"):
            out += lines(p)
    return out


# ------------------------------------------------------------------------------------ SVG


def _hex(rgb: RGB) -> str:
    return "#{:02x}{:02x}{:02x}".format(*rgb)


def _d(runs: list[np.ndarray], view: Viewport, close: bool) -> str:
    end = " Z" if close else ""
    return " ".join(
        "M " + " L ".join(f"{x:.1f} {y:.1f}" for x, y in view.xy(run)) + end
        for run in runs
        if len(run) >= 2
    )


def map_svg(doc: DocMap, *, lang: Lang, width: int = 720, height: int = 446) -> str:
    """The map as an inline SVG (escaped text only), frame, legend, scale bar and north arrow
    inside it."""
    view = Viewport(doc.bounds, 0, 0, width, height)
    parts: list[str] = [
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="#fbfaf5" stroke="none"/>'
    ]
    for layer in doc.layers:
        s = layer.style
        cls = f'class="map-{layer.key}"'
        if s.fill is not None:
            d = " ".join(_d(rings(g), view, True) for g in layer.fills)
            if d.strip():
                parts.append(
                    f'<path {cls} d="{d}" fill="{_hex(s.fill)}" '
                    f'fill-opacity="{s.opacity}" fill-rule="evenodd" stroke="none"/>'
                )
        d = " ".join(_d(lines(g), view, False) for g in layer.strokes)
        if d.strip():
            dash = ' stroke-dasharray="6 4"' if s.dash else ""
            parts.append(f'<path {cls} d="{d}" fill="none" stroke="{_hex(s.stroke)}" '
                         f'stroke-width="{s.width * 3:.1f}"{dash}/>')  # fmt: skip
    parts.append(_svg_inset(doc, width))
    parts.append(_svg_furniture(doc, view, width, height, lang))
    parts.append(f'<rect x="0.5" y="0.5" width="{width - 1}" height="{height - 1}" '
                 'fill="none" stroke="#333" stroke-width="1"/>')  # fmt: skip
    body = "".join(parts)
    title = escape(text("doc_map", lang))
    return (
        f'<svg class="doc-map" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}"'
        f' width="{width}" height="{height}" role="img" aria-label="{title}">{body}</svg>'
    )


def _svg_inset(doc: DocMap, width: int) -> str:
    if doc.inset_bounds is None:
        return ""
    size = 110
    left, top = width - size - 8, 8
    view = Viewport(doc.inset_bounds, left + 6, top + 6, size - 12, size - 12)
    d = " ".join(_d(lines(g), view, False) for g in doc.inset_lines)
    out = [f'<g class="map-inset"><rect x="{left}" y="{top}" width="{size}" height="{size}" '
           'fill="#fff" stroke="#333" stroke-width="0.8"/>',
           f'<path d="{d}" fill="none" stroke="#555" stroke-width="1"/>']  # fmt: skip
    if doc.inset_mark is not None:
        [[mx, my]] = view.xy(np.array([doc.inset_mark]))
        out.append(f'<circle cx="{mx:.1f}" cy="{my:.1f}" r="3.5" fill="#e31a1c" stroke="#000"/>')
    if doc.inset_title:
        out.append(
            f'<text x="{left + size / 2}" y="{top + size + 12}" font-size="10" '
            f'text-anchor="middle">{escape(doc.inset_title)}</text>'
        )
    out.append("</g>")
    return "".join(out)


def _svg_furniture(doc: DocMap, view: Viewport, width: int, height: int, lang: Lang) -> str:
    out: list[str] = []
    # the legend, bottom left
    rows = doc.legend
    lh, lw = 16, 190
    top = height - 10 - lh * len(rows) - 8
    out.append(f'<g class="map-legend"><rect x="8" y="{top}" width="{lw}" '
               f'height="{lh * len(rows) + 8}" fill="#fff" fill-opacity="0.9" stroke="#333" '
               'stroke-width="0.6"/>')  # fmt: skip
    for i, (key, name) in enumerate(rows):
        s = STYLES[key]
        y = top + 6 + i * lh
        fill = _hex(s.fill) if s.fill else "none"
        dash = ' stroke-dasharray="4 2"' if s.dash else ""
        out.append(
            f'<rect x="14" y="{y}" width="18" height="10" fill="{fill}" '
            f'fill-opacity="{min(s.opacity + 0.2, 1):.2f}" stroke="{_hex(s.stroke)}"'
            f'{dash}/><text x="38" y="{y + 9}" font-size="11">{escape(name)}</text>'
        )
    out.append("</g>")
    # the scale bar, bottom right
    length = doc.scale_m * view.k
    x1, y = width - 16, height - 16
    x0 = x1 - length
    half = (x0 + x1) / 2
    out.append(
        f'<g class="map-scale"><rect x="{x0 - 6:.1f}" y="{y - 20}" width="{length + 12:.1f}" '
        'height="28" fill="#fff" fill-opacity="0.9"/>'
        f'<rect x="{x0:.1f}" y="{y - 4}" width="{length / 2:.1f}" height="4" fill="#000"/>'
        f'<rect x="{half:.1f}" y="{y - 4}" width="{length / 2:.1f}" height="4" fill="#fff" '
        'stroke="#000" stroke-width="0.8"/>'
        f'<text x="{x0:.1f}" y="{y - 7}" font-size="10">0</text>'
        f'<text x="{x1:.1f}" y="{y - 7}" font-size="10" text-anchor="end">'
        f"{scale_text(doc.scale_m)}</text></g>"
    )
    # the north arrow, under the inset
    ax, ay = width - 63, 172
    out.append(
        f'<g class="map-north" transform="rotate({doc.north_deg:.2f} {ax} {ay})">'
        f'<path d="M {ax} {ay - 22} L {ax + 8} {ay + 8} L {ax} {ay + 2} L {ax - 8} {ay + 8} Z" '
        'fill="#000"/>'
        f'<text x="{ax}" y="{ay - 26}" font-size="13" font-weight="bold" '
        f'text-anchor="middle">{escape(text("doc_north", lang))}</text></g>'
    )
    out.append(f'<text x="{width / 2:.0f}" y="{height - 6}" font-size="9" text-anchor="middle" '
               f'fill="#555">WGS 84 / UTM {doc.zone}N (EPSG:326{doc.zone})</text>')  # fmt: skip
    return "".join(out)


__all__ = [
    "STYLES",
    "DocMap",
    "Style",
    "Viewport",
    "document_map",
    "lines",
    "map_svg",
    "rings",
    "scale_text",
    "utm_crs",
]
