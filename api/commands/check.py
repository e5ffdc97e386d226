"""``gazar check``: the desk review of a proposal against the store, as JSON or as the document
for the decision file (``--format html|pdf``: :mod:`web.report`, the same document the
``/check`` page prints, checked by ``--checked-by`` or the operating-system user).

Like ``gazar map``, this command hands out one of web/'s documents (tests/test_layout.py lists
it among the web doors).
"""

from __future__ import annotations

import getpass
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import typer

from api.cli import (
    DbOption,
    analysis_settings,
    app,
    err,
    file_limits,
    guarded,
    parse_today,
    store_at,
)
from api.cli import settings as cli_settings
from api.commands.analysis import CrsOption, OutOption, SourceLayerOption
from api.commands.options import TodayOption
from api.commands.output import choose, dumps, emit, out_target
from api.services import rasters
from api.services.layers import LayerCache
from api.services.provenance import store_revision
from api.services.views import check_view
from geo.raster import Dem
from geo.review import KIND_LAYER, REVIEW_LAYERS, Review, ReviewContext
from layers.errors import GazarError
from layers.labels import parse_lang
from layers.readers import read_features
from layers.schema import STORE_CRS
from layers.store import Store

if TYPE_CHECKING:
    from web.document import Document

# ----------------------------------------------------------------------------------- check


@app.command("check")
def check_cmd(
    file: Annotated[Path, typer.Argument(help="The proposed area(s): any polygon file.")],
    kind: Annotated[
        str, typer.Option("--kind", help="land_conclusion (MRPAM's review) or parcel.")
    ] = "land_conclusion",
    soum: Annotated[
        str | None, typer.Option("--soum", help="The proposing soum's code, e.g. MN4322.")
    ] = None,
    fmt: Annotated[
        str,
        typer.Option("--format", help="json, html or pdf (the document for the decision file)."),
    ] = "json",
    lang: Annotated[str, typer.Option("--lang", help="The document's language: mn or en.")] = "mn",
    checked_by: Annotated[
        str | None,
        typer.Option(
            "--checked-by",
            help="Who checked it, printed on the document (default: the operating-system user).",
        ),
    ] = None,
    crs: CrsOption = None,
    source_layer: SourceLayerOption = None,
    today: TodayOption = None,
    db: DbOption = None,
    out_file: OutOption = None,
    dem: Annotated[
        Path | None,
        typer.Option(
            "--dem",
            help="Elevation raster (metres) for the slope finding; default: the DEM "
            "registered beside the store that holds the proposal, if any.",
        ),
    ] = None,
) -> None:
    """Review a proposal against the store: verdict, areas, soums, overlaps and broken rules.

    With a DEM (--dem, or one registered beside the store, as gazar demo writes) the share of
    the proposal steeper than GAZAR_SLOPE_LIMIT_DEG is reported, with a warning above
    GAZAR_SLOPE_SHARE_LIMIT. The exit code is 0 whenever the review ran (the verdict — clear,
    conflicts or invalid — is in the output); 1 only when a file cannot be read.
    """
    kind = choose(kind, KIND_LAYER, "--kind")
    fmt = choose(fmt, ("json", "html", "pdf"), "--format")
    if fmt == "pdf" and out_file is None:
        raise typer.BadParameter(
            "a PDF is written to a file: give --out FILE.pdf", param_hint="--format"
        )
    out_target(out_file)
    day = parse_today(today)
    settings = analysis_settings()
    proposal, info = guarded(
        lambda: read_features(file, crs=crs, source_layer=source_layer, limits=file_limits())
    )
    for note in info.notes:
        err.print(f"  · {note}", markup=False)
    with store_at(db, create=False) as store:
        layers = guarded(lambda: _layers_near(store, proposal, soum=soum))
        location = store.location
    folder = cli_settings(db).store.rasters
    elevations = guarded(lambda: _dem_for(proposal, dem, location, folder))
    result = check_view(
        proposal,
        kind=kind,  # type: ignore[arg-type]
        context=ReviewContext(layers),
        today=day,
        settings=settings,
        soum=soum,
        dem=elevations,
    )
    result = replace(result, file=str(file))
    if fmt == "json":
        emit(dumps(result.as_json()), out_file)
        return
    # the document's templates, map and PDF (jinja2, folium, weasyprint) only for a document
    from web.docpdf import document_pdf
    from web.document import document_html

    with store_at(db, create=False) as store:
        doc = guarded(lambda: _document(store, result, proposal, file=file, lang=lang,
                                        checked_by=checked_by or _os_user()))  # fmt: skip
    if fmt == "html":
        emit(document_html(doc, printable=False), out_file)
    else:
        pdf = guarded(lambda: document_pdf(doc, font_dir=cli_settings(db).files.pdf_font_dir))
        assert out_file is not None
        out_file.write_bytes(pdf)
        err.print(f"  · {out_file.name}", markup=False)


def _dem_for(
    proposal: gpd.GeoDataFrame, dem: Path | None, location: str, folder: Path | None
) -> tuple[str, Dem] | None:
    """The DEM under the proposal: ``dem`` if given (a note when it misses the proposal),
    else the registered DEM holding it (``proposal_dem``, in ``folder`` if set), else None."""
    if dem is None:
        found = rasters.proposal_dem(location, proposal, folder=folder)
        return None if found is None else (str(found[0]["file"]), found[1])
    usable = rasters.usable_lonlat(proposal)
    block = rasters.read_dem(dem, proposal[usable]) if usable.any() else None
    if block is None:
        err.print(f"  · {dem}: the DEM does not cover the proposal; no slope", markup=False)
        return None
    return str(dem), block


def _layers_near(
    store: Store, proposal: gpd.GeoDataFrame, *, soum: str | None, margin: float = 0.0
) -> dict[str, gpd.GeoDataFrame]:
    """The features a review of ``proposal`` can meet: those whose bbox meets the proposal's,
    plus the soum and Land Conclusions it names (bbox reads use the store's spatial index)."""
    geoms = np.asarray(proposal.geometry.array, dtype=object)
    usable = ~shapely.is_missing(geoms) & ~shapely.is_empty(geoms)
    with np.errstate(invalid="ignore"):
        bounds = shapely.bounds(geoms[usable])
    finite = np.isfinite(bounds).all(axis=1) if len(bounds) else np.array([], dtype=bool)
    bounds = bounds[finite]
    layers: dict[str, gpd.GeoDataFrame] = {}
    for name in REVIEW_LAYERS:
        if len(bounds):
            box = (
                float(bounds[:, 0].min()) - margin,
                float(bounds[:, 1].min()) - margin,
                float(bounds[:, 2].max()) + margin,
                float(bounds[:, 3].max()) + margin,
            )
            layers[name] = store.read(name, bbox=box)
        else:
            layers[name] = store.read(name, ids=[])
    named: dict[str, list[str]] = {"soums": [soum] if soum else []}
    for column, layer in (("soum_code", "soums"), ("land_conclusion_id", "land_conclusions")):
        if column in proposal.columns:
            named.setdefault(layer, [])
            named[layer] += [str(v) for v in proposal[column].dropna().unique()]
    for layer, ids in named.items():
        if ids:
            extra = store.read(layer, ids=ids)
            both = pd.concat([layers[layer], extra], ignore_index=True).drop_duplicates("id")
            layers[layer] = gpd.GeoDataFrame(both, geometry="geometry", crs=STORE_CRS)
    return layers


def _os_user() -> str | None:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return None


def _document(
    store: Store,
    result: Review,
    proposal: gpd.GeoDataFrame,
    *,
    file: Path,
    lang: str,
    checked_by: str | None,
) -> Document:
    """The review as the document, with the store's revision and its log's head."""
    from layers.ledger import open_ledger
    from web.report import review_document

    head_seq = head_hash = None
    try:
        with open_ledger(store.location, create=False) as ledger:
            check = ledger.verify_chain()
        head_seq, head_hash = check.head_seq, check.head_hash
    except GazarError:
        pass
    geoms = np.asarray(proposal.geometry.array, dtype=object)
    usable = ~shapely.is_missing(geoms) & ~shapely.is_empty(geoms)
    frames = _layers_near(store, proposal[usable], soum=result.proposing_soum, margin=0.05)
    return review_document(
        result, lang=parse_lang(lang), frames=frames, revision=store_revision(LayerCache(store)),
        head_seq=head_seq, head_hash=head_hash, checked_by=checked_by, proposal=proposal,
        source=file.name,
    )  # fmt: skip
