"""``geo.records.usable_records`` sorts each unusable geometry under its own reason, and keeps
the usable and the repairable ones (the checks run on the whole layer at once: GEOS's validity
in threads, the coordinate scan only over the invalid polygons)."""

from __future__ import annotations

import geopandas as gpd
import pytest
import shapely

from geo.records import usable_records
from tests import factories as f

NAN, INF = float("nan"), float("inf")
GOOD = shapely.box(106.5, 48.8, 106.52, 48.81)
#: id -> (geometry, words of the English reason; None: the row is kept)
CASES: dict[str, tuple[shapely.Geometry | None, str | None]] = {
    "good": (GOOD, None),
    "bow-tie": (shapely.Polygon([(106.5, 48.8), (106.52, 48.81), (106.52, 48.8), (106.5, 48.81)]), None),
    "nan": (shapely.Polygon([(106.5, 48.8), (106.52, NAN), (106.52, 48.81), (106.5, 48.81)]), "NaN or infinite"),
    "inf": (shapely.Polygon([(106.5, 48.8), (INF, 48.8), (106.52, 48.81), (106.5, 48.81)]), "NaN or infinite"),
    "swapped": (shapely.box(48.8, 106.5, 48.81, 106.52), "lat/lon swapped"),
    "wide": (shapely.box(-170.0, 48.8, 170.0, 48.81), "180 degrees"),
    "germany": (shapely.box(10.0, 50.0, 10.02, 50.01), "outside Mongolia"),
    "spike": (shapely.Polygon([(106.5, 48.8), (106.52, 48.8), (106.51, 48.8)]), "cannot be repaired"),
    "point": (shapely.Point(106.5, 48.8), "not a polygon"),
    "missing": (None, "no geometry"),
}  # fmt: skip


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
@pytest.mark.parametrize("rows", [1, 3000], ids=["one-each", "in-threads"])
def test_each_unusable_geometry_is_left_out_with_its_reason(rows: int) -> None:
    """Each case alone, and each among ``rows`` good parcels (enough for GEOS's validity test
    to run in threads), gives the same answer."""
    ids, geoms = [], []
    for name, (geom, _) in CASES.items():
        ids += [name] + [f"{name}-good-{k}" for k in range(rows - 1)]
        geoms += [geom] + [GOOD] * (rows - 1)
    base = f.land_conclusion()
    frame = gpd.GeoDataFrame(
        [{**base, "id": i} for i in ids], geometry=geoms, crs="EPSG:4326"
    ).reset_index(drop=True)
    split = usable_records({"land_conclusions": frame}, references=False)
    broken = dict(zip(split.broken["id"], split.broken["why_en"], strict=True))
    for name, (_, words) in CASES.items():
        if words is None:
            assert name not in broken, (name, broken.get(name))
        else:
            assert words in broken.get(name, ""), (name, broken.get(name))
    assert set(broken) == {n for n, (_, w) in CASES.items() if w is not None}
    kept = list(split.frames["land_conclusions"]["id"])
    assert kept == [i for i in ids if i not in broken]
