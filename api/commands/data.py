"""Data commands: layers, import, validate, export, demo."""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import orjson
import typer

from api.cli import (
    DbOption,
    app,
    check_store,
    err,
    file_limits,
    guarded,
    out,
    parse_today,
    store_at,
    words,
)
from api.cli import location as cli_location
from api.cli import settings as cli_settings
from api.commands.output import out_target
from api.commands.output import table as output_table
from layers.errors import Problem
from layers.export import FORMATS, ExportFormat, export_layer
from layers.labels import bilingual
from layers.schema import REGISTRY, layer_kind

if TYPE_CHECKING:
    import datetime as dt

    from layers.importer import DuplicateIds, ImportPlan
    from layers.store import LayerInfo, Store

_PROGRESS_FROM = 2000  # features: show a progress bar from this size on

LayerArg = Annotated[str, typer.Argument(help=f"One of: {', '.join(REGISTRY)}.")]


@app.command("layers")
def layers_cmd(
    db: DbOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Each layer with its feature count and bounding box."""
    infos = _light_layers(db)
    if infos is None:
        with store_at(db) as store:
            infos = store.layers()
    if as_json:
        out.print(orjson.dumps([i.as_dict() for i in infos]).decode(), markup=False)
        return
    table = output_table("layer", "text.field_layer", "count", "bbox (lon/lat)", one_line=True)
    for i in infos:
        bbox = "—" if i.bbox is None else ", ".join(f"{v:.5f}" for v in i.bbox)
        table.add_row(i.layer, bilingual("layer", i.layer), str(i.count), bbox)
    out.print(table)


def _light_layers(db: str | None) -> list[LayerInfo] | None:
    """The layers of a current GeoPackage store read with sqlite3 alone (no geopandas), or
    None when the store must be opened (PostGIS, a new, old or refused file)."""
    where = cli_location(db)
    if where.startswith(("postgresql://", "postgres://")):
        return None
    check_store(where)
    from layers.gpkg_meta import current_layer_infos

    return current_layer_infos(Path(where))


def _print_warnings(warnings: list[Problem]) -> None:
    for w in warnings:
        err.print(f"  ~ {w}", markup=False)


def _run_import(
    layer: str,
    file: Path,
    *,
    db: str | None,
    mapping: list[str],
    crs: str | None,
    source_layer: str | None,
    dry_run: bool,
    replace: bool,
    duplicate_ids: DuplicateIds,
    values: list[str] | None = None,
    id_prefix: str | None = None,
    drop_empty: bool = False,
) -> None:
    from layers.importer import commit_import, parse_mapping, plan_import

    with store_at(db, create=not dry_run) as store:

        def plan() -> ImportPlan:
            return plan_import(
                layer,
                str(file),
                store=store,
                mapping=parse_mapping(mapping),
                crs=crs,
                source_layer=source_layer,
                limits=file_limits(),
                replace=replace,
                duplicate_ids=duplicate_ids,
                values=parse_mapping(values or [], "--set"),
                id_prefix=id_prefix,
                drop_empty=drop_empty,
            )

        p = guarded(plan)
        for note in p.notes:
            out.print(f"  · {note}", markup=False)
        _print_warnings(p.warnings)
        n = len(p.frame)
        if dry_run:
            out.print(
                f"[green]Valid:[/] {n} feature(s) of {file} would be imported into {p.layer} "
                f"({len(p.warnings)} repaired); nothing was written (--dry-run)."
            )
            return
        if n >= _PROGRESS_FROM:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
            )

            with Progress(
                TextColumn("writing {task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=err,
            ) as bar:
                task = bar.add_task(p.layer, total=n)
                guarded(lambda: commit_import(p, store, progress=lambda k: bar.advance(task, k)))
        else:
            guarded(lambda: commit_import(p, store))
        how = "replaced the layer with" if replace else "imported"
        out.print(f"[green]Done:[/] {how} {n} feature(s) into {p.layer} ({store.location}).")


MapOption = Annotated[
    list[str] | None,
    typer.Option(
        "--map",
        help="Rename a source column: FIELD=SOURCE (repeatable), e.g. --map id=ADM2_PCODE.",
    ),
]
CrsOption = Annotated[
    str | None,
    typer.Option(help="The file's CRS when it declares none, e.g. EPSG:32648."),
]
SourceLayerOption = Annotated[
    str | None, typer.Option("--source-layer", help="Layer to read from a multi-layer file.")
]
DuplicateOption = Annotated[
    str,
    typer.Option(
        "--duplicate-ids",
        help="Repeated ids in the file: refuse (default), drop-identical (drop exact copies, "
        "refuse the rest), keep-first, or suffix (id-2, id-3).",
    ),
]


SetOption = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        help="Give every feature a value the file lacks: FIELD=VALUE (repeatable), "
        "e.g. --set kind=soum_centre.",
    ),
]
IdPrefixOption = Annotated[
    str | None,
    typer.Option(
        "--id-prefix",
        help="Put this before every id (e.g. SC- for soum centres), or number the features "
        "after it when the file has no id column.",
    ),
]


DropEmptyOption = Annotated[
    bool,
    typer.Option(
        "--drop-empty",
        help="Leave out features without geometry (each named) instead of refusing the file.",
    ),
]


def _duplicates(value: str) -> DuplicateIds:
    if value not in ("refuse", "drop-identical", "keep-first", "suffix"):
        raise typer.BadParameter(
            "choose refuse, drop-identical, keep-first or suffix", param_hint="--duplicate-ids"
        )
    return value  # type: ignore[return-value]


@app.command("import")
def import_cmd(
    layer: LayerArg,
    file: Annotated[
        Path,
        typer.Argument(
            help="GeoJSON, GeoPackage, Shapefile (.shp/.zip), "
            "KML/KMZ, FlatGeobuf, or CSV (WKT or corner list)."
        ),
    ],
    map_: MapOption = None,
    crs: CrsOption = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Validate only.")] = False,
    replace: Annotated[bool, typer.Option("--replace", help="Replace the whole layer.")] = False,
    duplicate_ids: DuplicateOption = "refuse",
    source_layer: SourceLayerOption = None,
    db: DbOption = None,
    set_: SetOption = None,
    id_prefix: IdPrefixOption = None,
    drop_empty: DropEmptyOption = False,
) -> None:
    """Validate a file and import it into a layer: all of it, or nothing."""
    _run_import(
        layer,
        file,
        db=db,
        mapping=map_ or [],
        crs=crs,
        source_layer=source_layer,
        dry_run=dry_run,
        replace=replace,
        duplicate_ids=_duplicates(duplicate_ids),
        values=set_,
        id_prefix=id_prefix,
        drop_empty=drop_empty,
    )


@app.command("validate")
def validate_cmd(
    layer: LayerArg,
    file: Annotated[Path, typer.Argument(help="The file to check.")],
    map_: MapOption = None,
    crs: CrsOption = None,
    duplicate_ids: DuplicateOption = "refuse",
    source_layer: SourceLayerOption = None,
    db: DbOption = None,
    set_: SetOption = None,
    id_prefix: IdPrefixOption = None,
    drop_empty: DropEmptyOption = False,
) -> None:
    """Check a file as `gazar import --dry-run` would; writes nothing."""
    import_cmd(layer, file, map_=map_, crs=crs, dry_run=True, duplicate_ids=duplicate_ids,
               source_layer=source_layer, db=db, set_=set_, id_prefix=id_prefix,
               drop_empty=drop_empty)  # fmt: skip


@app.command("export")
def export_cmd(
    layer: LayerArg,
    out_file: Annotated[Path, typer.Option("--out", help="Where to write.")],
    fmt: Annotated[
        str, typer.Option("--format", help=f"One of: {', '.join(FORMATS)}.")
    ] = "geojson",
    db: DbOption = None,
) -> None:
    """Export a layer to a file."""
    if fmt not in FORMATS:
        raise typer.BadParameter(f"choose one of {', '.join(FORMATS)}", param_hint="--format")
    kind = guarded(lambda: layer_kind(layer))
    out_target(out_file)
    with store_at(db, create=False) as store:
        frame = guarded(lambda: store.read(kind.name))
    fmt_: ExportFormat = fmt  # type: ignore[assignment]
    files = guarded(lambda: export_layer(frame, kind, fmt=fmt_, out=out_file))
    out.print(
        f"[green]Wrote[/] {len(frame)} feature(s) of {kind.name} to {', '.join(map(str, files))}"
    )


def _demo_rasters(store: Store, folder: Path, *, seed: int, today: dt.date) -> None:
    """The demo's rasters over the store as written, allocation record included: the
    rehabilitation zones of its contracts (and their stages) recover in the NDVI too."""
    from api.services.rasters import write_demo_rasters

    layers = {name: store.read(name) for name in ("land_conclusions", "rehab_zones")}
    written = write_demo_rasters(layers, folder, seed=seed, today=today)
    out.print(f"[green]Demo rasters written:[/] {folder} ({len(written)} files: "
              "NDVI before and after, and a DEM, per soum)")  # fmt: skip


def _demo_allocation(location: str, day: dt.date) -> None:
    """The demo's users (passwords printed: demo only) and its allocation record in every
    state (:mod:`api.services.demo_allocation`), written through the ledger."""
    from api.services.demo_allocation import demo_allocation, demo_clock, demo_users
    from layers.ledger import open_ledger

    clock = demo_clock()
    with open_ledger(location, clock=clock) as ledger:
        users = demo_users(ledger)
        record = demo_allocation(ledger, clock, today=day, settings=cli_settings(None).analysis)
    out.print(words("demo_text", "users"), markup=False)
    for name, role, password in users:
        out.print(f"  {name:<14} {role:<7} {password}", markup=False)
    if record is None:
        out.print(words("demo_text", "kept"), markup=False)
    else:
        out.print(words("demo_text", "allocation"), markup=False)
        for key, value in record.as_dict().items():
            shown_value = ", ".join(value) if isinstance(value, list) else value
            out.print(f"  {key:<14} {shown_value}", markup=False)


@app.command("demo")
def demo_cmd(
    db: DbOption = None,
    seed: Annotated[int, typer.Option(help="Random seed: the same seed gives the same data.")] = 7,
    scale: Annotated[int, typer.Option(min=1, help="Multiply the parcels (1000 ≈ 100k).")] = 1,
    today: Annotated[
        str | None, typer.Option(help="Date the demo is relative to (default: today).")
    ] = None,
) -> None:
    """Build the demo store: five target soums with Land Conclusions, parcels and rehabilitation."""
    from layers.demo import build_demo
    from layers.rasters import RASTERS_ENV, raster_dir
    from layers.schema import LAYER_ORDER
    from layers.store import open_store
    from layers.transfer import shown

    day = parse_today(today)
    location = cli_location(db)
    new = check_store(location, create=True)
    if not new and not location.startswith(("postgresql://", "postgres://")):
        with store_at(location):  # refuse to replace a file that is not a store
            pass
    folder = cli_settings(db).store.rasters
    layers = build_demo(seed=seed, scale=scale, today=day)
    if location.startswith(("postgresql://", "postgres://")):
        # a database: every layer replaced in one transaction (a failure keeps the old ones)
        batches = {name: layers[name] for name in LAYER_ORDER}
        with store_at(location, create=True) as store:
            guarded(lambda: store.write(batches, mode="replace"))
            out.print(f"[green]Demo store written:[/] {shown(location)} (seed {seed}, scale "
                      f"{scale}, as of {day})")  # fmt: skip
            _demo_allocation(location, day)
            if folder is not None:
                _demo_rasters(store, folder, seed=seed, today=day)
            else:
                out.print("Demo rasters not written: a PostGIS store keeps its rasters in the "
                          f"folder {RASTERS_ENV} names; set it to write them there")  # fmt: skip
            from api.commands.summary import print_summary

            print_summary(store, today=day)
        return
    target = Path(location)
    if not target.parent.exists():
        target.parent.mkdir(parents=True)
        err.print(words("file_done", "folder_created", folder=target.parent), markup=False)
    # build beside the target, then move it into place: an interrupted run keeps the old store
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=".gazar-demo-", suffix=".gpkg")
    os.close(fd)
    os.unlink(tmp_name)
    try:
        with open_store(tmp_name) as store:
            store.write({name: layers[name] for name in LAYER_ORDER})
        _demo_allocation(tmp_name, day)
        for suffix in ("-wal", "-shm"):
            Path(str(target) + suffix).unlink(missing_ok=True)
        os.replace(tmp_name, target)
    finally:
        for suffix in ("", "-wal", "-shm"):
            Path(tmp_name + suffix).unlink(missing_ok=True)
    out.print(f"[green]Demo store written:[/] {target} (seed {seed}, scale {scale}, as of {day})")
    with store_at(str(target)) as store:
        _demo_rasters(store, raster_dir(str(target), folder=folder), seed=seed, today=day)
        from api.commands.summary import print_summary

        print_summary(store, today=day)
