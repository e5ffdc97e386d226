"""The feature collections the OGC API serves, their data, and how items are selected.

Every store layer (``layers.schema.REGISTRY``) is a collection, and two derived, read-only
collections are computed from whole layers:

``overlaps``
    the shared areas of :func:`geo.rules.analyze`'s overlap findings, with their rule,
    severity, the two features and the hectares;
``available_land``
    the land still free in each Land Conclusion in force (:func:`geo.availability.availability`).

A collection's data (the features in a stable order, their official hectares, an STRtree, the
extents) is computed once and kept until a layer it comes from changes (``Store.revision``);
derived collections also depend on the day. Nothing here imports FastAPI.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Final

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely

from api.services.errors import BadRequest, NotFound
from geo.area import official_ha
from geo.availability import availability
from geo.records import usable_records
from geo.rules import OVERLAP_PAIRS, SEVERITIES
from geo.settings import AnalysisSettings
from layers.errors import InvalidGeometry
from layers.labels import LABELS, pair
from layers.schema import REGISTRY, STORE_CRS, FieldType
from layers.store import Store

Frames = Mapping[str, gpd.GeoDataFrame]


@dataclass(frozen=True)
class Sources:
    """What a derived collection is computed from: the source layers, the findings of every
    rule for the day (computed once per store revision and day by the service layer, shared
    with the pages), and the analysis settings."""

    frames: Frames
    findings: Callable[[dt.date], gpd.GeoDataFrame]
    settings: AnalysisSettings
    #: the available land of a day (kept and updated by the service layer)
    available: Callable[[dt.date], gpd.GeoDataFrame] | None = None


@dataclass(frozen=True)
class Queryable:
    """A property clients may filter on by equality (``?status=active``)."""

    name: str
    type: FieldType
    choices: tuple[str, ...] = ()

    def parse(self, value: str) -> object:
        """A query-string value as a value of this property.

        Raises
        ------
        BadRequest
            Naming the property and what its values look like.
        """
        try:
            if self.type == "int":
                return int(value)
            if self.type == "float":
                number = float(value)
                if not np.isfinite(number):
                    raise ValueError(value)
                return number
            if self.type == "date":
                return dt.date.fromisoformat(value)
        except ValueError:
            what = {"int": "a whole number", "float": "a number", "date": "a date (YYYY-MM-DD)"}
            raise BadRequest(f"{self.name}={value!r} is not {what[self.type]}") from None
        if self.choices and value not in self.choices:
            raise BadRequest(
                f"{self.name}={value!r} is not one of the values: {', '.join(self.choices)}"
            )
        return value

    def json_schema(self) -> dict[str, Any]:
        """This property as a JSON Schema (the ``queryables`` document)."""
        types = {"str": "string", "enum": "string", "int": "integer", "float": "number"}
        schema: dict[str, Any] = {"title": self.name}
        if self.type == "date":
            schema.update(type="string", format="date")
        else:
            schema["type"] = types[self.type]
        if self.choices:
            schema["enum"] = list(self.choices)
        return schema


@dataclass(frozen=True)
class CollectionDef:
    """What a collection is: its names, its properties and where its data comes from."""

    id: str
    title_mn: str
    title_en: str
    description_mn: str
    description_en: str
    queryables: tuple[Queryable, ...]
    #: the store layers the data is read or computed from
    sources: tuple[str, ...]
    #: the property the ``datetime`` parameter filters on
    main_date: str | None = None
    #: derived collections are computed (and depend on the day); others are a store layer
    derived: bool = False
    build: Callable[[Sources, dt.date], gpd.GeoDataFrame] | None = None

    @property
    def title(self) -> str:
        return f"{self.title_mn} / {self.title_en}"

    @property
    def description(self) -> str:
        return f"{self.description_mn} / {self.description_en}"

    def queryable(self, name: str) -> Queryable | None:
        for q in self.queryables:
            if q.name == name:
                return q
        return None


def _layer_def(name: str) -> CollectionDef:
    kind = REGISTRY[name]
    mn, en = LABELS["layer"].get(name, (name, name))
    role_mn, role_en = pair("collection_role", "core" if kind.role == "core" else "reference")
    queryables = (
        Queryable("id", "str"),
        *(Queryable(f.name, f.type, f.choices) for f in kind.fields),
    )
    return CollectionDef(
        id=name,
        title_mn=mn,
        title_en=en,
        description_mn=f"{mn}: {role_mn}",
        description_en=f"{en}: {role_en}",
        queryables=queryables,
        sources=(name,),
        main_date=kind.main_date,
    )


#: The rules whose findings are overlaps (shared areas of two features).
OVERLAP_RULES: Final[tuple[str, ...]] = tuple(
    dict.fromkeys(p.rule for p in OVERLAP_PAIRS if p.rule is not None)
)

OVERLAP_COLUMNS: Final = (
    "id", "rule", "severity", "a_layer", "a_id", "b_layer", "b_id", "overlap_ha", "soum_code",
    "message_mn", "message_en",
)  # fmt: skip


def _overlaps(sources: Sources, today: dt.date) -> gpd.GeoDataFrame:
    records = sources.findings(today)
    rows = records[records["rule"].isin(OVERLAP_RULES)].reset_index(drop=True)
    ids = rows["rule"].astype(str) + ":" + rows["a_id"].astype(str) + ":" + rows["b_id"].astype(str)
    dup = ids.duplicated(keep=False).to_numpy()
    if dup.any():  # the same pair twice under one rule: keep every id unique
        ids[dup] = ids[dup] + "#" + pd.Series(np.flatnonzero(dup), index=ids.index[dup]).astype(str)
    rows.insert(0, "id", ids)
    return gpd.GeoDataFrame(
        rows[list(OVERLAP_COLUMNS)], geometry=rows.geometry.array, crs=STORE_CRS
    )


def _available_land(sources: Sources, today: dt.date) -> gpd.GeoDataFrame:
    if sources.available is not None:
        return sources.available(today)
    # broken records (RECORD_INVALID in the findings) are left out, not a reason to fail
    frames = usable_records(sources.frames, references=False).frames
    frame = availability(
        frames["land_conclusions"],
        frames["contract_parcels"],
        frames["rehab_zones"],
        frames["exclusions"],
        frames["licences"],
        today=today,
    )
    frame.attrs.clear()
    return frame


_LAYERS: Final = tuple(REGISTRY)
_LAYER_CHOICES: Final = tuple(REGISTRY)


def _derived(
    cid: str,
    title: tuple[str, str],
    queryables: tuple[Queryable, ...],
    sources: tuple[str, ...],
    build: Callable[[Sources, dt.date], gpd.GeoDataFrame],
) -> CollectionDef:
    """A read-only collection computed from ``sources`` (its description is the catalogue's
    ``collection_description`` of ``cid``)."""
    mn, en = pair("collection_description", cid)
    return CollectionDef(
        id=cid, title_mn=title[0], title_en=title[1], description_mn=mn, description_en=en,
        queryables=queryables, sources=sources, derived=True, build=build,
    )  # fmt: skip


COLLECTIONS: Final[dict[str, CollectionDef]] = {
    **{name: _layer_def(name) for name in REGISTRY},
    "overlaps": _derived(
        "overlaps",
        pair("text", "layer_overlaps"),
        (
            Queryable("rule", "enum", OVERLAP_RULES),
            Queryable("severity", "enum", SEVERITIES),
            Queryable("a_layer", "enum", _LAYER_CHOICES),
            Queryable("a_id", "str"),
            Queryable("b_layer", "enum", _LAYER_CHOICES),
            Queryable("b_id", "str"),
            Queryable("soum_code", "str"),
        ),
        _LAYERS,
        _overlaps,
    ),
    "available_land": _derived(
        "available_land",
        pair("collection_title", "available_land"),
        (
            Queryable("id", "str"),
            Queryable("name", "str"),
            Queryable("soum_code", "str"),
            Queryable("aimag_code", "str"),
        ),
        ("land_conclusions", "contract_parcels", "rehab_zones", "exclusions", "licences"),
        _available_land,
    ),
}


def collection_def(collection_id: str) -> CollectionDef:
    """The collection called ``collection_id``; ``NotFound`` naming the collections otherwise."""
    try:
        return COLLECTIONS[collection_id]
    except KeyError:
        raise NotFound(
            f"there is no collection '{collection_id}'; the collections are: "
            f"{', '.join(COLLECTIONS)}"
        ) from None


def _official(geoms: npt.NDArray[np.object_]) -> npt.NDArray[np.float64]:
    """Official hectares of each geometry; NaN for a missing one or one that cannot be measured."""
    out = np.full(len(geoms), np.nan)
    present = np.flatnonzero(~shapely.is_missing(geoms))
    if present.size == 0:
        return out
    try:
        out[present] = official_ha(geoms[present])
    except InvalidGeometry:  # rare: measure one by one, leaving the bad ones out
        for i in present:
            try:
                out[i] = official_ha(geoms[i : i + 1])[0]
            except InvalidGeometry:
                out[i] = np.nan
    return out


@dataclass
class CollectionData:
    """A collection's features as served: stable order, official hectares, spatial index."""

    frame: gpd.GeoDataFrame
    main_date: str | None
    official_ha: npt.NDArray[np.float64] = field(init=False)
    #: built before the data is shared between request threads
    tree: shapely.STRtree = field(init=False)

    def __post_init__(self) -> None:
        self.frame = self.frame.reset_index(drop=True)
        self.official_ha = np.round(_official(self.geoms), 6)
        self.tree = shapely.STRtree(self.geoms)
        self.tree.query(shapely.box(0, 0, 0, 0))  # GEOS builds the tree on the first query

    def __len__(self) -> int:
        return len(self.frame)

    @cached_property
    def geoms(self) -> npt.NDArray[np.object_]:
        return np.asarray(self.frame.geometry.array, dtype=object)

    @cached_property
    def ids(self) -> npt.NDArray[np.object_]:
        return self.frame["id"].astype(str).to_numpy(dtype=object)

    @cached_property
    def positions(self) -> dict[str, int]:
        return {fid: i for i, fid in enumerate(self.ids.tolist())}

    @cached_property
    def bbox(self) -> tuple[float, float, float, float] | None:
        """Lon/lat bounds of every feature; ``None`` for a collection without geometry."""
        present = self.geoms[~(shapely.is_missing(self.geoms) | shapely.is_empty(self.geoms))]
        if present.size == 0:
            return None
        minx, miny, maxx, maxy = shapely.total_bounds(present)
        return (float(minx), float(miny), float(maxx), float(maxy))

    @cached_property
    def days(self) -> npt.NDArray[np.datetime64] | None:
        """The main date of each feature as ``datetime64[D]`` (NaT when missing)."""
        if self.main_date is None:
            return None
        return pd.to_datetime(self.frame[self.main_date], errors="coerce").to_numpy(
            dtype="datetime64[D]"
        )

    @cached_property
    def interval(self) -> tuple[dt.date, dt.date] | None:
        """The first and last main date; ``None`` without dates."""
        days = self.days
        if days is None:
            return None
        known = days[~np.isnat(days)]
        if known.size == 0:
            return None
        first, last = known.min().item(), known.max().item()
        return (first, last)

    def values(self, name: str) -> pd.Series:
        return self.frame[name]


@dataclass(frozen=True)
class ItemQuery:
    """What ``/items`` selects: a lon/lat bbox, a date interval and equality filters."""

    #: boxes in lon/lat (two when a box crosses the antimeridian)
    boxes: tuple[tuple[float, float, float, float], ...] = ()
    #: first and last day (inclusive); ``None`` at an end: open
    interval: tuple[dt.date | None, dt.date | None] | None = None
    #: property -> accepted values (any of them)
    equals: Mapping[str, Sequence[object]] = field(default_factory=dict)


def select(data: CollectionData, query: ItemQuery) -> npt.NDArray[np.intp]:
    """Positions (ascending, so pages are stable) of the features ``query`` keeps."""
    keep = np.ones(len(data), dtype=bool)
    if query.boxes:
        inside = np.zeros(len(data), dtype=bool)
        for box in query.boxes:
            hits = data.tree.query(shapely.box(*box), predicate="intersects")
            inside[hits] = True
        keep &= inside
    if query.interval is not None:
        days = data.days
        if days is None:
            raise BadRequest("this collection has no date to filter on; leave out 'datetime'")
        start, end = query.interval
        dated = ~np.isnat(days)
        if start is not None:
            dated &= days >= np.datetime64(start, "D")
        if end is not None:
            dated &= days <= np.datetime64(end, "D")
        keep &= dated
    for name, accepted in query.equals.items():
        column = data.values(name)
        keep &= np.asarray(column.isin(list(accepted)).fillna(False), dtype=bool)
    return np.flatnonzero(keep)


class CollectionCache:
    """Each collection's data, rebuilt only when a layer it comes from changes (or the day)."""

    def __init__(
        self,
        store: Store,
        read: Callable[[str], gpd.GeoDataFrame],
        *,
        settings: AnalysisSettings,
        findings: Callable[[dt.date], gpd.GeoDataFrame],
        available: Callable[[dt.date], gpd.GeoDataFrame] | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self._read = read
        self._findings = findings
        self._available = available
        self._locks = {cid: threading.Lock() for cid in COLLECTIONS}
        self._data: dict[str, tuple[tuple[object, ...], CollectionData]] = {}

    def key(self, definition: CollectionDef, today: dt.date) -> tuple[object, ...]:
        revisions = tuple(self.store.revision(name) for name in definition.sources)
        return (*revisions, today) if definition.derived else revisions

    def get(self, collection_id: str, *, today: dt.date | None = None) -> CollectionData:
        definition = collection_def(collection_id)
        day = today or dt.date.today()
        with self._locks[collection_id]:
            key = self.key(definition, day)
            hit = self._data.get(collection_id)
            if hit is not None and hit[0] == key:
                return hit[1]
            if definition.build is None:
                frame = self._read(collection_id)
            else:
                frames = {name: self._read(name) for name in definition.sources}
                sources = Sources(frames, self._findings, self.settings, self._available)
                frame = definition.build(sources, day)
            data = CollectionData(frame, definition.main_date)
            self._data[collection_id] = (key, data)
            return data
