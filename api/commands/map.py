"""``gazar map``: one self-contained HTML map that opens offline (from a USB stick)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import geopandas as gpd
import typer

from api.cli import DbOption, analysis_settings, app, err, guarded, parse_today, store_at
from api.cli import settings as cli_settings
from api.commands.options import SoumOption, TodayOption
from api.commands.output import out_target, write_out
from api.services import rasters
from api.services.register import pending_applications
from api.settings import load_settings
from geo.availability import availability
from geo.rules import analyze
from geo.settings import AnalysisSettings
from layers.errors import GazarError, StoreError
from layers.ledger import open_ledger
from layers.schema import REGISTRY
from web import maps
from web.assets import external_refs, inline_assets
from web.i18n import parse_lang, text


@app.command("map")
def map_cmd(
    out_file: Annotated[Path, typer.Option("--out", help="The HTML file to write.")],
    soum: SoumOption = None,
    land_conclusion: Annotated[
        str | None,
        typer.Option("--land-conclusion", help="Only this Land Conclusion (its id)."),
    ] = None,
    lang: Annotated[str, typer.Option("--lang", help="mn (default) or en.")] = "mn",
    basemap: Annotated[
        bool,
        typer.Option(
            "--basemap/--no-basemap",
            help="Offer the online tile basemap as an optional layer (off when opened).",
        ),
    ] = True,
    today: TodayOption = None,
    db: DbOption = None,
) -> None:
    """Write one HTML file with the map, Leaflet and every plugin inside it.

    The file needs no server and no network: copy it to a USB stick and open it in any
    browser. Without --soum or --land-conclusion it shows every soum. Where NDVI rasters are
    registered beside the store (gazar demo writes some), the rehabilitation zones are also
    shown coloured by their recovery (as gazar rehab-monitor measures it).
    """
    if soum and land_conclusion:
        raise typer.BadParameter(
            "give --soum or --land-conclusion, not both", param_hint="--land-conclusion"
        )
    out_target(out_file)
    language = parse_lang(lang)
    day = parse_today(today)
    settings = analysis_settings()
    with store_at(db, create=False) as store:
        layers = guarded(lambda: {name: store.read(name) for name in REGISTRY})
        location = store.location
    applications = _pending(location, settings)
    recovery = _recovery(
        location,
        layers["rehab_zones"],
        float(settings.rehab_recovery_min),
        folder=cli_settings(db).store.rasters,
    )
    findings = guarded(lambda: analyze(layers, today=day, settings=settings).records)
    free = guarded(
        lambda: availability(
            layers["land_conclusions"],
            layers["contract_parcels"],
            layers["rehab_zones"],
            layers["exclusions"],
            layers["licences"],
            today=day,
        )
    )
    shown = {"lang": language, "findings": findings, "available": free, "basemap": basemap,
             "recovery": recovery, "applications": applications}  # fmt: skip
    if land_conclusion:
        m = guarded(lambda: maps.land_conclusion_map(layers, land_conclusion, **shown))
        title = f"{text('title_land_conclusion', language)} {land_conclusion}"
    elif soum:
        m = guarded(lambda: maps.soum_map(layers, soum, **shown))
        title = f"{text('title_soum', language)} {soum}"
    else:
        m = maps.overview_map(layers, **shown)
        title = text("title_overview", language)
    page = guarded(
        lambda: inline_assets(
            maps.page_html(m, title=f"Gazar — {title}", lang=language),
            load_settings().files.node_modules,
        )
    )
    left = external_refs(page)
    if left:  # pragma: no cover - every asset is local; a new plugin default would show here
        err.print(f"[bold red]Error:[/] the map still loads {left[0]}", markup=True)
        raise typer.Exit(1)
    write_out(out_file, page)
    size = out_file.stat().st_size
    err.print(f"wrote {out_file} ({size / 1e6:.1f} MB): opens offline in any browser")


def _pending(location: str, settings: AnalysisSettings) -> gpd.GeoDataFrame | None:
    """The pending applications as the public register shows them, from the store's ledger
    (None when it has none, or no ledger: a store only written by other tools)."""
    try:
        ledger = open_ledger(location, create=False)
    except StoreError:
        return None
    try:
        return guarded(lambda: pending_applications(ledger, settings))
    finally:
        ledger.close()


def _recovery(
    location: str, zones: gpd.GeoDataFrame, minimum: float, *, folder: Path | None
) -> gpd.GeoDataFrame | None:
    """The zones with their recovery on the registered NDVI rasters (in ``folder``, the
    configured one, when given); None when none are registered, or (with a warning) when they
    cannot be read."""
    try:
        entries = rasters.registered(location, folder=folder)
        if not any(e["kind"] == "ndvi_before" for e in entries):
            return None
        table = rasters.rehab_registered(location, zones, min_recovery=minimum, folder=folder)
    except GazarError as exc:
        err.print(f"  · no recovery layer: {exc}", markup=False)
        return None
    return gpd.GeoDataFrame(table, geometry=zones.geometry, crs=zones.crs)
