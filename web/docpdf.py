"""A :class:`web.document.Document` as an A4 PDF (fpdf2): the same facts, tables and map as the
HTML page, the map drawn from the UTM geometries (:mod:`web.docmap`) with its legend, scale
bar and north arrow inside the frame, and "page / pages" at the foot of every page.

The font is DejaVu Sans (Cyrillic), from Debian's ``fonts-dejavu-core`` or the folder
``GAZAR_PDF_FONT_DIR`` names (:func:`web.report.font_files`).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from web.docmap import STYLES, DocMap, Viewport, lines, rings, scale_text
from web.document import Document
from web.fonts import font_files
from web.i18n import text


def document_pdf(doc: Document, *, font_dir: Path | None = None) -> bytes:
    """The document as PDF bytes (``%PDF-``...), its pages numbered "n / N".

    Raises
    ------
    web.fonts.FontMissing
        When no Cyrillic font is installed.
    """
    from fpdf import FPDF
    from fpdf.fonts import FontFace

    regular, bold = font_files(font_dir)
    foot = f"{text('app', doc.lang)} · {doc.file_stem}"

    class _Pdf(FPDF):  # type: ignore[misc]
        def footer(self) -> None:
            self.set_y(-12)
            self.set_font("DejaVu", "", 8)
            self.set_text_color(90, 90, 90)
            self.cell(0, 5, foot, align="L")
            self.set_x(self.l_margin)
            self.cell(0, 5, f"{self.page_no()} / {{nb}}", align="R")
            self.set_text_color(0, 0, 0)

    pdf = _Pdf(format="A4")
    pdf.alias_nb_pages()
    pdf.set_auto_page_break(auto=True, margin=16)
    pdf.add_font("DejaVu", "", str(regular))
    pdf.add_font("DejaVu", "B", str(bold))
    pdf.set_title(f"{doc.title} · {doc.subject}")
    pdf.set_creator(text("app", doc.lang))
    pdf.add_page()

    def line(value: str, *, size: float = 10, style: str = "", gap: float = 1.5) -> None:
        pdf.set_font("DejaVu", style, size)
        pdf.multi_cell(0, size * 0.5, value, new_x="LMARGIN", new_y="NEXT")
        pdf.ln(gap)

    grey = FontFace(emphasis="BOLD", fill_color=(238, 242, 246))
    line(f"{text('app', doc.lang)} — {doc.title}", size=15, style="B", gap=1)
    line(doc.subject, size=11, style="B", gap=2)
    _facts(pdf, doc.facts, grey)
    if doc.map is not None:
        line(text("doc_map", doc.lang), size=12, style="B", gap=1)
        width = pdf.w - pdf.l_margin - pdf.r_margin
        height = width * 0.62
        if pdf.get_y() + height > pdf.h - pdf.b_margin:
            pdf.add_page()
        draw_map(pdf, doc.map, pdf.l_margin, pdf.get_y(), width, height, lang=doc.lang)
        pdf.set_y(pdf.get_y() + height + 3)
    for table in doc.tables:
        count = f" ({len(table.rows)})" if table.rows else ""
        line(table.heading + count, size=12, style="B", gap=1)
        if not table.rows:
            line(table.empty or "—", size=9)
            continue
        pdf.set_font("DejaVu", "", 7.5 if len(table.columns) > 5 else 8.5)
        widths = table.widths or tuple(1.0 for _ in table.columns)
        aligns = tuple("RIGHT" if i in table.numeric else "LEFT" for i in range(len(widths)))
        with pdf.table(col_widths=widths, headings_style=grey, line_height=4.2,
                       text_align=aligns) as t:  # fmt: skip
            t.row(list(table.columns))
            for row in table.rows:
                t.row(list(row))
        pdf.ln(2)
    for note in doc.notes:
        line("• " + note, size=9, gap=0.5)
    pdf.ln(3)
    _facts(
        pdf,
        (
            (doc.signed_label, doc.signed_by),
            (text("doc_when", doc.lang), doc.signed_at),
            (text("doc_revision", doc.lang), doc.revision),
            (
                text("doc_log_head", doc.lang),
                f"{doc.head_seq} · {doc.head_hash}" if doc.head_hash else "—",
            ),
        ),
        grey,
    )
    return bytes(pdf.output())


def _facts(pdf: Any, facts: Any, grey: Any) -> None:
    pdf.set_font("DejaVu", "", 9)
    with pdf.table(col_widths=(34, 66), first_row_as_headings=False, line_height=5) as t:
        for name, value in facts:
            row = t.row()
            row.cell(str(name), style=grey)
            row.cell(str(value))
    pdf.ln(2)


def draw_map(
    pdf: Any, doc: DocMap, left: float, top: float, width: float, height: float, *, lang: Any
) -> None:
    """``doc`` in the box (mm): layers clipped to the frame, inset, legend, scale bar, north."""
    view = Viewport(doc.bounds, left, top, width, height)
    with pdf.rect_clip(left, top, width, height):
        pdf.set_fill_color(251, 250, 245)
        pdf.rect(left, top, width, height, style="F")
        for layer in doc.layers:
            s = layer.style
            if s.fill is not None:
                with pdf.local_context(fill_opacity=s.opacity):
                    pdf.set_fill_color(*s.fill)
                    for g in layer.fills:
                        for ring in rings(g):
                            pdf.polygon([tuple(p) for p in view.xy(ring)], style="F")
            pdf.set_draw_color(*s.stroke)
            pdf.set_line_width(s.width)
            if s.dash:
                pdf.set_dash_pattern(dash=1.6, gap=1.0)
            for g in layer.strokes:
                for run in lines(g):
                    if len(run) >= 2:
                        pdf.polyline([tuple(p) for p in view.xy(run)])
            pdf.set_dash_pattern()
        _inset(pdf, doc, left + width - 32, top + 2, 30)
        _legend(pdf, doc, left + 2, top + height - 2)
        _scale(pdf, doc, view, left + width - 4, top + height - 5)
        _north(pdf, doc, left + width - 17, top + 48, lang)
        pdf.set_font("DejaVu", "", 6)
        pdf.set_text_color(85, 85, 85)
        pdf.set_xy(left, top + height - 4)
        pdf.cell(width, 3, f"WGS 84 / UTM {doc.zone}N (EPSG:326{doc.zone})", align="C")
        pdf.set_text_color(0, 0, 0)
    pdf.set_draw_color(51, 51, 51)
    pdf.set_line_width(0.3)
    pdf.rect(left, top, width, height)


def _inset(pdf: Any, doc: DocMap, left: float, top: float, size: float) -> None:
    if doc.inset_bounds is None:
        return
    pdf.set_fill_color(255, 255, 255)
    pdf.set_draw_color(51, 51, 51)
    pdf.set_line_width(0.2)
    pdf.rect(left, top, size, size, style="DF")
    view = Viewport(doc.inset_bounds, left + 2, top + 2, size - 4, size - 4)
    pdf.set_draw_color(85, 85, 85)
    for g in doc.inset_lines:
        for run in lines(g):
            if len(run) >= 2:
                pdf.polyline([tuple(p) for p in view.xy(run)])
    if doc.inset_mark is not None:
        [[x, y]] = view.xy(np.array([doc.inset_mark]))
        pdf.set_fill_color(227, 26, 28)
        pdf.set_draw_color(0, 0, 0)
        pdf.circle(x, y, 1.2, style="DF")
    if doc.inset_title:
        pdf.set_font("DejaVu", "", 6.5)
        pdf.set_xy(left, top + size + 0.5)
        pdf.cell(size, 3, doc.inset_title, align="C")


def _legend(pdf: Any, doc: DocMap, left: float, bottom: float) -> None:
    rows = doc.legend
    lh = 4.2
    top = bottom - lh * len(rows) - 2
    pdf.set_font("DejaVu", "", 7)
    width = 4 + 8 + max(pdf.get_string_width(name) for _, name in rows) + 3
    with pdf.local_context(fill_opacity=0.9):
        pdf.set_fill_color(255, 255, 255)
        pdf.set_draw_color(51, 51, 51)
        pdf.set_line_width(0.15)
        pdf.rect(left, top, width, lh * len(rows) + 2, style="DF")
    for i, (key, name) in enumerate(rows):
        s = STYLES[key]
        y = top + 1 + i * lh
        pdf.set_draw_color(*s.stroke)
        if s.dash:
            pdf.set_dash_pattern(dash=1.0, gap=0.6)
        if s.fill is not None:
            with pdf.local_context(fill_opacity=min(s.opacity + 0.2, 1.0)):
                pdf.set_fill_color(*s.fill)
                pdf.rect(left + 2, y + 0.6, 7, 3, style="DF")
        else:
            pdf.rect(left + 2, y + 0.6, 7, 3, style="D")
        pdf.set_dash_pattern()
        pdf.set_xy(left + 11, y)
        pdf.cell(width - 12, lh, name)


def _scale(pdf: Any, doc: DocMap, view: Viewport, right: float, bottom: float) -> None:
    length = doc.scale_m * view.k
    x0 = right - length
    pdf.set_fill_color(255, 255, 255)
    with pdf.local_context(fill_opacity=0.9):
        pdf.rect(x0 - 2, bottom - 7, length + 4, 9, style="F")
    pdf.set_draw_color(0, 0, 0)
    pdf.set_line_width(0.2)
    pdf.set_fill_color(0, 0, 0)
    pdf.rect(x0, bottom - 1.5, length / 2, 1.5, style="DF")
    pdf.set_fill_color(255, 255, 255)
    pdf.rect(x0 + length / 2, bottom - 1.5, length / 2, 1.5, style="DF")
    pdf.set_font("DejaVu", "", 7)
    pdf.set_xy(x0 - 1, bottom - 5.5)
    pdf.cell(4, 3, "0")
    label = scale_text(doc.scale_m)
    pdf.set_xy(right - pdf.get_string_width(label) - 0.5, bottom - 5.5)
    pdf.cell(pdf.get_string_width(label) + 1, 3, label)


def _north(pdf: Any, doc: DocMap, x: float, y: float, lang: Any) -> None:
    a = math.radians(doc.north_deg)

    def at(dx: float, dy: float) -> tuple[float, float]:  # rotated about (x, y), y down
        return (x + dx * math.cos(a) - dy * math.sin(a), y + dx * math.sin(a) + dy * math.cos(a))

    pdf.set_fill_color(0, 0, 0)
    pdf.set_draw_color(0, 0, 0)
    pdf.polygon([at(0, -7), at(2.6, 2.6), at(0, 0.7), at(-2.6, 2.6)], style="DF")
    pdf.set_font("DejaVu", "B", 8)
    letter = text("doc_north", lang)
    tx, ty = at(0, -10)
    pdf.set_xy(tx - pdf.get_string_width(letter) / 2, ty - 1.8)
    pdf.cell(pdf.get_string_width(letter) + 0.5, 3.5, letter)


__all__ = ["document_pdf", "draw_map"]
