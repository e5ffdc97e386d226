"""``gazar demo`` builds a complete, valid store and prints the soum summary."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli import app
from layers.rasters import RASTERS_ENV, registered
from layers.schema import REGISTRY
from layers.store import open_store
from layers.validate import validate_layer

runner = CliRunner()


def test_demo_builds_a_valid_store_and_prints_the_summary(
    backend: str, store_location: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = store_location
    monkeypatch.delenv(RASTERS_ENV, raising=False)
    result = runner.invoke(app, ["demo", "--db", db, "--today", "2026-06-01"])
    assert result.exit_code == 0, result.output
    if backend == "postgis":  # written in the database itself; the rasters are files
        assert "Demo rasters not written" in result.output and RASTERS_ENV in result.output
        # with a folder for them, the rasters are written there
        folder = tmp_path / "pg-rasters"
        monkeypatch.setenv(RASTERS_ENV, str(folder))
        again = runner.invoke(app, ["demo", "--db", db, "--seed", "4", "--today", "2026-06-01"])
        assert again.exit_code == 0, again.output  # replaced whole, not appended
        assert "Demo rasters written" in again.output
        assert "allocation records are kept" in again.output
        kinds = {e["kind"] for e in registered(db, folder=folder)}
        assert kinds == {"ndvi_before", "ndvi_after", "dem"}
    text = result.output
    for soum in (
        "Есөнбулаг MN8201",
        "Баянгол MN4310",
        "Мандал MN4322",
        "Алтай MN8404",
        "НИЙТ / TOTAL",
    ):
        assert soum in text
    with open_store(db, create=False) as store:
        counts = {i.layer: i.count for i in store.layers()}
        # the sites' parcels, and the two contracts of the allocation demo (a database that
        # holds allocation records already keeps them: the second run adds none)
        allocated = 2 if backend == "gpkg" else 0
        assert counts["contract_parcels"] == 22 + 27 + 32 + 8 + 11 + allocated
        assert all(counts[k] > 0 for k in REGISTRY)
        # everything the demo wrote passes the same validation as an import
        refs = {name: store.ids(name) for name in REGISTRY}
        for name, kind in REGISTRY.items():
            validate_layer(store.read(name), kind, file=f"demo:{name}", reference_ids=refs)
        members = store.read("contract_parcels")
        total = int(members["members_women"].sum() + members["members_men"].sum())
        assert total == 214 + 108 + 189 + 180 + 99 + allocated * 7
    assert "102 (" in text  # parcels (active) in the TOTAL row


def test_demo_is_deterministic_and_replaces_the_store_whole(tmp_path: Path) -> None:
    a, b = tmp_path / "a.gpkg", tmp_path / "b.gpkg"
    for db in (a, b):
        assert (
            runner.invoke(
                app, ["demo", "--db", str(db), "--seed", "3", "--today", "2026-06-01"]
            ).exit_code
            == 0
        )
    with open_store(a) as sa, open_store(b) as sb:
        for name in REGISTRY:
            fa, fb = sa.read(name), sb.read(name)
            assert fa.drop(columns="geometry").equals(fb.drop(columns="geometry")), name
            assert fa.geometry.geom_equals_exact(fb.geometry, tolerance=0).all(), name
    # running again over an existing store replaces it; no temporary files stay behind
    assert (
        runner.invoke(
            app, ["demo", "--db", str(a), "--seed", "4", "--today", "2026-06-01"]
        ).exit_code
        == 0
    )
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".gazar")) == []
