"""A review (``geo.review.review``) as a document for the decision file (:mod:`web.document`):
the proposal's id and name, the verdict and areas, the soums, every overlapped feature, the
rules broken, the corners in decimal degrees and DMS, a map, who checked it and when, the
store revision and the log's head; as a printable HTML page or an A4 PDF.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd

from geo.review_types import Review, verdict_label
from geo.rules import SEVERITY_LABELS
from layers.labels import Lang, label
from web.docmap import document_map
from web.docpdf import document_pdf
from web.document import (
    MONGOLIA,
    Document,
    Table,
    corner_table,
    document_html,
    file_stem,
    local_time,
    today_local,
)
from web.fonts import FontMissing, font_files
from web.i18n import pick, text
from web.render import ha, status_text


def _words(key: str, lang: Lang, **values: object) -> str:
    words = text(key, lang)
    for name, value in values.items():
        words = words.replace("{" + name + "}", str(value))
    return words


def feature_names(
    result: Review, proposal: gpd.GeoDataFrame | None, source: str | None, lang: Lang
) -> list[str]:
    """How each reviewed feature is named in the document: its id and name, or, when the
    proposal gave it no id, the source (file name, or "drawn on the map") and its number."""
    given: list[Any] = [None] * len(result.features)
    names: list[Any] = [None] * len(result.features)
    if proposal is not None and len(proposal) == len(result.features):
        frame = proposal.reset_index(drop=True)
        if "id" in frame.columns:
            given = [None if pd.isna(v) or not str(v).strip() else str(v) for v in frame["id"]]
        if "name" in frame.columns:
            names = [None if pd.isna(v) or not str(v).strip() else str(v) for v in frame["name"]]
    elif proposal is None:
        given = [None if x.id.startswith("#") else x.id for x in result.features]
    where = source or text("doc_source_unknown", lang)
    out = []
    for i in range(len(result.features)):
        head = given[i] or _words("doc_no_id", lang, source=where, n=i + 1)
        out.append(f"{head} — {names[i]}" if names[i] else head)
    return out


def review_document(
    result: Review,
    *,
    lang: Lang,
    frames: Mapping[str, gpd.GeoDataFrame],
    revision: str,
    head_seq: int | None,
    head_hash: str | None,
    checked_by: str | None = None,
    proposal: gpd.GeoDataFrame | None = None,
    source: str | None = None,
    now: dt.datetime | None = None,
) -> Document:
    """The review as a :class:`Document` (``frames``: the store's layers, for the map)."""
    named = feature_names(result, proposal, source, lang)
    ids = [f.id for f in result.features]
    first = next((i for i in ids if not i.startswith("#")), None)
    stem_id = first or Path(source or "proposal").stem
    subject = "; ".join(named) if named else text("doc_no_features", lang)
    positional = {f.id: named[i] for i, f in enumerate(result.features)
                  if f.id.startswith("#") and f.id not in (first,)}  # fmt: skip

    def said(message: str) -> str:  # a message naming a feature "#2" names it in words
        for fid, words in positional.items():
            message = re.sub(rf"(?<!\w){re.escape(fid)}(?!\d)", words, message)
        return message

    verdict = pick(verdict_label(result.verdict), lang)
    facts: list[tuple[str, str]] = [
        (text("verdict", lang), verdict),
        (text("report_kind", lang), text(f"kind_{result.kind}", lang)),
        (text("doc_proposal", lang), subject),
        (text("report_date", lang), result.today.isoformat()),
        (text("official_ha", lang), ha(result.area.official_ha)),
        (text("geodesic_ha", lang), ha(result.area.geodesic_ha)),
    ]
    if result.proposing_soum:
        share = result.outside_soum_share
        pct = "" if share is None else f" ({100 * share:.1f} %)"
        facts.append((f"{text('outside_soum', lang)} ({result.proposing_soum})",
                      ha(result.outside_soum_ha) + pct))  # fmt: skip
    if result.file:
        facts.append((text("doc_file", lang), result.file))
    tables = [
        Table("features", text("report_features", lang),
              (text("doc_feature", lang), text("official_ha", lang), text("geodesic_ha", lang),
               text("doc_utm_zone", lang), text("verdict", lang)),
              tuple((named[i], ha(f.official_ha), ha(f.geodesic_ha),
                     "—" if f.utm_zone is None else f"{f.utm_zone}N",
                     pick(verdict_label(f.verdict), lang))
                    for i, f in enumerate(result.features)),
              numeric=(1, 2), widths=(40, 15, 15, 12, 18)),
        Table("soums", text("soums_touched", lang),
              (text("field_soum_code", lang), text("field_name", lang),
               text("field_overlap_ha", lang), text("share", lang)),
              tuple((s.soum_code, (s.name_en if lang == "en" else s.name_mn) or s.name_en or "",
                     ha(s.overlap_ha), "—" if s.share is None else f"{100 * s.share:.1f} %")
                    for s in result.soums),
              numeric=(2, 3), empty="—"),
        overlap_table(result, lang),
        Table("findings", text("findings", lang),
              (text("field_severity", lang), text("field_rule", lang), text("field_layer", lang),
               text("field_id", lang), text("field_overlap_ha", lang),
               text("field_message", lang)),
              tuple((pick(SEVERITY_LABELS.get(f.severity, ("", "")), lang),
                     pick((f.title_mn, f.title_en), lang) or f.code,
                     label("layer", f.layer, lang) if f.layer else "", f.id or "",
                     ha(f.overlap_ha), said(pick((f.message_mn, f.message_en), lang) or ""))
                    for f in result.findings),
              numeric=(4,), empty=text("no_findings", lang), widths=(12, 20, 16, 14, 10, 48)),
        corner_table(list(zip(named, [f.geometry for f in result.features], strict=True)), lang),
    ]  # fmt: skip
    notes = [f"{x.feature_id}: {x.reason}" for x in result.repairs]
    notes += [f"{named[p.index] if p.index is not None else '—'}: "
              f"{pick((p.reason_mn, p.reason_en), lang)}" for p in result.problems]  # fmt: skip
    shared = [o.geometry for o in result.overlaps if o.severity != "info" and o.geometry]
    shared += [
        f.geometry
        for f in result.findings
        if f.geometry is not None and f.code in ("PARCEL_OUTSIDE_LC", "LC_OUTSIDE_SOUM")
    ]
    soum_codes = [result.proposing_soum] if result.proposing_soum else []
    docmap = document_map([f.geometry for f in result.features], frames, lang=lang,
                          soum_codes=soum_codes, overlaps=shared)  # fmt: skip
    return Document(
        lang=lang,
        kind="review",
        title=text("report_title", lang),
        subject=subject,
        facts=tuple(facts),
        tables=tuple(tables),
        map=docmap,
        signed_label=text("doc_checked_by", lang),
        signed_by=checked_by or text("doc_nobody", lang),
        signed_at=local_time(now),
        revision=revision,
        head_seq=head_seq,
        head_hash=head_hash,
        file_stem=file_stem(
            "review", stem_id, now.astimezone(MONGOLIA).date() if now else today_local()
        ),
        verdict=result.verdict,
        notes=tuple(notes),
    )


def overlap_table(result: Review, lang: Lang) -> Table:
    """Every stored feature the proposal overlaps, with its severity (``info``: allowed)."""

    def status(layer: str, value: str | None) -> str:
        return status_text(layer, value, lang)

    rows = tuple(
        (
            pick(SEVERITY_LABELS.get(o.severity, ("", "")), lang),
            label("layer", o.layer, lang),
            o.id,
            o.name or o.holder or "",
            status(o.layer, o.status) + ("" if o.live else f" · {text('doc_not_live', lang)}"),
            ha(o.overlap_ha),
            text("doc_allowed", lang) if o.code is None else o.code,
        )
        for o in result.overlaps
    )
    return Table(
        "overlaps",
        text("doc_overlaps", lang),
        (
            text("field_severity", lang),
            text("field_layer", lang),
            text("field_id", lang),
            text("doc_name_holder", lang),
            text("doc_status", lang),
            text("field_overlap_ha", lang),
            text("field_rule", lang),
        ),
        rows,
        numeric=(5,),
        empty=text("doc_no_overlaps", lang),
        widths=(12, 18, 14, 24, 16, 10, 18),
    )


def review_pdf(doc: Document, *, font_dir: Path | None = None) -> bytes:
    """The review document as an A4 PDF (:func:`web.docpdf.document_pdf`)."""
    return document_pdf(doc, font_dir=font_dir)


__all__ = [
    "FontMissing",
    "document_html",
    "feature_names",
    "font_files",
    "overlap_table",
    "review_document",
    "review_pdf",
    "status_text",
]
