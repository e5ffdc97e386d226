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
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Final, cast

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely

from api.services.errors import BadRequest, NotFound
from api.services.layers import LayerView, measured_ha
from geo.availability import availability
from geo.records import usable_records
from geo.rules import OVERLAP_PAIRS, SEVERITIES
from geo.settings import AnalysisSettings
from layers.labels import LABELS, pair
from layers.schema import AREA_LAYERS, REGISTRY, STORE_CRS, FieldType
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
    #: the findings of some rules for the day (made of only their rows)
    findings_of: Callable[[dt.date, Sequence[str]], gpd.GeoDataFrame] | None = None


class _LazyFrames(Mapping[str, gpd.GeoDataFrame]):
    """The source layers of a derived collection, each read when first asked: a collection
    built from the kept findings or available land makes no layer whole."""

    def __init__(self, names: Sequence[str], read: Callable[[str], gpd.GeoDataFrame]) -> None:
        self._names = tuple(names)
        self._read = read
        self._got: dict[str, gpd.GeoDataFrame] = {}

    def __getitem__(self, name: str) -> gpd.GeoDataFrame:
        if name not in self._names:
            raise KeyError(name)
        if name not in self._got:
            self._got[name] = self._read(name)
        return self._got[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)


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
    if sources.findings_of is not None:
        rows = sources.findings_of(today, OVERLAP_RULES).reset_index(drop=True)
    else:
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
_LAYER_CHOICES: Final = AREA_LAYERS


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


def _days(values: pd.Series) -> npt.NDArray[np.datetime64]:
    return pd.to_datetime(values, errors="coerce").to_numpy(dtype="datetime64[D]")


class CollectionData:
    """A collection's features as served: a stable order (positions), official hectares, a
    spatial index and the extents. :class:`FrameData` holds a whole frame (the derived
    collections); :class:`LayerData` a store layer's :class:`~api.services.layers.LayerView`,
    so that a page after a write copies only its rows."""

    main_date: str | None

    def __len__(self) -> int:
        raise NotImplementedError

    @property
    def frame(self) -> gpd.GeoDataFrame:
        """Every feature, in position order."""
        raise NotImplementedError

    def hits(self, box: shapely.Geometry) -> npt.NDArray[np.intp]:
        """Positions of the features whose geometry intersects ``box``."""
        raise NotImplementedError

    def isin(self, name: str, accepted: Sequence[object]) -> npt.NDArray[np.bool_]:
        """Per position: is the value of property ``name`` one of ``accepted``."""
        raise NotImplementedError

    def rows(
        self, positions: npt.NDArray[np.intp]
    ) -> tuple[gpd.GeoDataFrame, npt.NDArray[np.float64], npt.NDArray[np.object_]]:
        """The features at ``positions``: their rows, official hectares and geometries."""
        raise NotImplementedError

    def position(self, feature_id: str) -> int | None:
        """The position of feature ``feature_id``; None when there is none."""
        raise NotImplementedError

    @property
    def days(self) -> npt.NDArray[np.datetime64] | None:
        """The main date of each feature as ``datetime64[D]`` (NaT when missing)."""
        raise NotImplementedError

    @property
    def bbox(self) -> tuple[float, float, float, float] | None:
        """Lon/lat bounds of every feature; ``None`` for a collection without geometry."""
        raise NotImplementedError

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


class FrameData(CollectionData):
    """A collection built from a whole frame, kept with its hectares and STRtree."""

    def __init__(self, frame: gpd.GeoDataFrame, main_date: str | None) -> None:
        self._frame = frame.reset_index(drop=True)
        self.main_date = main_date
        self.geoms = np.asarray(self._frame.geometry.array, dtype=object)
        self.official_ha = np.round(measured_ha(self.geoms), 6)
        #: built before the data is shared between request threads
        self.tree = shapely.STRtree(self.geoms)
        self.tree.query(shapely.box(0, 0, 0, 0))  # GEOS builds the tree on the first query

    def __len__(self) -> int:
        return len(self._frame)

    @property
    def frame(self) -> gpd.GeoDataFrame:
        return self._frame

    def hits(self, box: shapely.Geometry) -> npt.NDArray[np.intp]:
        return cast("npt.NDArray[np.intp]", self.tree.query(box, predicate="intersects"))

    def isin(self, name: str, accepted: Sequence[object]) -> npt.NDArray[np.bool_]:
        return np.asarray(self._frame[name].isin(list(accepted)).fillna(False), dtype=bool)

    def rows(
        self, positions: npt.NDArray[np.intp]
    ) -> tuple[gpd.GeoDataFrame, npt.NDArray[np.float64], npt.NDArray[np.object_]]:
        return self._frame.iloc[positions], self.official_ha[positions], self.geoms[positions]

    @cached_property
    def _positions(self) -> dict[str, int]:
        ids = self._frame["id"].astype(str).tolist()
        return {fid: i for i, fid in enumerate(ids)}

    def position(self, feature_id: str) -> int | None:
        return self._positions.get(feature_id)

    @cached_property
    def days(self) -> npt.NDArray[np.datetime64] | None:
        return None if self.main_date is None else _days(self._frame[self.main_date])

    @cached_property
    def bbox(self) -> tuple[float, float, float, float] | None:
        present = self.geoms[~(shapely.is_missing(self.geoms) | shapely.is_empty(self.geoms))]
        if present.size == 0:
            return None
        minx, miny, maxx, maxy = shapely.total_bounds(present)
        return (float(minx), float(miny), float(maxx), float(maxy))


class LayerData(CollectionData):
    """A store layer served from the layer cache's view of it: a bbox answered by the base's
    tree (less its rows gone) and the overlay's, a page gathered from base and overlay rows,
    hectares and dates computed once per base and only for the overlay's rows after."""

    def __init__(self, view: LayerView, main_date: str | None) -> None:
        self.view = view
        self.main_date = main_date

    def __len__(self) -> int:
        return len(self.view)

    @property
    def frame(self) -> gpd.GeoDataFrame:
        return self.view.frame()

    def hits(self, box: shapely.Geometry) -> npt.NDArray[np.intp]:
        return self.view.index().query(box, predicate="intersects")

    def isin(self, name: str, accepted: Sequence[object]) -> npt.NDArray[np.bool_]:
        view, values = self.view, list(accepted)

        def mask(frame: gpd.GeoDataFrame) -> npt.NDArray[np.bool_]:
            return np.asarray(frame[name].isin(values).fillna(False), dtype=bool)

        return cast("npt.NDArray[np.bool_]", view.merge(mask(view.base.frame), mask(view.overlay)))

    def rows(
        self, positions: npt.NDArray[np.intp]
    ) -> tuple[gpd.GeoDataFrame, npt.NDArray[np.float64], npt.NDArray[np.object_]]:
        frame = self.view.take(positions)
        geoms = np.asarray(frame.geometry.array, dtype=object)
        return frame, np.round(self.view.ha_at(positions), 6), geoms

    def position(self, feature_id: str) -> int | None:
        return self.view.position(feature_id)

    @cached_property
    def days(self) -> npt.NDArray[np.datetime64] | None:
        column = self.main_date
        if column is None:
            return None
        view = self.view
        base = view.base.memo(("days", column), lambda: _days(view.base.frame[column]))
        return cast("npt.NDArray[np.datetime64]", view.merge(base, _days(view.overlay[column])))

    @cached_property
    def bbox(self) -> tuple[float, float, float, float] | None:
        view = self.view
        base = view.base.memo("bounds", lambda: shapely.bounds(view.base.geoms))
        bounds = np.concatenate([base[view.live], shapely.bounds(view.overlay_geoms)])
        present = bounds[~np.isnan(bounds).any(axis=1)]
        if present.size == 0:
            return None
        minx, miny = present[:, 0].min(), present[:, 1].min()
        maxx, maxy = present[:, 2].max(), present[:, 3].max()
        return (float(minx), float(miny), float(maxx), float(maxy))


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
            inside[data.hits(shapely.box(*box))] = True
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
        keep &= data.isin(name, accepted)
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
        views: Callable[[str], LayerView] | None = None,
        findings_of: Callable[[dt.date, Sequence[str]], gpd.GeoDataFrame] | None = None,
    ) -> None:
        self.store = store
        self._findings_of = findings_of
        #: a store layer's view now (the layer cache's): its pages copy only their rows
        self._views = views
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
            if definition.build is None and self._views is not None:
                view = self._views(collection_id)  # the layer cache asks the revision
                old = self._data.get(collection_id)
                if old is not None and isinstance(old[1], LayerData) and old[1].view is view:
                    return old[1]
                data: CollectionData = LayerData(view, definition.main_date)
                self._data[collection_id] = ((), data)
                return data
            key = self.key(definition, day)
            hit = self._data.get(collection_id)
            if hit is not None and hit[0] == key:
                return hit[1]
            if definition.build is None:
                frame = self._read(collection_id)
            else:
                frames = _LazyFrames(definition.sources, self._read)
                sources = Sources(
                    frames, self._findings, self.settings, self._available, self._findings_of
                )
                frame = definition.build(sources, day)
            data = FrameData(frame, definition.main_date)
            self._data[collection_id] = (key, data)
            return data
