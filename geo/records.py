"""Broken records: rows of the store that break their layer's schema anyway.

The store refuses such rows (``layers.integrity``), but a row written before it did, or by a
superuser with its triggers off, may still be there: a Point in a polygon layer, a status not
in the code list, -5 members, a reference to nothing, a ring that cannot be repaired. One such
row must not take the analysis down: :func:`usable_records` splits the layers into the rows
the analysis can use and one ``RECORD_INVALID`` finding per broken row.
"""

from __future__ import annotations

from collections.abc import Collection, Container, Mapping
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely

from geo.repair import first_lonlat_problem, map_chunks, polygonal_parts, worker_count
from layers.labels import messages, pair
from layers.schema import MONGOLIA_BOUNDS, REGISTRY, Field, LayerKind

RULE = "RECORD_INVALID"

#: Columns of the broken records (one row per broken record: the first reason found).
BROKEN_COLUMNS = ("layer", "id", "why_mn", "why_en", "geometry")


@dataclass(frozen=True)
class UsableRecords:
    """The layers without their broken rows, and the broken rows (``BROKEN_COLUMNS``)."""

    frames: dict[str, gpd.GeoDataFrame]
    broken: pd.DataFrame
    #: every row, with unusable geometry left out (None): to find the soum of a broken row
    located: dict[str, gpd.GeoDataFrame]
    #: per layer checked, which rows of ``located`` are in ``frames`` (not dropped)
    kept: dict[str, npt.NDArray[np.bool_]] = field(default_factory=dict)


def _why(code: str, **values: object) -> tuple[str, str]:
    return messages("record_why", code, **{k: str(v) for k, v in values.items()})


def _checked(f: Field) -> bool:
    """Whether :func:`usable_records` checks the field's values (a code list, a minimum)."""
    return f.type == "enum" or (f.minimum is not None and f.type in ("int", "float"))


def checked_columns(layer: str) -> list[str]:
    """The columns of ``layer`` whose values :func:`usable_records` checks (code lists and
    minimums), in table order: a caller reading only some columns reads these too, or a
    broken row would take part in the analysis.

    Examples
    --------
    >>> checked_columns("contract_parcels")
    ['holder_type', 'members_women', 'members_men', 'status']
    """
    kind = REGISTRY.get(layer)
    return [] if kind is None else [f.name for f in kind.fields if _checked(f)]


def _value_problems(
    kind: LayerKind, frame: gpd.GeoDataFrame, why: list[tuple[str, str] | None]
) -> None:
    for f in kind.fields:
        if f.name not in frame.columns or not _checked(f):
            continue
        column = frame[f.name]
        present = column.notna().to_numpy(dtype=bool)
        found: list[tuple[np.ndarray, str, dict[str, str]]] = []
        if f.type == "enum":
            bad = present & ~column.isin(f.choices).to_numpy(dtype=bool)
            found.append((bad, "not_in_list", {"allowed": ", ".join(f.choices)}))
        if f.minimum is not None and f.type in ("int", "float"):
            numbers = pd.to_numeric(column, errors="coerce").to_numpy(dtype="float64")
            with np.errstate(invalid="ignore"):
                bad = present & (numbers < f.minimum)
            found.append((bad, "below_minimum", {"minimum": f"{f.minimum:g}"}))
        for bad, code, extra in found:
            for i in np.flatnonzero(bad):
                if why[i] is None:
                    why[i] = _why(code, field=f.name, value=column.iloc[i], **extra)


def _geometry_problems(frame: gpd.GeoDataFrame, why: list[tuple[str, str] | None]) -> None:
    geoms = np.asarray(frame.geometry.array, dtype=object)
    missing = shapely.is_missing(geoms)
    for i in np.flatnonzero(missing):
        why[i] = why[i] or _why("no_geometry")
    present = ~missing & ~shapely.is_empty(geoms)
    types = shapely.get_type_id(geoms)
    wrong = present & ~np.isin(types, (3, 6))
    for i in np.flatnonzero(wrong):
        why[i] = why[i] or _why("not_polygon", type=geoms[i].geom_type)
    check = np.flatnonzero(present & ~wrong)
    # GEOS's validity test of every polygon, in threads as the analyses' own (it releases the
    # GIL); a NaN coordinate makes a polygon invalid, so only the invalid ones are scanned for
    # one, coordinate by coordinate
    valid = map_chunks(shapely.is_valid, geoms[check], workers=worker_count(None)).astype(bool)
    while check.size:
        problem = first_lonlat_problem(
            geoms[check], nan_suspects=~valid, present=np.ones(check.size, dtype=bool)
        )
        if problem is None:
            break
        at, reason = problem
        j = int(check[at])
        why[j] = why[j] or _why("bad_coordinates", reason=reason)
        check, valid = np.delete(check, at), np.delete(valid, at)
    minx, miny, maxx, maxy = MONGOLIA_BOUNDS
    bounds = shapely.bounds(geoms[check]) if check.size else np.empty((0, 4))
    outside = (
        (bounds[:, 0] < minx)
        | (bounds[:, 1] < miny)
        | (bounds[:, 2] > maxx)
        | (bounds[:, 3] > maxy)
    )
    for i, b in zip(check[outside], bounds[outside], strict=True):
        text = ", ".join(f"{v:.6f}" for v in b)
        why[i] = why[i] or _why("outside_mongolia", bounds=text)
    invalid = check[~outside & ~valid]
    if invalid.size:
        fixed = polygonal_parts(shapely.make_valid(geoms[invalid]))
        for i, g in zip(invalid, fixed, strict=True):
            if g is None or shapely.is_empty(g):
                reason = shapely.is_valid_reason(geoms[i])
                why[i] = why[i] or _why("unrepairable", reason=reason)


def _reference_problems(
    kind: LayerKind,
    frame: gpd.GeoDataFrame,
    layers: Mapping[str, gpd.GeoDataFrame],
    reported: Collection[tuple[str, str]],
    known_ids: Mapping[str, Container[str]],
) -> list[tuple[int, tuple[str, str]]]:
    out = []
    for f in kind.fields:
        if f.references is None or (kind.name, f.name) in reported or f.name not in frame:
            continue
        known: Container[str]
        if f.references in known_ids:
            known = known_ids[f.references]
        else:
            target = layers.get(f.references)
            known = set() if target is None else set(target["id"].astype(str))
        values = frame[f.name]
        present = np.flatnonzero(values.notna().to_numpy(dtype=bool))
        texts = values.iloc[present].astype(str)
        if isinstance(known, Collection):
            found = texts.isin(known if isinstance(known, set | frozenset) else list(known))
        else:  # a bare container: asked one value at a time
            found = pd.Series([t in known for t in texts], index=texts.index, dtype=bool)
        for i in present[~found.to_numpy(dtype=bool)]:
            reason = _why(
                "dangling_reference", field=f.name, value=values.iloc[i], target=f.references
            )
            out.append((int(i), reason))
    return out


def usable_records(
    layers: Mapping[str, gpd.GeoDataFrame],
    *,
    reported_references: Collection[tuple[str, str]] = (),
    known_ids: Mapping[str, Container[str]] | None = None,
    references: bool = True,
) -> UsableRecords:
    """Split each layer into the rows the analysis can use and its broken rows.

    A row is broken (and left out) when a code-list field holds a value not in its list, a
    number is below its minimum, or its geometry is missing, not a polygon, has unusable
    coordinates, lies outside Mongolia's box or is invalid beyond repair (repairable
    geometry stays in: the analysis repairs and reports it). A reference to a feature that
    does not exist is reported too, but the row stays in (its geometry is sound), unless a
    rule already reports it (``reported_references``: ``(layer, field)`` pairs).

    Parameters
    ----------
    layers : mapping of str to GeoDataFrame
        Layers by name (``layers.schema.REGISTRY``), as ``Store.read`` returns them; other
        names are passed through unchecked.
    reported_references : collection of (str, str)
        ``(layer, field)`` references whose dangling values another rule reports.
    known_ids : mapping of str to container of str, optional
        The ids of a referenced layer, when ``layers`` holds only some rows of it (or none):
        to check a few changed rows against the whole store (:mod:`geo.incremental`).
    references : bool
        Whether to look for dangling references at all. They never drop a row, so a caller
        reading only ``frames`` (:func:`geo.rules.pair_overlaps`, which is given two layers
        and not the ones they refer to) passes False and skips a message per reference.

    Returns
    -------
    UsableRecords
        ``frames``: the layers without their broken rows (the index reset); ``broken``: one
        row per broken record with ``BROKEN_COLUMNS`` (the geometry when it is a usable
        polygon, else None), in layer and row order; ``located``: every row, unusable
        geometry left out (to find a broken row's soum).

    Examples
    --------
    >>> from shapely import Point, box
    >>> ex = gpd.GeoDataFrame({"id": ["X-1", "X-2"], "kind": ["protected_area", "bogus"],
    ...     "name": [None, None]}, geometry=[box(106, 47, 106.1, 47.1), Point(106, 47)], crs=4326)
    >>> split = usable_records({"exclusions": ex})
    >>> list(split.frames["exclusions"]["id"]), list(split.broken["id"])
    (['X-1'], ['X-2'])
    """
    frames: dict[str, gpd.GeoDataFrame] = dict(layers)
    located: dict[str, gpd.GeoDataFrame] = dict(layers)
    rows: list[dict[str, object]] = []
    kept: dict[str, npt.NDArray[np.bool_]] = {}
    for name, frame in layers.items():
        kind = REGISTRY.get(name)
        if kind is None or len(frame) == 0:
            continue
        why: list[tuple[str, str] | None] = [None] * len(frame)
        _geometry_problems(frame, why)
        geometry_ok = np.array([w is None for w in why])
        _value_problems(kind, frame, why)
        drop = np.array([w is not None for w in why], dtype=bool)
        kept[name] = ~drop
        dangling = (
            _reference_problems(kind, frame, layers, reported_references, known_ids or {})
            if references
            else []
        )
        for at, reason in dangling:
            if why[at] is None:
                why[at] = reason
        ids = frame["id"].astype(str).to_numpy(dtype=object)
        geoms = np.asarray(frame.geometry.array, dtype=object)
        for i in np.flatnonzero([w is not None for w in why]):
            mn, en = why[i]  # type: ignore[misc]  # not None here
            shape = geoms[i] if geometry_ok[i] else None
            rows.append(
                {"layer": name, "id": ids[i], "why_mn": mn, "why_en": en, "geometry": shape}
            )
        if drop.any():
            frames[name] = frame[~drop].reset_index(drop=True)
        if not geometry_ok.all():
            shown = geoms.copy()
            shown[~geometry_ok] = None
            located[name] = frame.set_geometry(
                gpd.GeoSeries(shown, index=frame.index, crs=frame.crs)
            )
    broken = pd.DataFrame(rows, columns=list(BROKEN_COLUMNS))
    return UsableRecords(frames, broken, located, kept)


def layer_labels(layer: str) -> tuple[str, str]:
    """The layer's name in Mongolian and English (its code when the catalogue has none)."""
    try:
        return pair("layer", layer)
    except KeyError:
        return layer, layer
