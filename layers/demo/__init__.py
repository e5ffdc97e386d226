"""Deterministic demo data: the five planetGOLD target sites with Land Conclusions and parcels.

``build_demo`` makes one GeoDataFrame per registered layer (``layers.schema.REGISTRY``). It is
pure: no file or network I/O. The few real facts it needs (soum centres, codes, names, the
partnership figures) are constants below, each with its source; everything else (outlines,
Land Conclusions, parcels, rehabilitation zones, exclusions, licences) is synthetic.

Everything is clean except a handful of deliberate conflicts listed in ``DEMO_CONFLICTS``.
Geometry is laid out in metres in the WGS84 UTM zone of each soum (parcels are rectangles there,
so their official area is exactly the drawn one) and stored in EPSG:4326.

The package: :mod:`~layers.demo.sites` (the facts and plans), :mod:`~layers.demo.shapes`
(geometry, dates, names) and :mod:`~layers.demo.build` (:func:`build_demo`).
"""

from layers.demo.build import build_demo
from layers.demo.shapes import LEGACY_HOLDER
from layers.demo.sites import AIMAGS, DEMO_CONFLICTS, SITES, SOUMS, expected_conflicts

__all__ = [
    "AIMAGS",
    "DEMO_CONFLICTS",
    "LEGACY_HOLDER",
    "SITES",
    "SOUMS",
    "build_demo",
    "expected_conflicts",
]
