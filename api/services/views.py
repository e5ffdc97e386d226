"""The analyses as JSON: one shape for the ``gazar`` commands and the HTTP API alike.

Each analysis has a ``*_view`` function that runs it on layers already read (the command line
reads them from the store, the server from its layer cache) and a ``*_json`` function that turns
the result into plain values (dicts, lists, str, int, float, bool, ``None``, ``datetime.date``)
ready for ``orjson``. ``gazar overlaps --format json`` and ``GET /analysis/overlaps`` call the
same two functions, so they print the same document. Nothing here reads a file or knows HTTP.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from geo.availability import availability, availability_totals
from geo.lifecycle import expiring, overdue_contracts
from geo.raster import RECOVERY_LABELS, Dem, label_of
from geo.repair import Repaired
from geo.review import Kind, Review, ReviewContext, review
from geo.rules import OVERLAP_PAIRS, pair_overlap_columns, pair_overlaps
from geo.settings import AnalysisSettings
from layers.geojson import collection, property_features
from layers.schema import REGISTRY, STORE_CRS

#: the layers ``availability`` subtracts from the Land Conclusions
AVAILABILITY_LAYERS: tuple[str, ...] = ("contract_parcels", "rehab_zones", "exclusions", "licences")
#: the layers ``expiring`` reads
EXPIRING_LAYERS: tuple[str, ...] = ("contract_parcels", "rehab_zones")


def plain_value(value: Any) -> Any:
    """One cell as a plain Python value: numpy scalars unwrapped, missing values ``None``."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def plain_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows (without geometry) as dicts of plain values; missing values become ``None``.

    Examples
    --------
    >>> plain_records(pd.DataFrame({"id": ["a", "b"], "ha": [1.5, np.nan]}))
    [{'id': 'a', 'ha': 1.5}, {'id': 'b', 'ha': None}]
    """
    table = pd.DataFrame(frame.drop(columns="geometry", errors="ignore"))
    columns = [str(c) for c in table.columns]
    return [
        {c: plain_value(v) for c, v in zip(columns, row, strict=True)}
        for row in table.itertuples(index=False, name=None)
    ]


def features_geojson(frame: gpd.GeoDataFrame) -> dict[str, Any]:
    """A FeatureCollection (RFC 7946, lon/lat) of ``frame``, properties as plain values.

    Written by :mod:`layers.geojson` (geometries embedded as ``orjson.Fragment``): pass the
    result to ``orjson.dumps`` (not ``json.dumps``).
    """
    return collection(property_features(plain_records(frame), frame.geometry.array))


# -------------------------------------------------------------------------------- overlaps


def overlap_pairs(layer: str | None, against: str | None) -> list[tuple[str, str]]:
    """The layer pairs ``overlaps`` compares: ``layer`` with ``against`` (default: itself), or
    without ``layer`` every pair the rules forbid to overlap.

    Examples
    --------
    >>> overlap_pairs("contract_parcels", None)
    [('contract_parcels', 'contract_parcels')]
    >>> ("contract_parcels", "exclusions") in overlap_pairs(None, None)
    True
    """
    if layer is None:
        if against is not None:
            raise ValueError("'against' needs 'layer'")
        return [(p.a_layer, p.b_layer) for p in OVERLAP_PAIRS if p.rule is not None]
    return [(layer, against or layer)]


def layers_of(pairs: Iterable[tuple[str, str]]) -> set[str]:
    """Every layer named in ``pairs``."""
    return {name for pair in pairs for name in pair}


def overlap_columns(pairs: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    """The columns ``overlaps_view`` of ``pairs`` reads of each layer
    (``geo.rules.pair_overlap_columns``, joined over the pairs, in table order): a reader of
    a whole store reads only these.

    Examples
    --------
    >>> overlap_columns([("contract_parcels", "contract_parcels")])
    {'contract_parcels': ['holder_type', 'members_women', 'members_men', 'status']}
    """
    found: dict[str, set[str]] = {}
    for a, b in pairs:
        for name, columns in pair_overlap_columns(a, b).items():
            found.setdefault(name, set()).update(columns)
    return {name: REGISTRY[name].only(columns).columns[1:] for name, columns in found.items()}


@dataclass(frozen=True)
class Overlaps:
    """Every overlap found (``geo.rules.pair_overlaps`` records, EPSG:4326) and the repairs."""

    records: gpd.GeoDataFrame
    repaired: tuple[Repaired, ...] = field(default=())


def overlaps_view(
    layers: Mapping[str, gpd.GeoDataFrame],
    *,
    pairs: Iterable[tuple[str, str]],
    today: dt.date,
    tolerance_m2: float,
) -> Overlaps:
    """Overlaps of each pair of layers (``overlap_pairs``), each with the rule it breaks."""
    parts: list[pd.DataFrame] = []
    repaired: list[Repaired] = []
    for a, b in pairs:
        found, fixed = pair_overlaps(
            layers, a_layer=a, b_layer=b, today=today, tolerance_m2=tolerance_m2
        )
        parts.append(found)
        repaired += fixed
    frame = pd.concat(parts, ignore_index=True)
    records = gpd.GeoDataFrame(frame, geometry="geometry", crs=STORE_CRS)
    return Overlaps(records, tuple(dict.fromkeys(repaired)))


def overlaps_json(result: Overlaps) -> list[dict[str, Any]]:
    """One record per overlap: layers, ids, ``overlap_ha`` and ``rule`` (``None``: allowed)."""
    return plain_records(result.records)


# ---------------------------------------------------------------------------- availability


def availability_view(
    land_conclusions: gpd.GeoDataFrame,
    layers: Mapping[str, gpd.GeoDataFrame],
    *,
    today: dt.date,
) -> gpd.GeoDataFrame:
    """``geo.availability.availability`` of ``land_conclusions`` with the blocking
    ``layers`` (``AVAILABILITY_LAYERS``: whole, or only those near the Land Conclusions)."""
    return availability(
        land_conclusions,
        layers["contract_parcels"],
        layers["rehab_zones"],
        layers["exclusions"],
        layers["licences"],
        today=today,
    )


def availability_json(frame: gpd.GeoDataFrame, *, today: dt.date) -> dict[str, Any]:
    """The free land per Land Conclusion in force, and its totals per soum and per aimag."""
    return {
        "as_of": today.isoformat(),
        "land_conclusions": _hectares(plain_records(frame)),
        "totals": {
            "soum": _hectares(plain_records(availability_totals(frame, by="soum_code"))),
            "aimag": _hectares(plain_records(availability_totals(frame, by="aimag_code"))),
        },
    }


def availability_geojson(frame: gpd.GeoDataFrame) -> dict[str, Any]:
    """The free land itself: one feature per Land Conclusion in force, with its hectares."""
    doc: dict[str, Any] = frame.to_geo_dict(drop_id=True)  # geometries as coordinate lists
    return collection(doc["features"])


def _hectares(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Hectare columns always as floats (a sum of nothing is 0.0, not 0)."""
    for row in rows:
        for key, value in row.items():
            if key.endswith("_ha") and value is not None:
                row[key] = float(value)
    return rows


# ----------------------------------------------------------------------------------- check


def check_view(
    proposal: gpd.GeoDataFrame,
    *,
    kind: Kind,
    context: ReviewContext | Mapping[str, gpd.GeoDataFrame],
    today: dt.date,
    settings: AnalysisSettings,
    soum: str | None = None,
    dem: tuple[str, Dem] | None = None,
) -> Review:
    """The desk review of ``proposal`` (``geo.review.review``); ``as_json()`` for the document.

    ``dem`` is a DEM's name and its elevations over the proposal (``layers.rasters.read_dem``
    or ``proposal_dem``): the review then has ``terrain``, a ``SLOPE_OVER_LIMIT`` warning
    where the proposal is too steep, and ``dem`` (the name).
    """
    result = review(
        proposal,
        kind=kind,
        layers=context,
        today=today,
        settings=settings,
        soum_code=soum,
        dem=None if dem is None else dem[1],
    )
    return result if dem is None else replace(result, dem=dem[0])


# ----------------------------------------------------------------------------- rehab


def rehab_labelled(table: pd.DataFrame) -> pd.DataFrame:
    """``layers.rasters.rehab_recovery`` (or ``rehab_registered``) with each status's
    label in Mongolian (``status_mn``) and English (``status_en``)."""
    status = table["status"].astype(str)
    return table.assign(
        status_mn=[label_of(RECOVERY_LABELS, s, "mn") for s in status],
        status_en=[label_of(RECOVERY_LABELS, s, "en") for s in status],
    )


def rehab_json(table: pd.DataFrame, *, min_recovery: float, pixels: str) -> dict[str, Any]:
    """``min_recovery``, ``pixels`` and one record per rehabilitation zone (its fields, the
    statistics before and after, ``change``, ``status``, ``status_mn``, ``status_en``)."""
    return {
        "min_recovery": min_recovery,
        "pixels": pixels,
        "zones": plain_records(rehab_labelled(table)),
    }


def rehab_geojson(table: pd.DataFrame, zones: gpd.GeoDataFrame) -> dict[str, Any]:
    """The zones themselves with the records of :func:`rehab_json` as properties."""
    frame = gpd.GeoDataFrame(rehab_labelled(table), geometry=zones.geometry, crs=zones.crs)
    return features_geojson(frame)


# -------------------------------------------------------------------------------- expiring


@dataclass(frozen=True)
class Expiring:
    """Contracts ending within ``days`` of ``today``, and open contracts already past their end."""

    today: dt.date
    days: int
    soon: pd.DataFrame
    overdue: pd.DataFrame


def expiring_view(
    parcels: pd.DataFrame, rehab_zones: pd.DataFrame, *, today: dt.date, days: int
) -> Expiring:
    """``geo.lifecycle.expiring`` and ``overdue_contracts`` for one day and window."""
    return Expiring(
        today=today,
        days=days,
        soon=expiring(parcels, rehab_zones, today=today, days=days),
        overdue=overdue_contracts(parcels, today=today),
    )


def expiring_json(result: Expiring) -> dict[str, Any]:
    """``today``, ``days``, the ``expiring`` contracts (with renewal eligibility) and the
    ``overdue`` ones."""
    return {
        "today": result.today.isoformat(),
        "days": result.days,
        "expiring": plain_records(result.soon),
        "overdue": plain_records(result.overdue),
    }
