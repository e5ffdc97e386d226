"""``gazar qgis-project``: a QGIS project of the store, every layer grouped and styled."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from api.cli import DbOption, app, err, refuse, store_at, words
from api.commands.output import out_target
from api.services.qgis_project import URL_RE, Source, store_extent, write_project
from layers.errors import InputFileError
from layers.labels import parse_lang


@app.command("qgis-project")
def qgis_project_cmd(
    out_file: Annotated[
        Path, typer.Option("--out", help="The QGIS project to write (a .qgz file).")
    ],
    url: Annotated[
        str | None,
        typer.Option(
            "--url",
            help="Read the layers from this server's OGC API – Features (http://host:port), "
            "with the derived collections, instead of from the store.",
        ),
    ] = None,
    lang: Annotated[str, typer.Option("--lang", help="mn (default) or en: names, legend.")] = "mn",
    db: DbOption = None,
) -> None:
    """Write a QGIS project with every layer, grouped and styled as the web map draws them.

    The layers come from the store (--db: the GeoPackage file, named relative to the project,
    or the PostGIS database, written without its password) or, with --url, from a running
    `gazar serve` through QGIS's OGC API – Features provider, which adds the derived
    collections (overlaps, available land). QGIS is not needed to write the project.
    """
    target = out_target(out_file)
    assert target is not None
    language = parse_lang(lang)
    if url is not None:
        if URL_RE.fullmatch(url) is None:
            refuse(InputFileError("--url", words("file_problem", "bad_url")))
        source, extent = Source("oapif", url), None
    else:
        with store_at(db) as store:  # a Gazar store, its layers' styles written
            where = store.location
            extent = store_extent(store.layers())
        postgis = where.startswith(("postgresql://", "postgres://"))
        source = Source("postgis", where) if postgis else Source("gpkg", str(Path(where).resolve()))
    if target.suffix.lower() != ".qgz":
        refuse(InputFileError(str(target), words("file_problem", "not_suffix", suffix=".qgz")))
    try:
        layers = write_project(target, source, language, extent)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        refuse(InputFileError(str(target), words("file_problem", "not_written", reason=reason)))
    err.print(f"Wrote {target} ({len(layers)} layers)", markup=False)
