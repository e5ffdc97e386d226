"""The input of a desk review (:mod:`geo.review`): the layers it compares a proposal with,
indexed once (:class:`ReviewContext`), and the proposal itself: its ids and the features no
analysis can use (:class:`geo.review_types.Problem`).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely

from geo.review_types import Problem
from geo.vocab import is_missing
from layers.labels import messages
from layers.schema import MONGOLIA_BOUNDS, REGISTRY, STORE_CRS

#: The layers a review looks at.
REVIEW_LAYERS: Final = (
    "land_conclusions",
    "contract_parcels",
    "rehab_zones",
    "exclusions",
    "licences",
    "soums",
    "aimags",
)

_POLYGONAL = (shapely.GeometryType.POLYGON, shapely.GeometryType.MULTIPOLYGON)


class ReviewContext:
    """The layers a review compares a proposal with, each indexed once (``STRtree``).

    Build it once (e.g. when a server starts, or once per ``gazar check``) and pass it to
    :func:`review` as ``layers``; each review then only touches the features near the
    proposal.

    Parameters
    ----------
    layers : mapping of str to GeoDataFrame
        Layers by name in EPSG:4326 with their schema columns (``Store.read``); missing
        layers count as empty.

    Examples
    --------
    >>> from shapely import box
    >>> lcs = gpd.GeoDataFrame({"id": ["LC-1"]}, geometry=[box(106, 47, 106.1, 47.1)], crs=4326)
    >>> ctx = ReviewContext({"land_conclusions": lcs})
    >>> ctx.near("land_conclusions", np.array([box(106.05, 47.05, 106.2, 47.2)]))["id"].tolist()
    ['LC-1']
    """

    def __init__(self, layers: Mapping[str, gpd.GeoDataFrame]) -> None:
        self._frames: dict[str, gpd.GeoDataFrame] = {}
        self._trees: dict[str, SpatialIndex] = {}
        self._ids: dict[str, pd.Index] = {}
        #: ids left out of each layer (:meth:`without`)
        self._hidden: dict[str, frozenset[str]] = {}
        for name in REVIEW_LAYERS:
            self._set(name, review_layer(layer_or_empty(layers, name), name))

    @classmethod
    def of_layers(cls, layers: Mapping[str, ReviewLayer]) -> ReviewContext:
        """A context of layers already indexed (:func:`review_layer`), e.g. kept per layer
        revision by a server so that a write re-indexes only the layer it changed; missing
        layers count as empty."""
        ctx = cls({})
        for name, layer in layers.items():
            if name in REVIEW_LAYERS:
                ctx._set(name, layer)
        return ctx

    def _set(self, name: str, layer: ReviewLayer) -> None:
        self._frames[name] = layer.frame
        self._trees[name] = layer.tree
        self._ids[name] = layer.frame.index

    def without(self, layer: str, ids: Sequence[str]) -> ReviewContext:
        """The same layers with the features ``ids`` of ``layer`` left out (the indexes are
        shared, not rebuilt): a stored feature reviewed against the rest of the store.

        Examples
        --------
        >>> from shapely import box
        >>> lcs = gpd.GeoDataFrame({"id": ["A", "B"]}, crs=4326,
        ...     geometry=[box(106, 47, 106.1, 47.1), box(106.05, 47, 106.2, 47.1)])
        >>> ctx = ReviewContext({"land_conclusions": lcs}).without("land_conclusions", ["A"])
        >>> ctx.near("land_conclusions", np.array([box(106, 47, 106.1, 47.1)]))["id"].tolist()
        ['B']
        """
        other = copy.copy(self)
        other._hidden = {**self._hidden, layer: frozenset(str(i) for i in ids)}
        return other

    def _shown(self, layer: str, frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
        hidden = self._hidden.get(layer)
        return frame if not hidden else frame[~frame.index.isin(list(hidden))]

    def frame(self, layer: str) -> gpd.GeoDataFrame:
        """The whole layer, indexed by id (as ``near`` and ``by_id`` return features)."""
        return self._shown(layer, self._frames[layer])

    def near(self, layer: str, geoms: npt.NDArray[np.object_]) -> gpd.GeoDataFrame:
        """The features of ``layer`` intersecting any of ``geoms``."""
        if len(geoms) == 0:
            return self._frames[layer].iloc[:0]
        hits = np.unique(self._trees[layer].query(geoms, predicate="intersects")[1])
        return self._shown(layer, self._frames[layer].iloc[hits])

    def by_id(self, layer: str, ids: Sequence[str]) -> gpd.GeoDataFrame:
        """The features of ``layer`` with these ids (unknown ids are skipped)."""
        pos = self._ids[layer].get_indexer(pd.Index([str(i) for i in ids]))
        return self._shown(layer, self._frames[layer].iloc[np.unique(pos[pos >= 0])])


class SpatialIndex(Protocol):
    """What a review asks of a layer's index: ``shapely.STRtree.query`` over its rows
    (``geo.index.PatchedIndex`` answers the same)."""

    def query(self, geoms: Any, predicate: str | None = None) -> npt.NDArray[np.intp]: ...


@dataclass(frozen=True)
class ReviewLayer:
    """One layer as a review reads it: indexed by id, and its spatial index (positions are
    the frame's rows)."""

    frame: gpd.GeoDataFrame
    tree: SpatialIndex


def review_layer(
    frame: gpd.GeoDataFrame, name: str, tree: SpatialIndex | None = None
) -> ReviewLayer:
    """``frame`` (a layer in EPSG:4326 with an ``id`` column) indexed by id for a review.

    ``tree``, an index already built over ``frame``'s rows in order (the server's
    ``LayerCache.index``), is reused when the ids are unique, as the store keeps them; a
    repeated id keeps its first feature, and the index is then built over those.
    """
    if frame.crs is None or frame.crs.to_epsg() != 4326:
        raise ValueError(f"layer '{name}' must be in EPSG:4326, not {frame.crs}")
    first = ~frame["id"].duplicated().to_numpy(dtype=bool)
    if not first.all():
        frame, tree = frame[first], None
    frame = frame.set_axis(pd.Index(frame["id"].astype(str).to_numpy(dtype=object)))
    if tree is None:
        tree = shapely.STRtree(np.asarray(frame.geometry.array, dtype=object))
    return ReviewLayer(frame, tree)


def proposal_frame(proposal: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The proposal in EPSG:4326 with the ids a review gives its features: ``id``, else ``#1``,
    ``#2``... (by position).

    Examples
    --------
    >>> p = gpd.GeoDataFrame({"id": ["A", None]}, geometry=[None, None], crs=4326)
    >>> proposal_frame(p)["id"].tolist()
    ['A', '#2']
    """
    if not isinstance(proposal, gpd.GeoDataFrame):
        raise ValueError(f"the proposal must be a GeoDataFrame, not {type(proposal).__name__}")
    if proposal.crs is None:
        raise ValueError("the proposal has no CRS; say which (EPSG:4326 for lon/lat)")
    frame = proposal.reset_index(drop=True)
    if frame.crs is not None and frame.crs.to_epsg() != 4326:
        frame = frame.to_crs(STORE_CRS)
    given = frame["id"].to_numpy(dtype=object) if "id" in frame.columns else [None] * len(frame)
    frame["id"] = np.array(
        [f"#{i + 1}" if _blank(v) else str(v) for i, v in enumerate(given)], dtype=object
    )
    return frame


def _blank(value: object) -> bool:
    """Whether a proposed feature's id is missing (None, NaN, NA) or only white space."""
    return is_missing(value) or not str(value).strip()


def proposal_problems(frame: gpd.GeoDataFrame) -> list[Problem]:
    """Features of ``frame`` no analysis can use, each with its reason (in input order).

    Examples
    --------
    >>> p = gpd.GeoDataFrame({"id": ["A"]}, geometry=[shapely.Point(106, 47)], crs=4326)
    >>> proposal_problems(p)[0].reason_en
    'a Point is not a polygon; a proposal must be an area'
    """
    geoms = np.asarray(frame.geometry.array, dtype=object)
    n = len(geoms)
    reasons: list[tuple[str, str] | None] = [None] * n  # (Mongolian, English)
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    for i in np.flatnonzero(missing):
        reasons[i] = messages("review_problem", "empty")
    types = shapely.get_type_id(geoms)
    wrong = ~missing & ~np.isin(types, _POLYGONAL)
    for i in np.flatnonzero(wrong):
        reasons[i] = messages("review_problem", "not_polygon", kind=geoms[i].geom_type)
    check = np.flatnonzero(~missing & ~wrong)
    coords, owner = shapely.get_coordinates(geoms[check], return_index=True)
    finite = np.ones(n, dtype=bool)
    finite[check[owner[~np.isfinite(coords).all(axis=1)]]] = False
    for i in np.flatnonzero(~finite):
        reasons[i] = messages("review_problem", "not_finite")
    bounds = shapely.bounds(geoms)
    x0, y0, x1, y1 = MONGOLIA_BOUNDS
    with np.errstate(invalid="ignore"):
        inside = (
            (bounds[:, 0] >= x0)
            & (bounds[:, 2] <= x1)
            & (bounds[:, 1] >= y0)
            & (bounds[:, 3] <= y1)
        )
        swapped = (
            (bounds[:, 1] >= x0)
            & (bounds[:, 3] <= x1)
            & (bounds[:, 0] >= y0)
            & (bounds[:, 2] <= y1)
        )
    for i in np.flatnonzero(~missing & ~wrong & finite & ~inside):
        box = ", ".join(f"{v:.6f}" for v in bounds[i])
        mn, en = messages("review_problem", "outside_mongolia", box=box, x0=x0, x1=x1, y0=y0,
                          y1=y1)  # fmt: skip
        if swapped[i]:
            more_mn, more_en = messages("review_problem", "swapped")
            mn, en = mn + more_mn, en + more_en
        reasons[i] = (mn, en)
    ids = frame["id"].to_numpy(dtype=object)
    problems = [
        Problem(i, str(ids[i]), reason_en=en, reason_mn=mn)
        for i, why in enumerate(reasons)
        if why is not None
        for mn, en in (why,)
    ]
    if n == 0:
        mn, en = messages("review_problem", "no_features")
        problems.append(Problem(None, None, reason_en=en, reason_mn=mn))
    return problems


def layer_or_empty(layers: Mapping[str, gpd.GeoDataFrame], name: str) -> gpd.GeoDataFrame:
    """``layers[name]``, or an empty frame with the layer's schema columns."""
    frame = layers.get(name)
    if frame is None:
        return gpd.GeoDataFrame(
            {c: pd.Series([], dtype=object) for c in REGISTRY[name].columns},
            geometry=gpd.GeoSeries([], crs=STORE_CRS),
            crs=STORE_CRS,
        )
    if "id" not in frame.columns:
        raise ValueError(f"layer '{name}' has no 'id' column to name its features")
    return frame
