"""A spatial index that follows a layer's changes without being rebuilt for each one.

:class:`PatchedIndex` answers as one ``shapely.STRtree`` over the layer's current geometries
would: a main tree built over the layer at some point, plus a small side tree of the features
inserted or changed since, and a map from each tree entry to the feature's current position
(-1 for entries deleted or replaced). A change (:meth:`PatchedIndex.patched`) rebuilds only the
side tree; when the side outgrows ``max(SIDE_MIN, SIDE_SHARE x features)`` the whole index is
rebuilt from the current geometries.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import shapely

#: the side tree is folded into a rebuilt main tree when it holds more entries than this share
#: of the features (or than ``SIDE_MIN``, whichever is larger)
SIDE_SHARE = 0.05
SIDE_MIN = 256

_Geoms = npt.NDArray[np.object_]
_Ints = npt.NDArray[np.intp]


def _tree(geoms: _Geoms) -> shapely.STRtree:
    tree = shapely.STRtree(geoms)
    tree.query(shapely.box(0, 0, 0, 0))  # GEOS builds the tree on the first query: do it now
    return tree


class PatchedIndex:
    """The spatial index of a layer's geometries, patched for changes (see the module).

    Immutable once made: a patch returns a new index sharing the main tree, so readers on other
    threads keep a consistent one.

    Parameters
    ----------
    geoms
        The layer's geometries, in its row order; tree indices are positions in it.

    Examples
    --------
    >>> from shapely import box
    >>> index = PatchedIndex(np.array([box(0, 0, 1, 1), box(2, 0, 3, 1)]))
    >>> # row 0 deleted, a new row appended: the layer is now [box(2,0,3,1), box(0,0,1,1)]
    >>> index = index.patched(np.array([-1, 0]), np.array([box(0, 0, 1, 1)]), np.array([1]))
    >>> index.query(np.array([box(0.5, 0.5, 2.5, 0.6)]), predicate="intersects").tolist()
    [[0, 0], [0, 1]]
    """

    def __init__(self, geoms: _Geoms) -> None:
        geoms = np.asarray(geoms, dtype=object)
        self._main = _tree(geoms)
        self._main_geoms = geoms
        self._main_pos: _Ints = np.arange(len(geoms), dtype=np.intp)
        self._side: shapely.STRtree | None = None
        self._side_geoms: _Geoms = np.empty(0, dtype=object)
        self._side_pos: _Ints = np.empty(0, dtype=np.intp)
        self._n = len(geoms)

    def __len__(self) -> int:
        """How many features the index holds now."""
        return self._n

    @property
    def side_size(self) -> int:
        """How many entries the side tree holds (0 right after a rebuild)."""
        return len(self._side_pos)

    @property
    def geometries(self) -> _Geoms:
        """The current geometries by position (as the layer holds them now)."""
        out = np.empty(self._n, dtype=object)
        live = self._main_pos >= 0
        out[self._main_pos[live]] = self._main_geoms[live]
        out[self._side_pos] = self._side_geoms
        return out

    def patched(self, old_to_new: _Ints, geoms: _Geoms, positions: _Ints) -> PatchedIndex:
        """The index after a change of the layer.

        Parameters
        ----------
        old_to_new
            For each current position, its position after the change, or -1 for a feature
            deleted or replaced.
        geoms, positions
            The geometries of the features inserted or replaced, and their positions after the
            change.
        """
        old_to_new = np.asarray(old_to_new, dtype=np.intp)
        positions = np.asarray(positions, dtype=np.intp)
        n = int((old_to_new >= 0).sum()) + len(positions)
        other = object.__new__(PatchedIndex)
        other._main, other._main_geoms, other._n = self._main, self._main_geoms, n
        live = self._main_pos >= 0
        main_pos = np.full(len(self._main_pos), -1, dtype=np.intp)
        main_pos[live] = old_to_new[self._main_pos[live]]
        other._main_pos = main_pos
        side_pos = old_to_new[self._side_pos] if len(self._side_pos) else self._side_pos
        kept = side_pos >= 0
        other._side_geoms = np.concatenate([self._side_geoms[kept], np.asarray(geoms, object)])
        other._side_pos = np.concatenate([side_pos[kept], positions]).astype(np.intp)
        if len(other._side_pos) > max(SIDE_MIN, SIDE_SHARE * n):
            return PatchedIndex(other.geometries)
        other._side = _tree(other._side_geoms) if len(other._side_pos) else None
        return other

    def overlaid(
        self, main_pos: _Ints, side_geoms: _Geoms, side_pos: _Ints, side: shapely.STRtree | None
    ) -> PatchedIndex:
        """This index's main tree under a new map and side: ``main_pos`` gives each main entry's
        current position (-1: gone), ``side_geoms`` at ``side_pos`` are the features since
        (their tree ``side``, built when None). For a cache that keeps a base layer and an
        overlay of changed rows: no rebuild of the main tree and no fold (the cache folds)."""
        main_pos = np.asarray(main_pos, dtype=np.intp)
        side_pos = np.asarray(side_pos, dtype=np.intp)
        if len(main_pos) != len(self._main_pos):
            raise ValueError("main_pos must give a position for every main entry")
        other = object.__new__(PatchedIndex)
        other._main, other._main_geoms, other._main_pos = self._main, self._main_geoms, main_pos
        other._side_geoms = np.asarray(side_geoms, dtype=object)
        other._side_pos = side_pos
        if side is None and len(side_pos):
            side = _tree(other._side_geoms)
        other._side = side if len(side_pos) else None
        other._n = int((main_pos >= 0).sum()) + len(side_pos)
        return other

    def query(self, geoms: object, predicate: str | None = None) -> _Ints:
        """As ``shapely.STRtree.query`` over the current geometries: for an array of
        geometries a ``(2, k)`` array of (input position, feature position) pairs sorted by
        input then feature; for one geometry the sorted feature positions."""
        scalar = not isinstance(geoms, np.ndarray | list | tuple)
        arr = np.asarray([geoms] if scalar else geoms, dtype=object)
        parts = []
        for tree, pos in ((self._main, self._main_pos), (self._side, self._side_pos)):
            if tree is None:
                continue
            got = tree.query(arr, predicate=predicate)
            mapped = pos[got[1]]
            live = mapped >= 0
            parts.append(np.stack([got[0][live], mapped[live]]))
        pairs = np.concatenate(parts, axis=1) if parts else np.empty((2, 0), dtype=np.intp)
        pairs = pairs[:, np.lexsort((pairs[1], pairs[0]))]
        return pairs[1] if scalar else pairs


__all__ = ["PatchedIndex"]
