"""A review (``geo.review.review``) for the decision file: a PDF, and a sketch of the proposal.

The PDF is written by fpdf2 with the DejaVu Sans font (Cyrillic), which Debian ships in
``fonts-dejavu-core`` (``scripts/test`` installs it; ``GAZAR_PDF_FONT_DIR`` may name another
folder holding ``DejaVuSans.ttf`` and ``DejaVuSans-Bold.ttf``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

import geopandas as gpd
import numpy as np
import shapely

from geo.review_types import Review, verdict_label
from geo.rules import SEVERITY_LABELS
from layers.errors import GazarError
from layers.labels import Lang, label
from web.i18n import pick, text

FONT_DIRS: Final = (
    Path("/usr/share/fonts/truetype/dejavu"),
    Path("/usr/share/fonts/dejavu"),
    Path("/usr/local/share/fonts/dejavu"),
)


class FontMissing(GazarError):
    """No font with Cyrillic letters for the PDF."""


def font_files(extra: Path | None = None) -> tuple[Path, Path]:
    """DejaVu Sans regular and bold.

    Raises
    ------
    FontMissing
        Naming the folders searched and the Debian package to install.
    """
    dirs = ((extra,) if extra else ()) + FONT_DIRS
    for folder in dirs:
        regular, bold = folder / "DejaVuSans.ttf", folder / "DejaVuSans-Bold.ttf"
        if regular.is_file() and bold.is_file():
            return regular, bold
    raise FontMissing(
        "no DejaVu Sans font for the PDF (looked in "
        + ", ".join(str(d) for d in dirs)
        + "); install Debian's fonts-dejavu-core or set GAZAR_PDF_FONT_DIR"
    )


# ------------------------------------------------------------------------------ the sketch


def _rings(geom: Any) -> list[np.ndarray]:
    if geom is None or geom.is_empty:
        return []
    polys = getattr(geom, "geoms", [geom])
    out: list[np.ndarray] = []
    for p in polys:
        if p.geom_type != "Polygon":
            continue
        out.append(np.asarray(p.exterior.coords))
        out += [np.asarray(r.coords) for r in p.interiors]
    return out


class _Frame:
    """Lon/lat to a ``width`` x ``height`` box, north up, east-west distances kept to scale."""

    def __init__(self, geoms: list[Any], width: float, height: float, pad: float) -> None:
        x0, y0, x1, y1 = shapely.total_bounds(np.asarray(geoms, dtype=object))
        self.k = float(np.cos(np.radians((y0 + y1) / 2)))
        w, h = max((x1 - x0) * self.k, 1e-9), max(y1 - y0, 1e-9)
        self.scale = min((width - 2 * pad) / w, (height - 2 * pad) / h)
        self.x0, self.y1 = x0, y1
        self.dx = (width - w * self.scale) / 2
        self.dy = (height - h * self.scale) / 2

    def xy(self, coords: np.ndarray) -> np.ndarray:
        x = (coords[:, 0] - self.x0) * self.k * self.scale + self.dx
        y = (self.y1 - coords[:, 1]) * self.scale + self.dy
        return np.column_stack([x, y])


def review_sketch(
    proposal: gpd.GeoDataFrame, overlaps: gpd.GeoDataFrame, *, width: int = 640, height: int = 420
) -> str:
    """An SVG drawing of the proposal (black outline) and its overlaps (red), north up.

    Returns an empty string when there is nothing to draw.

    Examples
    --------
    >>> p = gpd.GeoDataFrame(geometry=[shapely.box(106, 47, 106.01, 47.01)], crs=4326)
    >>> svg = review_sketch(p, p.iloc[:0])
    >>> svg.startswith("<svg") and svg.count("<path") == 1
    True
    """
    shapes = [g for g in proposal.geometry if g is not None and not g.is_empty]
    if not shapes:
        return ""
    frame = _Frame(shapes, width, height, pad=16)

    def path(geom: Any, style: str) -> str:
        d = " ".join(
            "M " + " L ".join(f"{x:.1f} {y:.1f}" for x, y in frame.xy(ring)) + " Z"
            for ring in _rings(geom)
        )
        return f'<path d="{d}" {style} fill-rule="evenodd"/>' if d else ""

    parts = [path(g, 'fill="#ffff33" fill-opacity="0.3" stroke="#000" stroke-width="2"')
             for g in shapes]  # fmt: skip
    parts += [
        path(g, 'fill="#e31a1c" fill-opacity="0.7" stroke="#99000d" stroke-width="1"')
        for g in overlaps.geometry
        if g is not None and not g.is_empty
    ]
    parts += [path(g, 'fill="none" stroke="#000" stroke-width="2"') for g in shapes]
    body = "".join(parts)
    return (
        f'<svg class="sketch" xmlns="http://www.w3.org/2000/svg" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" role="img">{body}'
        f'<text x="{width - 20}" y="24" font-size="16" text-anchor="middle">N ↑</text></svg>'
    )


# ------------------------------------------------------------------------------ the PDF


def _ha(value: object) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "—"
    return f"{float(value):,.2f}".replace(",", " ")  # type: ignore[arg-type]


def review_pdf(
    result: Review,
    *,
    lang: Lang = "mn",
    overlaps: gpd.GeoDataFrame | None = None,
    font_dir: Path | None = None,
) -> bytes:
    """The review as an A4 PDF: verdict, areas, soums, findings and a sketch of the reviewed
    features (their kept geometries) with ``overlaps`` (``web.maps.review_overlaps``) in red;
    DejaVu Sans from ``font_dir`` (``GAZAR_PDF_FONT_DIR``) when given, else the system's fonts.

    Raises
    ------
    FontMissing
        When no Cyrillic font is installed.
    """
    from fpdf import FPDF
    from fpdf.fonts import FontFace

    regular, bold = font_files(font_dir)
    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_font("DejaVu", "", str(regular))
    pdf.add_font("DejaVu", "B", str(bold))
    pdf.set_title(text("report_title", lang))
    pdf.add_page()

    def line(value: str, *, size: float = 10, style: str = "", gap: float = 1.5) -> None:
        pdf.set_font("DejaVu", style, size)
        pdf.multi_cell(0, size * 0.5, value, new_x="LMARGIN", new_y="NEXT")
        pdf.ln(gap)

    line(f"{text('app', lang)} — {text('report_title', lang)}", size=16, style="B", gap=3)
    kind = text(f"kind_{result.kind}", lang)
    ids = ", ".join(str(f.id) for f in result.features)
    line(f"{text('report_date', lang)}: {result.today.isoformat()}")
    line(f"{text('report_kind', lang)}: {kind}")
    line(f"{text('report_features', lang)}: {ids}")
    verdict = result.verdict
    colour = {"clear": (26, 127, 55), "conflicts": (198, 40, 40)}.get(verdict, (109, 76, 65))
    pdf.set_text_color(*colour)
    line(f"{text('verdict', lang)}: {pick(verdict_label(verdict), lang)}", size=14, style="B")
    pdf.set_text_color(0, 0, 0)
    line(
        f"{text('official_ha', lang)}: {_ha(result.area.official_ha)}    "
        f"{text('geodesic_ha', lang)}: {_ha(result.area.geodesic_ha)}"
    )
    if result.proposing_soum:
        line(
            f"{text('outside_soum', lang)} ({result.proposing_soum}): {_ha(result.outside_soum_ha)}"
        )
    grey = FontFace(emphasis="BOLD", fill_color=(238, 242, 246))
    if result.soums:
        line(text("soums_touched", lang), size=12, style="B")
        pdf.set_font("DejaVu", "", 9)
        with pdf.table(col_widths=(20, 50, 20, 15), headings_style=grey, line_height=5) as table:
            table.row([text("field_soum_code", lang), text("field_name", lang),
                       text("field_overlap_ha", lang), text("share", lang)])  # fmt: skip
            for s in result.soums:
                named = s.name_en if lang == "en" else s.name_mn
                name = named or s.name_en or s.name_mn or ""
                share = s.share
                table.row([str(s.soum_code), str(name), _ha(s.overlap_ha),
                           "—" if share is None else f"{100 * share:.1f} %"])  # fmt: skip
        pdf.ln(3)
    findings = result.findings
    line(f"{text('findings', lang)} ({len(findings)})", size=12, style="B")
    if findings:
        pdf.set_font("DejaVu", "", 8)
        with pdf.table(
            col_widths=(16, 24, 22, 24, 14, 60), headings_style=grey, line_height=4.2
        ) as table:
            table.row([text("field_severity", lang), text("field_rule", lang),
                       text("field_layer", lang), text("field_id", lang),
                       text("field_overlap_ha", lang), text("field_message", lang)])  # fmt: skip
            for f in findings:
                sev = SEVERITY_LABELS.get(f.severity, ("", ""))
                table.row(
                    [
                        pick(sev, lang),
                        pick((f.title_mn, f.title_en), lang) or f.code,
                        label("layer", f.layer, lang) if f.layer else "",
                        f.id or "",
                        _ha(f.overlap_ha),
                        pick((f.message_mn, f.message_en), lang) or "",
                    ]
                )
    else:
        line(text("no_findings", lang))
    notes = {
        "repairs": [f"{x.feature_id}: {x.reason}" for x in result.repairs],
        "problems": [
            f"#{p.index} ({p.id}): {pick((p.reason_mn, p.reason_en), lang)}"
            for p in result.problems
        ],
    }
    for key, items in notes.items():
        if items:
            pdf.ln(2)
            line(text(key, lang), size=12, style="B")
            for item in items:
                line("• " + item, size=9, gap=0.5)
    shapes = [f.geometry for f in result.features]
    _sketch(pdf, shapes, overlaps)
    return bytes(pdf.output())


def _sketch(pdf: Any, features: list[Any], overlaps: gpd.GeoDataFrame | None) -> None:
    shapes = [g for g in features if g is not None and not g.is_empty]
    if not shapes:
        return
    width, height = 180.0, 110.0
    if pdf.get_y() + height + 10 > pdf.h - pdf.b_margin:
        pdf.add_page()
    top, left = pdf.get_y() + 4, pdf.l_margin
    frame = _Frame(shapes, width, height, pad=6)
    pdf.set_draw_color(160, 160, 160)
    pdf.rect(left, top, width, height)

    def draw(geom: Any, fill: tuple[int, int, int], stroke: tuple[int, int, int]) -> None:
        pdf.set_fill_color(*fill)
        pdf.set_draw_color(*stroke)
        for ring in _rings(geom):
            pts = [(left + x, top + y) for x, y in frame.xy(ring)]
            pdf.polygon(pts, style="DF")

    for g in shapes:
        draw(g, (255, 255, 180), (0, 0, 0))
    if overlaps is not None:
        for g in overlaps.geometry:
            if g is not None and not g.is_empty:
                draw(g, (227, 26, 28), (153, 0, 13))
    for g in shapes:  # the proposal's outline above its overlaps
        pdf.set_draw_color(0, 0, 0)
        for ring in _rings(g):
            pdf.polygon([(left + x, top + y) for x, y in frame.xy(ring)], style="D")
    pdf.set_y(top + height + 2)
    pdf.set_font("DejaVu", "", 8)
    pdf.cell(0, 4, "N ↑", new_x="LMARGIN", new_y="NEXT")


__all__ = ["FontMissing", "font_files", "review_pdf", "review_sketch"]
