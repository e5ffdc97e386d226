"""Import: read a file, name its columns, validate it against the layer and the store, write it.

``plan_import`` does everything but the write and raises on any problem, so ``--dry-run`` and a
real import validate identically; ``commit_import`` writes the plan in one transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

import geopandas as gpd
import numpy as np
import shapely

from layers.errors import InputFileError, Problem, ValidationFailed
from layers.readers import SourceInfo, read_features
from layers.schema import REGISTRY, LayerKind, layer_kind, licence_kind_from_number
from layers.store import Store
from layers.translit import latin
from layers.uploads import ReadLimits
from layers.validate import validate_layer

DuplicateIds = Literal["refuse", "drop-identical", "keep-first", "suffix"]


@dataclass
class ImportPlan:
    layer: str
    frame: gpd.GeoDataFrame
    source: SourceInfo
    replace: bool
    warnings: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def parse_mapping(items: list[str], option: str = "--map") -> dict[str, str]:
    """``["id=ADM2_PCODE", ...]`` -> ``{"id": "ADM2_PCODE"}`` (destination -> source; for
    ``--set``, field -> the value every feature gets)."""
    out: dict[str, str] = {}
    what = "SOURCE_COLUMN" if option == "--map" else "VALUE"
    for item in items:
        dst, sep, src = item.partition("=")
        if not sep or not dst.strip() or not src.strip():
            raise InputFileError(option, f"'{item}' must look like FIELD={what}")
        if dst.strip() in out:
            raise InputFileError(option, f"field '{dst.strip()}' is given twice")
        out[dst.strip()] = src.strip()
    return out


def _set_values(
    frame: gpd.GeoDataFrame, kind: LayerKind, values: Mapping[str, str], file: str
) -> gpd.GeoDataFrame:
    """Every feature gets ``values`` (``--set kind=soum_centre``): a field the file lacks; a
    field the file has, or one the layer does not have, is refused (validation checks the
    value as any other)."""
    problems = []
    for name, value in values.items():
        if name not in kind.columns or name == "id":
            fields = ", ".join(kind.columns[1:])
            reason = f"--set {name}={value}: '{name}' is not a field of {kind.name} ({fields})"
            problems.append(Problem(file, None, None, name, reason))
        elif name in frame.columns:
            reason = f"--set {name}={value}: the file already has '{name}' (leave out --set)"
            problems.append(Problem(file, None, None, name, reason))
    if problems:
        raise ValidationFailed(problems)
    return frame.assign(**dict(values)) if values else frame


def _prefixed_ids(frame: gpd.GeoDataFrame, prefix: str) -> tuple[gpd.GeoDataFrame, str]:
    """Ids made ``prefix`` + the file's id, or ``prefix`` + the feature's number (from 1) when
    the file has no id column (a national road layer has none that is unique)."""
    if "id" in frame.columns:
        present = frame["id"].notna() & (frame["id"].astype(str).str.strip() != "")
        text = frame["id"].map(
            lambda v: str(int(v)) if isinstance(v, float) and v.is_integer() else str(v).strip()
        )
        ids = (prefix + text).where(present, None)
        return frame.assign(id=ids), f"ids prefixed with '{prefix}'"
    numbers = [f"{prefix}{i}" for i in range(1, len(frame) + 1)]
    return frame.assign(id=numbers), f"ids numbered {prefix}1 to {prefix}{len(frame)}"


def _without_empty(frame: gpd.GeoDataFrame) -> tuple[gpd.GeoDataFrame, list[str]]:
    geoms = np.asarray(frame.geometry.array, dtype=object)
    empty = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    if not empty.any():
        return frame, []
    where = np.flatnonzero(empty)
    ids = frame["id"].to_numpy(dtype=object)[where] if "id" in frame.columns else where
    named = ", ".join(f"#{i} ({fid})" for i, fid in zip(where[:20], ids[:20], strict=True))
    more = f" and {len(where) - 20} more" if len(where) > 20 else ""
    note = f"{len(where)} feature(s) without geometry left out (--drop-empty): {named}{more}"
    return frame[~empty].reset_index(drop=True), [note]


def _latin_names(frame: gpd.GeoDataFrame, kind: LayerKind) -> tuple[gpd.GeoDataFrame, list[str]]:
    """A layer with ``name_latin`` that the file leaves out gets the Cyrillic ``name`` written
    in Latin letters (MNS 5217, :mod:`layers.translit`)."""
    have = set(frame.columns)
    if "name_latin" not in kind.columns or "name_latin" in have or "name" not in have:
        return frame, []
    names = frame["name"]
    latin_names = names.map(lambda v: latin(v) if isinstance(v, str) and v.strip() else None)
    note = "name_latin written from name in Latin letters (MNS 5217 transliteration)"
    return frame.assign(name_latin=latin_names), [note]


def shapefile_names(kind: LayerKind) -> dict[str, str]:
    """Field -> its name in a Shapefile (at most 10 characters, unique within the layer)."""
    names: dict[str, str] = {}
    taken: set[str] = set()
    for col in kind.columns:
        short = col[:10]
        n = 1
        while short in taken:
            suffix = str(n)
            short = col[: 10 - len(suffix)] + suffix
            n += 1
        taken.add(short)
        names[col] = short
    return names


def _name_columns(
    frame: gpd.GeoDataFrame, kind: LayerKind, mapping: Mapping[str, str], file: str
) -> tuple[gpd.GeoDataFrame, list[str]]:
    notes: list[str] = []
    known = set(kind.columns)
    have = [c for c in frame.columns if c != "geometry"]
    problems = []
    for dst, src in mapping.items():
        if dst not in known:
            problems.append(
                Problem(
                    file,
                    None,
                    None,
                    dst,
                    f"--map {dst}={src}: '{dst}' is not a field of {kind.name} "
                    f"(fields: {', '.join(kind.columns)})",
                )
            )
        if src not in frame.columns:
            problems.append(
                Problem(
                    file,
                    None,
                    None,
                    src,
                    f"--map {dst}={src}: the file has no column '{src}' "
                    f"(columns: {', '.join(map(str, have))})",
                )
            )
    if problems:
        raise ValidationFailed(problems)

    renames: dict[str, str] = {}
    targets = set(mapping)
    for dst, src in mapping.items():
        renames[src] = dst
    # columns already named as fields (any case), then well-known aliases and Shapefile names
    lower = {str(c).lower(): c for c in have if c not in renames}
    aliases = dict(kind.aliases)
    aliases.update({short.lower(): full for full, short in shapefile_names(kind).items()})
    for col in kind.columns:
        if col in targets:
            continue
        if col.lower() in lower:
            renames[lower.pop(col.lower())] = col
            targets.add(col)
    for alias, col in aliases.items():
        if col not in targets and alias in lower:
            src_name = lower.pop(alias)
            renames[src_name] = col
            targets.add(col)
            if src_name != col:
                notes.append(f"column '{src_name}' read as '{col}'")
    dropped = [c for c in have if c not in renames]
    frame = frame.drop(columns=dropped).rename(columns=renames)
    if dropped:
        notes.append(
            f"columns not kept (not fields of {kind.name}): {', '.join(map(str, dropped))}"
        )
    return frame, notes


def _deduplicate(frame: gpd.GeoDataFrame, how: DuplicateIds) -> tuple[gpd.GeoDataFrame, list[str]]:
    if how == "refuse" or "id" not in frame.columns:
        return frame, []
    ids = frame["id"].astype(str)
    dup = ids.duplicated(keep="first")
    if not dup.any():
        return frame, []
    names = sorted(set(ids[dup]))
    if how == "drop-identical":
        # a repeat is dropped only when it is an exact copy (attributes and geometry)
        attrs = frame.drop(columns="geometry").astype(str)
        key = attrs.apply("\x1f".join, axis=1) + frame.geometry.to_wkb(hex=True)
        identical = key.duplicated(keep="first") & dup
        if not identical.any():
            return frame, []
        dropped = sorted(set(ids[identical]))
        note = (
            f"{int(identical.sum())} exact repeat(s) dropped (same attributes and geometry): "
            f"{', '.join(dropped)}"
        )
        return frame[~identical.to_numpy()].reset_index(drop=True), [note]
    if how == "keep-first":
        note = f"{int(dup.sum())} repeated feature(s) dropped, first kept: {', '.join(names)}"
        return frame[~dup.to_numpy()].reset_index(drop=True), [note]
    counter = ids.groupby(ids).cumcount() + 1
    frame = frame.copy()
    frame.loc[dup.to_numpy(), "id"] = ids[dup] + "-" + counter[dup].astype(str)
    renamed = ", ".join(frame.loc[dup.to_numpy(), "id"].astype(str))
    return frame, [f"{int(dup.sum())} repeated id(s) renamed: {renamed}"]


def _dependents_problems(
    kind: LayerKind, new_ids: set[str], store: Store, file: str
) -> list[Problem]:
    """Replacing a layer must not leave other layers pointing at ids that disappear."""
    problems = []
    for other in REGISTRY.values():
        for f in other.fields:
            if f.references != kind.name:
                continue
            frame = store.read(other.name)
            if frame.empty:
                continue
            refs = frame[f.name].dropna().astype(str)
            gone = frame.loc[refs.index[~refs.isin(new_ids)], ["id", f.name]]
            if len(gone):
                sample = ", ".join(f"{a}→{b}" for a, b in gone.head(5).itertuples(index=False))
                problems.append(
                    Problem(
                        file,
                        None,
                        None,
                        None,
                        f"replacing {kind.name} would leave {len(gone)} feature(s) of "
                        f"{other.name} pointing at ids the file does not have ({sample})",
                    )
                )
    return problems


def plan_import(
    layer: str,
    file: str,
    *,
    store: Store,
    mapping: Mapping[str, str] | None = None,
    crs: str | None = None,
    source_layer: str | None = None,
    limits: ReadLimits | None = None,
    replace: bool = False,
    duplicate_ids: DuplicateIds = "refuse",
    values: Mapping[str, str] | None = None,
    id_prefix: str | None = None,
    drop_empty: bool = False,
) -> ImportPlan:
    """Read and validate ``file`` for ``layer``; ``ValidationFailed`` lists every problem.

    ``values``: fields every feature gets (``--set``); ``id_prefix``: put before every id,
    or the features numbered after it when the file has no ids (``--id-prefix``);
    ``drop_empty``: leave out the features without geometry, naming them (``--drop-empty``),
    instead of refusing the file."""
    kind = layer_kind(layer)
    frame, info = read_features(file, crs=crs, source_layer=source_layer, limits=limits)
    frame, notes = _name_columns(frame, kind, mapping or {}, info.file)
    frame = _set_values(frame, kind, values or {}, info.file)
    if id_prefix:
        frame, note = _prefixed_ids(frame, id_prefix)
        notes.append(note)
    if drop_empty:
        frame, dropped = _without_empty(frame)
        notes += dropped
    frame, latin_notes = _latin_names(frame, kind)
    notes += latin_notes
    if kind.name == "licences" and "kind" not in frame.columns and "id" in frame.columns:
        frame["kind"] = [licence_kind_from_number(str(v)) for v in frame["id"]]
        notes.append("licence kind (MV/XV/other) taken from the licence number's prefix")
    frame, dedup_notes = _deduplicate(frame, duplicate_ids)
    notes += dedup_notes
    references = {f.references for f in kind.fields if f.references}
    validated = validate_layer(
        frame,
        kind,
        file=info.file,
        existing_ids=frozenset() if replace else store.ids(kind.name),
        reference_ids={ref: store.ids(ref) for ref in references if ref},
    )
    if replace:
        problems = _dependents_problems(kind, set(validated.frame["id"]), store, info.file)
        if problems:
            raise ValidationFailed(problems, warnings=validated.warnings)
    return ImportPlan(
        kind.name, validated.frame, info, replace, validated.warnings, info.notes + notes
    )


def commit_import(
    plan: ImportPlan, store: Store, *, progress: Callable[[int], None] | None = None
) -> None:
    """Write a validated plan in one transaction."""
    store.write(
        {plan.layer: plan.frame}, mode="replace" if plan.replace else "append", progress=progress
    )
