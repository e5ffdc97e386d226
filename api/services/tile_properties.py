"""The properties a vector tile's features carry (:mod:`api.services.tiles`), kept per layer
base and overlay so that a write converts only its own rows: ``id`` and the styling columns as
MVT values (text, whole numbers, floats, booleans; None leaves a property out), gathered for
the positions a tile holds."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from api.services.collections import CollectionData, LayerData


@dataclass(frozen=True)
class TileProperties:
    """The tile properties of every position without one array per revision: a layer's
    values per base row (made once per base) and per overlay row, and each position's row in
    them (``-1 - k``: overlay row k), gathered only for the positions a tile holds; a whole
    frame's values are its own (``row_of`` None)."""

    base: dict[str, npt.NDArray[np.object_]]
    overlay: dict[str, npt.NDArray[np.object_]]
    row_of: npt.NDArray[np.intp] | None = None

    def __iter__(self) -> Iterator[str]:
        return iter(self.base)

    def __contains__(self, name: object) -> bool:
        return name in self.base

    def take(self, name: str, positions: npt.NDArray[np.intp]) -> npt.NDArray[np.object_]:
        if self.row_of is None:
            return self.base[name][positions]
        rows = self.row_of[positions]
        out = np.empty(len(rows), dtype=object)
        in_base = rows >= 0
        out[in_base] = self.base[name][rows[in_base]]
        if not in_base.all():
            out[~in_base] = self.overlay[name][-1 - rows[~in_base]]
        return out


def tile_properties(data: CollectionData, names: Sequence[str]) -> TileProperties:
    """The columns ``names`` as MVT values: a layer's base columns made once per base (a
    write converts only its overlay's rows), a derived frame's whole."""
    if isinstance(data, LayerData):
        view = data.view

        def base(name: str) -> npt.NDArray[np.object_]:
            return view.base.memo(("tile_col", name), lambda: mvt_values(view.base.frame[name]))

        return TileProperties(
            {n: base(n) for n in names},
            {n: mvt_values(view.overlay[n]) for n in names},
            view.source(),
        )
    return TileProperties({n: mvt_values(data.frame[n]) for n in names}, {})


def mvt_values(values: pd.Series) -> npt.NDArray[np.object_]:
    """A column as MVT values: text, whole numbers and floats; None for a missing value."""
    out = values.astype(object).to_numpy(dtype=object, copy=True)
    missing = pd.isna(values).to_numpy()
    out[missing] = None
    if set(map(type, out[~missing])) <= {str, int, float, bool}:
        return out  # text and Python numbers (the usual): nothing to convert
    for i in np.flatnonzero(~missing):
        v = out[i]
        if isinstance(v, np.generic):
            out[i] = v.item()
        elif not isinstance(v, str | int | float | bool):
            out[i] = str(v)
    return out
