"""MRPAM's inbox: the Land Conclusions submitted to it and under its review, across the country.

The rows are the Land Conclusion pipeline's (:func:`geo.lifecycle.pipeline`, the same days and
delays as ``gazar pipeline``) for the statuses at MRPAM (``submitted`` and ``under_review``),
oldest submission first, with the soum's and the aimag's names and the official hectares. A
row's review is :meth:`api.services.review.ReviewService.check_stored` (the Land Conclusion
against the rest of the store); its decisions are
:meth:`api.services.allocation.AllocationService.review_land_conclusion`.

No HTTP here: the page is ``web/inbox.py``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any, Final

import geopandas as gpd
import numpy as np
import pandas as pd

from api.services.allocation_checks import REVIEW_MOVES, text_or_none, today_of
from geo.area import official_ha
from geo.lifecycle import pipeline
from geo.settings import AnalysisSettings
from layers.labels import Lang, label

__all__ = ["AT_MRPAM", "inbox_rows", "land_conclusion_facts", "local_today", "moves_of", "names"]

#: the statuses of a Land Conclusion waiting at MRPAM
AT_MRPAM: Final = ("submitted", "under_review")


def local_today(settings: AnalysisSettings, now: dt.datetime | None = None) -> dt.date:
    """Today in the settings' time zone (Mongolia's: UTC+8), as the ledger counts days."""
    return today_of(now or dt.datetime.now(dt.UTC), settings)


def moves_of(status: str) -> tuple[str, ...]:
    """The review steps MRPAM may take from ``status`` (none once decided)."""
    return REVIEW_MOVES.get(status, ())


def names(frame: gpd.GeoDataFrame | pd.DataFrame, lang: Lang) -> dict[str, str]:
    """A soums or aimags layer as ``{code: name}`` in ``lang`` (the other language's name
    where this one is empty)."""
    if len(frame) == 0:
        return {}
    first, second = ("name_mn", "name_en") if lang == "mn" else ("name_en", "name_mn")
    out: dict[str, str] = {}
    for code, a, b in zip(frame["id"], frame[first], frame[second], strict=True):
        out[str(code)] = text_or_none(a) or text_or_none(b) or ""
    return out


def inbox_rows(
    land_conclusions: gpd.GeoDataFrame,
    *,
    soums: pd.DataFrame,
    aimags: pd.DataFrame,
    today: dt.date,
    settings: AnalysisSettings,
    lang: Lang,
    statuses: tuple[str, ...] = AT_MRPAM,
) -> list[dict[str, Any]]:
    """The Land Conclusions of ``statuses``, oldest submission first (then by id).

    Each row: ``id``, ``name``, ``status`` and ``status_label``, ``soum_code``, ``soum_name``,
    ``aimag_code``, ``aimag_name``, ``requested_by`` (its label), ``submitted_on``,
    ``official_ha``, ``days_waiting`` (days in MRPAM's step: since submission), ``limit_days``
    (the status's limit, ``AnalysisSettings.pipeline_limit_days``; None without one),
    ``overdue`` (waited longer than the limit) and ``problems`` (the pipeline's data problems
    in ``lang``, '' when none).
    """
    keep = land_conclusions["status"].astype(str).isin(list(statuses)).to_numpy(dtype=bool)
    lcs = land_conclusions[keep].reset_index(drop=True)
    if len(lcs) == 0:
        return []
    steps = pipeline(
        lcs,
        today=today,
        limits=settings.pipeline_limit_days,
        allowed_requesters=settings.allowed_requesters,
    )
    soum_names, aimag_names = names(soums, lang), names(aimags, lang)
    area = official_ha(np.asarray(lcs.geometry.array, dtype=object))
    rows: list[dict[str, Any]] = []
    for i, step in steps.iterrows():
        lc = lcs.iloc[int(str(i))]
        soum, aimag = str(lc["soum_code"]), str(lc["aimag_code"])
        days = step["days_in_step"]
        limit = step["limit_days"]
        status = str(lc["status"])
        rows.append(
            {
                "id": str(lc["id"]),
                "name": text_or_none(lc["name"]) or "",
                "status": status,
                "status_label": label("land_conclusion_status", status, lang),
                "soum_code": soum,
                "soum_name": soum_names.get(soum, ""),
                "aimag_code": aimag,
                "aimag_name": aimag_names.get(aimag, ""),
                "requested_by": label("requested_by", str(lc["requested_by"]), lang),
                "submitted_on": step["submitted_on"],
                "official_ha": float(area[int(str(i))]),
                "days_waiting": None if pd.isna(days) else int(days),
                "limit_days": None if pd.isna(limit) else int(limit),
                "overdue": bool(step["delayed"]),
                "problems": str(step["problems_mn" if lang == "mn" else "problems_en"] or ""),
            }
        )
    rows.sort(key=lambda r: (r["submitted_on"] or dt.date.max, r["id"]))
    return rows


def land_conclusion_facts(
    lc: Mapping[str, Any], *, soums: pd.DataFrame, aimags: pd.DataFrame, lang: Lang
) -> dict[str, Any]:
    """One stored Land Conclusion's fields as the review page shows them."""

    def day(value: object) -> str:
        return value.isoformat()[:10] if isinstance(value, dt.date) else ""

    soum, aimag = str(lc["soum_code"]), str(lc["aimag_code"])
    status = str(lc["status"])
    return {
        "id": str(lc["id"]),
        "name": text_or_none(lc["name"]) or "",
        "status": status,
        "status_label": label("land_conclusion_status", status, lang),
        "soum_code": soum,
        "soum_name": names(soums, lang).get(soum, ""),
        "aimag_code": aimag,
        "aimag_name": names(aimags, lang).get(aimag, ""),
        "requested_by": label("requested_by", str(lc["requested_by"]), lang),
        "proposed_on": day(lc["proposed_on"]),
        "khural_approved_on": day(lc["khural_approved_on"]),
        "submitted_on": day(lc["submitted_on"]),
        "decided_on": day(lc["decided_on"]),
        "valid_until": day(lc["valid_until"]),
        "decision_ref": text_or_none(lc["decision_ref"]) or "",
    }
