"""The kept findings of a :class:`geo.incremental.DerivedState`: one frame per rule, each with
its rows' features as integer codes, so that a catch-up finds the rows a change touches in
integer arrays and copies only the rules whose rows changed, and a reader of a few rules (the
``overlaps`` collection) takes only theirs.

The rows of every rule's frame are in the order of :func:`geo.rules.findings._finish` (rule,
soum, feature, other feature): the rules' frames one after the other, in ``RULES`` order, are
the whole findings frame (:attr:`KeptFindings.whole`).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd

from geo.rules.catalogue import RULES

BoolArray = npt.NDArray[np.bool_]
Codes = npt.NDArray[np.int64]
#: each rule's place in the findings' order (``geo.rules.findings._finish``)
RANK = {c: i for i, c in enumerate(RULES)}
#: the rows of a chunk of one rule's findings (a chunk of more than twice as many is split)
CHUNK = 4096


@dataclass(frozen=True)
class _Part:
    """The findings of one rule, with the code of each row's ``a`` and ``b`` feature."""

    frame: gpd.GeoDataFrame
    a: Codes
    b: Codes


class KeptFindings:
    """The findings, kept per rule in chunks of at most about :data:`CHUNK` rows (see the
    module): a change copies only the chunks it touches.

    ``vocab`` gives each (layer, id) a code (it only grows: codes of features gone stay
    unused); a row without a ``b`` feature has code -1.
    """

    def __init__(
        self,
        chunks: list[tuple[str, _Part]],
        empty: gpd.GeoDataFrame,
        vocab: dict[tuple[str, str], int],
        whole: gpd.GeoDataFrame | None = None,
    ) -> None:
        #: (rule, rows) in the findings' order, every chunk with a row
        self.chunks = chunks
        self._empty = empty
        self._vocab = vocab
        self._whole = whole
        lengths = [len(p.frame) for _, p in chunks]
        self._starts = np.cumsum([0, *lengths])
        none = [np.empty(0, np.int64)]
        self.a = np.concatenate([p.a for _, p in chunks] or none)
        self.b = np.concatenate([p.b for _, p in chunks] or none)
        self.rule = np.repeat(np.array([RANK[r] for r, _ in chunks], dtype=np.int64), lengths)

    @classmethod
    def of_records(cls, records: gpd.GeoDataFrame) -> KeptFindings:
        """The findings ``records`` (``_finish``'s order) kept per rule."""
        records = records.reset_index(drop=True)
        vocab: dict[tuple[str, str], int] = {}
        rule = records["rule"].to_numpy(dtype=object)
        unknown = set(pd.unique(rule)) - RANK.keys()
        if unknown:
            raise ValueError(f"findings of rules not in the catalogue: {sorted(unknown)}")
        if np.any(np.diff(np.array([RANK[r] for r in rule], dtype=np.int64)) < 0):
            raise ValueError("the findings are not in the rules' order")
        chunks: list[tuple[str, _Part]] = []
        for r in pd.unique(rule):
            frame = records.take(np.flatnonzero(rule == r)).reset_index(drop=True)
            chunks += [(str(r), p) for p in _split(_part(frame, vocab))]
        return cls(chunks, records.iloc[:0], vocab, whole=records)

    def __len__(self) -> int:
        return int(self._starts[-1])

    # ------------------------------------------------------------------------ rows

    def hits(self, side: str, layer: str, ids: Iterable[str]) -> BoolArray:
        """The rows whose ``side`` (``a`` or ``b``) feature is one of ``ids`` of ``layer``."""
        wanted = [self._vocab[layer, i] for i in ids if (layer, i) in self._vocab]
        if not wanted:
            return np.zeros(len(self), dtype=bool)
        return np.isin(self.a if side == "a" else self.b, np.array(wanted, dtype=np.int64))

    def is_rule(self, rule: str) -> BoolArray:
        return self.rule == RANK[rule]

    def rows(self, mask: BoolArray) -> gpd.GeoDataFrame:
        """The rows of ``mask`` (over every chunk's rows, one after the other) as one frame."""
        frames = [
            p.frame.take(np.flatnonzero(mask[lo:hi]))
            for _, p, lo, hi in self._spans()
            if mask[lo:hi].any()
        ]
        return self._join(frames)

    @property
    def whole(self) -> gpd.GeoDataFrame:
        """Every finding (``geo.rules.analyze``'s records), made once."""
        if self._whole is None:
            self._whole = self._join([p.frame for _, p in self.chunks])
        return self._whole

    def of(self, rules: Sequence[str]) -> gpd.GeoDataFrame:
        """The findings of ``rules`` (in the findings' order)."""
        return self._join([p.frame for r, p in self.chunks if r in rules])

    # ------------------------------------------------------------------------ change

    def splice(self, keep: BoolArray, fresh: gpd.GeoDataFrame | None) -> KeptFindings:
        """The kept rows ``keep`` with the ``fresh`` rows (finished and sorted) put in their
        places; a chunk whose rows all stay and which gets no fresh row is kept as it is."""
        new: dict[str, gpd.GeoDataFrame] = {}
        if fresh is not None and len(fresh):
            fresh = fresh.reset_index(drop=True)
            rule = fresh["rule"].to_numpy(dtype=object)
            for r in pd.unique(rule):
                new[str(r)] = fresh.take(np.flatnonzero(rule == r)).reset_index(drop=True)
        # each fresh row goes to the last chunk of its rule whose first row's key is not
        # greater: every row before that chunk sorts before it, every row after after it
        by_rule: dict[str, list[int]] = {}
        for k, (r, _) in enumerate(self.chunks):
            by_rule.setdefault(r, []).append(k)
        into: dict[int, list[int]] = {}
        for r, frame in new.items():
            if r not in by_rule:
                continue
            ks = by_rule[r]
            firsts = [_Keys(self.chunks[k][1].frame, np.zeros(1, np.intp))[0] for k in ks]
            for row, key in enumerate(_keys(frame)):
                k = ks[max(0, bisect.bisect_right(firsts, key) - 1)]
                into.setdefault(k, []).append(row)
        chunks: list[tuple[str, _Part]] = []
        for k, (r, p, lo, hi) in enumerate(self._spans()):
            mine = keep[lo:hi]
            if mine.all() and k not in into:
                chunks.append((r, p))
                continue
            kept = np.flatnonzero(mine)
            if k in into:
                add = new[r].take(into[k]).reset_index(drop=True)
                chunks += [(r, q) for q in _split(self._merge(p, kept, add))]
            elif kept.size:
                chunks.append(
                    (r, _Part(p.frame.take(kept).reset_index(drop=True), p.a[kept], p.b[kept]))
                )
        for r, frame in new.items():  # a rule that had no finding
            if r not in by_rule:
                part = _part(frame[list(self._empty.columns)], self._vocab)
                at = bisect.bisect_right([RANK[c] for c, _ in chunks], RANK[r])
                chunks[at:at] = [(r, q) for q in _split(part)]
        return KeptFindings(chunks, self._empty, self._vocab)

    def _merge(self, p: _Part, kept: npt.NDArray[np.intp], fresh: gpd.GeoDataFrame) -> _Part:
        add = _part(fresh[list(p.frame.columns)], self._vocab)
        at = _positions(_Keys(p.frame, kept), _keys(add.frame))
        order = np.insert(kept, at, len(p.frame) + np.arange(len(add.frame)))
        both = pd.concat([p.frame, add.frame], ignore_index=True).take(order)
        frame = gpd.GeoDataFrame(both.reset_index(drop=True), geometry="geometry")
        return _Part(
            frame, np.concatenate([p.a, add.a])[order], np.concatenate([p.b, add.b])[order]
        )

    # ------------------------------------------------------------------------ helpers

    def _spans(self) -> list[tuple[str, _Part, int, int]]:
        s = self._starts
        return [(r, p, int(s[k]), int(s[k + 1])) for k, (r, p) in enumerate(self.chunks)]

    def _join(self, frames: list[gpd.GeoDataFrame]) -> gpd.GeoDataFrame:
        if not frames:
            return self._empty.copy()
        if len(frames) == 1:
            return frames[0].reset_index(drop=True)
        both = pd.concat(frames, ignore_index=True)
        return gpd.GeoDataFrame(both, geometry="geometry", crs=self._empty.crs)


def _split(p: _Part) -> list[_Part]:
    """``p`` in chunks of :data:`CHUNK` rows when it has more than twice as many."""
    n = len(p.frame)
    if n <= 2 * CHUNK:
        return [p] if n else []
    return [
        _Part(
            p.frame.iloc[i : i + CHUNK].reset_index(drop=True),
            p.a[i : i + CHUNK],
            p.b[i : i + CHUNK],
        )
        for i in range(0, n, CHUNK)
    ]


def _part(frame: gpd.GeoDataFrame, vocab: dict[tuple[str, str], int]) -> _Part:
    return _Part(frame, _codes(frame, "a", vocab), _codes(frame, "b", vocab))


def _codes(frame: pd.DataFrame, side: str, vocab: dict[tuple[str, str], int]) -> Codes:
    layers = frame[f"{side}_layer"].to_numpy(dtype=object)
    ids = frame[f"{side}_id"].to_numpy(dtype=object)
    missing = pd.isna(layers) | pd.isna(ids)
    out = np.full(len(frame), -1, dtype=np.int64)
    for k in np.flatnonzero(~missing):
        out[k] = vocab.setdefault((str(layers[k]), str(ids[k])), len(vocab))
    return out


def _keys(frame: pd.DataFrame) -> list[tuple[int, str, str, str]]:
    return list(
        zip(
            frame["rule"].map(RANK).to_numpy().tolist(),
            frame["soum_code"].fillna("").astype(str).tolist(),
            frame["a_id"].astype(str).tolist(),
            frame["b_id"].fillna("").astype(str).tolist(),
            strict=True,
        )
    )


class _Keys:
    """The sort keys of the sorted findings ``rows`` of ``frame`` (``geo.rules.findings._finish``:
    rule, soum, feature, other feature), read row by row only where a binary search looks."""

    def __init__(self, frame: pd.DataFrame, rows: npt.NDArray[np.intp]) -> None:
        self._rows = rows
        self._rule = frame["rule"].to_numpy(dtype=object)
        self._soum = frame["soum_code"].to_numpy(dtype=object)
        self._a = frame["a_id"].to_numpy(dtype=object)
        self._b = frame["b_id"].to_numpy(dtype=object)

    def __len__(self) -> int:
        return len(self._rows)

    def __getitem__(self, k: int) -> tuple[int, str, str, str]:
        i = self._rows[k]
        soum, b = self._soum[i], self._b[i]
        return (
            RANK[self._rule[i]],
            "" if pd.isna(soum) else str(soum),
            str(self._a[i]),
            "" if pd.isna(b) else str(b),
        )


def _positions(keys: _Keys, new: list[tuple[int, str, str, str]]) -> npt.NDArray[np.intp]:
    """Where each of the (sorted) ``new`` keys goes among ``keys``: after its equals, as a
    stable sort of the kept rows then the new ones places it."""
    return np.array([bisect.bisect_right(keys, k) for k in new], dtype=np.intp)  # type: ignore[arg-type]


__all__ = ["KeptFindings"]
