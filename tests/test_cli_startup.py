"""``gazar`` starts at once: its help lists every command without importing the command modules
(each pulls in geopandas, folium, FastAPI or rasterio), and a command imports only its own."""

from __future__ import annotations

import importlib
import inspect
import os
import pkgutil
import subprocess
import sys
from pathlib import Path

import typer.main

import api.commands
from api.cli import COMMANDS, app

ROOT = Path(__file__).resolve().parents[1]
#: the libraries that take seconds to import and no help needs
HEAVY = ("geopandas", "folium", "fastapi", "rasterio", "shapely", "pyogrio", "starlette")

_RUN = """
import sys
{before}
from api.cli import main
sys.argv = ["gazar", *{argv!r}]
try:
    main()
except SystemExit as exc:
    assert not exc.code, exc.code
heavy = sorted({{m.split(".")[0] for m in sys.modules}} & set({heavy!r}))
print("HEAVY", ",".join(heavy))
"""


def _gazar(*argv: str, before: str = "") -> tuple[str, list[str]]:
    """Run ``gazar argv`` in a fresh interpreter: its help text, and the heavy libraries that
    were imported by the end."""
    code = _RUN.format(before=before, argv=list(argv), heavy=HEAVY)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "100", "TERMINAL_WIDTH": "100"}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT, check=True
    )
    text, _, last = done.stdout.rstrip("\n").rpartition("\n")
    assert last.startswith("HEAVY"), done.stdout
    return text, [m for m in last.removeprefix("HEAVY").strip().split(",") if m]


def _command_names(help_text: str) -> list[str]:
    """The command names in the Commands panel of ``gazar --help``."""
    panel = help_text.split("Commands")[1]
    names = []
    for line in panel.splitlines():
        words = line.strip("│ ").split()
        if words and not line.startswith("│  ") and line.startswith("│ "):
            names.append(words[0])
    return names


def test_help_imports_no_command_module_and_lists_every_command() -> None:
    text, heavy = _gazar("--help")
    assert heavy == []
    assert _command_names(text) == list(COMMANDS)
    for name, (_module, help_text) in COMMANDS.items():
        first_words = " ".join(help_text.split()[:3])
        assert first_words in " ".join(text.replace("│", " ").split()), name


def test_help_is_the_same_as_with_every_command_loaded() -> None:
    lazy, _ = _gazar("--help")
    modules = "; ".join(
        f"import api.commands.{m}" for m in sorted({m for m, _ in COMMANDS.values()})
    )
    eager, heavy = _gazar("--help", before=modules)
    assert "geopandas" in heavy  # the modules were loaded: the help came from the real commands
    assert lazy == eager


def test_a_command_imports_only_its_module() -> None:
    text, heavy = _gazar("layers", "--help")
    assert "--db" in text and "Each layer with its feature count" in text
    assert not {"folium", "fastapi", "rasterio", "geopandas"} & set(heavy), heavy
    # a review printed as JSON needs no document: its templates, map and PDF load on demand
    text, heavy = _gazar("check", "--help")
    assert "--format" in text and "geopandas" in heavy  # the command module was loaded
    assert not {"folium", "fastapi", "starlette"} & set(heavy), heavy


def test_table_names_every_registered_command_with_its_module_and_help() -> None:
    for module in pkgutil.iter_modules(api.commands.__path__):
        importlib.import_module(f"api.commands.{module.name}")
    registered: dict[str, tuple[str, str]] = {}
    for info in app.registered_commands:
        assert info.callback is not None
        name = info.name or typer.main.get_command_name(info.callback.__name__)
        doc = info.help or inspect.getdoc(info.callback) or ""
        module = info.callback.__module__.removeprefix("api.commands.")
        registered[name] = (module, doc.split("\n\n")[0])
    for group in app.registered_groups:
        assert group.name and group.typer_instance is not None
        callback = group.typer_instance.registered_commands[0].callback
        assert callback is not None
        module = callback.__module__.removeprefix("api.commands.")
        registered[group.name] = (module, str(group.typer_instance.info.help))
    assert registered == COMMANDS  # the order is the table's: the one `gazar --help` always had


def test_layers_of_a_geopackage_imports_neither_geopandas_nor_pandas(tmp_path: Path) -> None:
    from layers.demo import build_demo
    from layers.store import open_store

    db = tmp_path / "gazar.gpkg"
    with open_store(db) as store:
        store.write(build_demo(seed=7, scale=1))
        expected = [i.as_dict() for i in store.layers()]
    text, heavy = _gazar("layers", "--db", str(db), "--json")
    assert not {"geopandas", "pandas", "shapely", "pyogrio"} & set(heavy), heavy
    import orjson

    got = orjson.loads(text)
    assert [{**i, "bbox": list(i["bbox"]) if i["bbox"] else None} for i in expected] == got
    # the same counts and exact bounds as decoding every feature's envelope
    import sqlite3

    from layers.gpkg import register_functions

    conn = sqlite3.connect(db)
    register_functions(conn)
    for info in got:
        row = conn.execute(
            f"SELECT count(*), min(ST_MinX(geom)), min(ST_MinY(geom)), max(ST_MaxX(geom)), "
            f'max(ST_MaxY(geom)) FROM "{info["layer"]}"'
        ).fetchone()
        assert row[0] == info["count"]
        assert (None if row[1] is None else list(row[1:])) == info["bbox"]
    conn.close()


def test_layer_bounds_from_the_rtree_root_stay_exact_after_deletes(tmp_path: Path) -> None:
    """The rounded extreme read from the R-tree's root node equals a scan of every entry, on a
    tree of several levels, also after the features holding the extremes are deleted; the
    exact bounds then equal the features' own."""
    import sqlite3

    import shapely

    from layers.demo import build_demo
    from layers.gpkg import register_functions
    from layers.gpkg_meta import layer_infos, root_bounds
    from layers.store import open_store

    db = tmp_path / "gazar.gpkg"
    layers = build_demo(seed=7, scale=3)
    parcels = layers["contract_parcels"]
    assert len(parcels) > 200  # more than one R-tree node holds
    with open_store(db) as store:
        store.write(layers)
        x = shapely.bounds(parcels.geometry.to_numpy())
        # drop the westmost and the northmost parcels: the layer's extent shrinks
        gone = list(parcels["id"].iloc[[int(x[:, 0].argmin()), int(x[:, 3].argmax())]])
        store.delete("contract_parcels", gone)
        left = store.read("contract_parcels")
    conn = sqlite3.connect(db)
    register_functions(conn)
    depth = int.from_bytes(
        conn.execute(
            'SELECT data FROM "rtree_contract_parcels_geom_node" WHERE nodeno = 1'
        ).fetchone()[0][:2],
        "big",
    )
    assert depth >= 1  # the root holds nodes, not features
    scanned = conn.execute(
        'SELECT min(minx), max(maxx), min(miny), max(maxy) FROM "rtree_contract_parcels_geom"'
    ).fetchone()
    assert root_bounds(conn, "contract_parcels") == tuple(scanned)
    (info,) = layer_infos(conn, ["contract_parcels"])
    assert info.count == len(left)
    assert info.bbox == tuple(float(v) for v in left.total_bounds)
    assert info.bbox[0] > x[:, 0].min() and info.bbox[3] < x[:, 3].max()
    conn.close()


def test_a_root_node_it_cannot_read_falls_back_to_the_scan(tmp_path: Path) -> None:
    import sqlite3

    from layers.gpkg_meta import root_bounds

    conn = sqlite3.connect(tmp_path / "odd.sqlite")
    conn.execute('CREATE TABLE "rtree_x_geom_node" (nodeno INTEGER PRIMARY KEY, data BLOB)')
    for data in (b"", b"\x00\x00\x00\x05" + b"\x00" * 10, b"\x00\x00\x00\x00"):
        conn.execute('DELETE FROM "rtree_x_geom_node"')
        conn.execute('INSERT INTO "rtree_x_geom_node" VALUES (1, ?)', (data,))
        assert root_bounds(conn, "x") is None, data  # short, or no cell
    assert root_bounds(conn, "missing") is None  # no such table
    conn.close()


def test_overlaps_reads_only_its_columns_without_loading_gdal(tmp_path: Path) -> None:
    """``gazar overlaps`` reads the store with sqlite3 and only the columns its rules use: GDAL
    (pyogrio), folium, FastAPI and rasterio are never loaded (GDAL's own start and teardown
    cost a command ~0.2 s), and the answer is the one from whole layers."""
    import datetime as dt

    import orjson

    from api.services.views import layers_of, overlap_pairs, overlaps_json, overlaps_view
    from layers.demo import build_demo
    from layers.store import open_store

    day = dt.date(2025, 6, 1)
    db = tmp_path / "gazar.gpkg"
    with open_store(db) as store:
        store.write(build_demo(seed=7, scale=1, today=day))
        pairs = overlap_pairs(None, None)
        whole = {name: store.read(name) for name in layers_of(pairs)}
    expected = overlaps_json(overlaps_view(whole, pairs=pairs, today=day, tolerance_m2=1.0))
    assert any(r["rule"] for r in expected)  # the demo's deliberate overlaps
    argv = ("overlaps", "--db", str(db), "--today", day.isoformat(), "--format", "json")
    text, heavy = _gazar(*argv)
    assert not {"pyogrio", "folium", "fastapi", "rasterio", "starlette"} & set(heavy), heavy
    assert orjson.loads(text) == orjson.loads(orjson.dumps(expected))


_ENDING = """
import atexit, gc, sys
from api.cli import main
atexit.register(lambda: print("exit handler ran, frozen:", gc.get_freeze_count() > 0))
sys.argv = ["gazar", *{argv!r}]
main()
"""


def test_the_process_ends_with_its_exit_handlers_and_whole_output(tmp_path: Path) -> None:
    """``main`` skips the interpreter's last cycle collection (the objects are frozen), and
    what a command writes is all there: the file, the standard streams, the exit handlers."""
    import orjson
    from typer.testing import CliRunner

    from api.cli import app
    from layers.demo import build_demo
    from layers.store import open_store

    db, out = tmp_path / "gazar.gpkg", tmp_path / "overlaps.json"
    with open_store(db) as store:
        store.write(build_demo(seed=7, scale=1))
    argv = ["overlaps", "--db", str(db), "--format", "json", "--today", "2026-12-01"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", _ENDING.format(argv=[*argv, "--out", str(out)])],
        capture_output=True, text=True, env=env, cwd=ROOT, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "exit handler ran, frozen: True"
    in_process = CliRunner().invoke(app, argv)
    assert in_process.exit_code == 0, in_process.output
    expected = orjson.loads(in_process.stdout)
    assert expected and orjson.loads(out.read_bytes()) == expected
