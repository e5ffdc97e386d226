from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from layers.store import Store, open_store
from tests import factories as f

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "mongolia"


@pytest.fixture(autouse=True)
def _no_ambient_db(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never touch a store named by the environment."""
    monkeypatch.delenv("GAZAR_DB", raising=False)


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    return tmp_path / "gazar.gpkg"


@pytest.fixture
def store(store_path: Path) -> Iterator[Store]:
    s = open_store(store_path)
    yield s
    s.close()


@pytest.fixture
def seeded(store: Store) -> Store:
    """A store with one issued Land Conclusion, one parcel, one rehabilitation zone, one exclusion."""
    store.write(
        {
            "land_conclusions": f.frame("land_conclusions", [f.land_conclusion()]),
            "contract_parcels": f.frame("contract_parcels", [f.parcel()]),
            "rehab_zones": f.frame("rehab_zones", [f.rehab_zone()]),
            "exclusions": f.frame("exclusions", [f.exclusion()]),
        }
    )
    return store


def snapshot(store: Store) -> dict[str, list[tuple[object, ...]]]:
    """Every layer's rows as plain tuples, to prove a refused write changed nothing."""
    out = {}
    for info in store.layers():
        frame = store.read(info.layer)
        table = frame.drop(columns="geometry").assign(wkb=frame.geometry.to_wkb(hex=True))
        out[info.layer] = [tuple(map(str, r)) for r in table.itertuples(index=False)]
    return out


os.environ.setdefault("COLUMNS", "200")
