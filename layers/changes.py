"""What changed in a layer between two store revisions, as the caches apply it.

A :class:`LayerDelta` is what the layer cache hands to everything kept per revision (official
hectares, spatial indexes, the derived collections, availability) so that each updates what the
change touched instead of recomputing the whole layer. It is made either from the store's change
feed (the rows written since a revision, whoever wrote them: Gazar, QGIS or psql) or, where no
feed covers the span, by comparing two versions of the layer (:func:`diff_frames`).
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely


@dataclass(frozen=True)
class LayerDelta:
    """The change of one layer from the cached version to the store's current one.

    Attributes
    ----------
    layer
        The layer's name.
    upserted
        The rows inserted or updated, as they are now (same columns as the layer, ``id``
        included, EPSG:4326).
    deleted
        The ids of rows deleted.
    previous
        The rows of ``upserted`` that existed before and the rows of ``deleted``, as they were
        (so that a cache can take back what the old version contributed, e.g. the Land
        Conclusion a parcel was moved out of).
    """

    layer: str
    upserted: gpd.GeoDataFrame
    deleted: tuple[str, ...]
    previous: gpd.GeoDataFrame

    @property
    def empty(self) -> bool:
        return len(self.upserted) == 0 and not self.deleted

    @property
    def size(self) -> int:
        """How many rows changed."""
        return len(self.upserted) + len(self.deleted)

    def touched(self) -> gpd.GeoSeries:
        """Every geometry the change touched, old and new (for finding what depends on it)."""
        parts = [self.upserted.geometry, self.previous.geometry]
        return gpd.GeoSeries(pd.concat(parts, ignore_index=True), crs=self.upserted.crs)


def diff_frames(layer: str, old: gpd.GeoDataFrame, new: gpd.GeoDataFrame) -> LayerDelta:
    """The delta from ``old`` to ``new`` (both with an ``id`` column), found by comparing them.

    A row is upserted when its id is new, or when any attribute or its geometry (exactly, by
    WKB) differs; deleted when its id is gone.
    """
    old_ids = old["id"].astype(str).to_numpy()
    new_ids = new["id"].astype(str).to_numpy()
    gone = np.setdiff1d(old_ids, new_ids)
    common = np.intersect1d(old_ids, new_ids)
    added = np.setdiff1d(new_ids, old_ids)
    o = old.set_index(old["id"].astype(str)).loc[common]
    n = new.set_index(new["id"].astype(str)).loc[common]
    columns = [c for c in n.columns if c != n.geometry.name and c in o.columns]
    same_attrs = (
        (o[columns].astype(object).where(o[columns].notna(), None).to_numpy()
         == n[columns].astype(object).where(n[columns].notna(), None).to_numpy()).all(axis=1)
        if columns
        else np.ones(len(common), dtype=bool)
    )  # fmt: skip
    same_geom = shapely.to_wkb(o.geometry.to_numpy()) == shapely.to_wkb(n.geometry.to_numpy())
    changed = common[~(same_attrs & same_geom)]
    up_ids = np.concatenate([added, changed])
    upserted = new[new["id"].astype(str).isin(up_ids)]
    previous = old[old["id"].astype(str).isin(np.concatenate([changed, gone]))]
    return LayerDelta(layer, upserted, tuple(str(i) for i in gone), previous)


__all__ = ["LayerDelta", "diff_frames"]
