"""A printed document for the decision file: the review of a proposal, the decision on an
application, the issuance or rejection of a Land Conclusion.

Every one is a :class:`Document` (a title, the facts, tables, the corner coordinates, a map,
who made it and when, the store revision and the log's head) written two ways from the same
values: an HTML page for the printer (:func:`document_html`, ``web/templates/document.html``:
A4, the page numbers in the page margins) and a PDF (:func:`web.docpdf.document_pdf`). Times are
Mongolia's (UTC+8) without microseconds; the file name is made from the subject's id and the
day (:func:`file_name`).
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
from jinja2 import Environment, FileSystemLoader, select_autoescape

from layers.dms import format_dms
from layers.labels import Lang
from web.docmap import DocMap, map_svg
from web.i18n import text
from web.render import TEMPLATES

#: Mongolia's time (no daylight saving).
MONGOLIA: Final = dt.timezone(dt.timedelta(hours=8))


@dataclass(frozen=True)
class Table:
    """A table of the document: ``numeric`` columns are right-aligned."""

    key: str
    heading: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    numeric: tuple[int, ...] = ()
    empty: str = ""
    #: relative column widths for the PDF (default: equal)
    widths: tuple[float, ...] = ()


@dataclass(frozen=True)
class Document:
    """What a printed document says (every value already text in ``lang``)."""

    lang: Lang
    kind: str
    title: str
    subject: str
    facts: tuple[tuple[str, str], ...]
    tables: tuple[Table, ...]
    map: DocMap | None
    signed_label: str
    signed_by: str
    signed_at: str
    revision: str
    head_seq: int | None
    head_hash: str | None
    file_stem: str
    verdict: str | None = None
    notes: tuple[str, ...] = field(default=())

    def file_name(self, ext: str) -> str:
        """``<stem>.<ext>``, e.g. ``review-LC-7-2026-06-30.pdf``."""
        return f"{self.file_stem}.{ext}"


def local_time(moment: dt.datetime | None = None) -> str:
    """A moment in Mongolia's time, ``2026-06-30 14:05:09 (UTC+8)``; now when None."""
    when = moment or dt.datetime.now(dt.UTC)
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.astimezone(MONGOLIA).replace(microsecond=0).strftime("%Y-%m-%d %H:%M:%S") + (
        " (UTC+8)"
    )


def stamp_text(value: object) -> str:
    """A stored UTC stamp (ISO text) in Mongolia's time; the value as given if unreadable."""
    if value is None:
        return "—"
    try:
        return local_time(dt.datetime.fromisoformat(str(value)))
    except ValueError:
        return str(value)


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_id(value: str) -> str:
    """An id made safe for a file name: letters, digits, ``._-``; others become ``_``.

    Examples
    --------
    >>> safe_id('LC/7 "new"')
    'LC_7_new'
    >>> safe_id("\\u041c\\u0430")  # letters outside ASCII
    'id'
    """
    cleaned = _UNSAFE.sub("_", value).strip("._")[:60]
    return cleaned if cleaned.strip("_") else "id"


def file_stem(prefix: str, ident: str, day: dt.date) -> str:
    """``<prefix>-<safe id>-<YYYY-MM-DD>``."""
    return f"{prefix}-{safe_id(ident)}-{day.isoformat()}"


def today_local() -> dt.date:
    return dt.datetime.now(MONGOLIA).date()


def corner_table(shapes: Sequence[tuple[str, Any]], lang: Lang, *, limit: int = 400) -> Table:
    """The corners of each feature's outer rings: number, decimal degrees and DMS.

    ``shapes`` are (feature name, lon/lat geometry); holes are left out (corner lists name
    the outer boundary), the closing point is not repeated; at most ``limit`` rows.
    """
    rows: list[tuple[str, ...]] = []
    for name, geom in shapes:
        if geom is None or geom.is_empty:
            continue
        polys = [p for p in getattr(geom, "geoms", [geom]) if p.geom_type == "Polygon"]
        for k, poly in enumerate(polys, start=1):
            coords = np.asarray(poly.exterior.coords)[:-1]
            part = f"{name}" if len(polys) == 1 else f"{name} ({k})"
            for i, (lon, lat) in enumerate(coords[:, :2], start=1):
                rows.append((part, str(i), f"{lon:.6f}", f"{lat:.6f}",
                             format_dms(float(lon), axis="lon"),
                             format_dms(float(lat), axis="lat")))  # fmt: skip
    cut = len(rows) > limit
    rows = rows[:limit]
    heading = text("doc_corners", lang)
    if cut:
        heading += f" ({text('doc_corners_cut', lang).replace('{n}', str(limit))})"
    return Table(
        key="corners",
        heading=heading,
        columns=(
            text("doc_feature", lang),
            text("doc_corner_no", lang),
            text("doc_lon_dd", lang),
            text("doc_lat_dd", lang),
            text("doc_lon_dms", lang),
            text("doc_lat_dms", lang),
        ),
        rows=tuple(rows),
        numeric=(1, 2, 3),
        widths=(22, 8, 17, 17, 18, 18),
    )


@functools.cache
def _env() -> Environment:
    return Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]))


def document_html(doc: Document, *, nonce: str | None = None, printable: bool = True) -> str:
    """The document as one self-contained HTML page (styles inline, the map an inline SVG,
    no external file); ``printable`` adds the print button (its script carries ``nonce``)."""
    svg = map_svg(doc.map, lang=doc.lang) if doc.map is not None else ""
    return (
        _env()
        .get_template("document.html")
        .render(
            doc=doc,
            lang=doc.lang,
            t=lambda key: text(key, doc.lang),
            svg=svg,
            nonce=nonce,
            printable=printable,
        )
    )


__all__ = [
    "MONGOLIA",
    "Document",
    "Table",
    "corner_table",
    "document_html",
    "file_stem",
    "local_time",
    "safe_id",
    "stamp_text",
    "today_local",
]
