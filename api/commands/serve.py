"""``gazar serve``: the HTTP API (OGC API – Features and the analyses) with uvicorn."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Annotated

import typer

from api.cli import DbOption, app, out, store_at
from api.cli import location as cli_location
from api.commands.output import slashed
from layers.transfer import shown

#: What the server offers, printed with its address when it starts.
_ADDRESSES = (
    ("text.nav_map", "/map"),
    ("cli_text.serve_check", "/check"),
    ("cli_text.serve_available", "/availability"),
    ("cli_text.serve_register", "/register"),
    ("cli_text.serve_landing", "/"),
    ("cli_text.serve_collections", "/collections"),
    ("cli_text.serve_parcels", "/collections/contract_parcels/items"),
    ("text.layer_overlaps", "/collections/overlaps/items"),
    ("cli_text.serve_api_docs", "/api.html"),
)


@app.command("serve")
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8000,
    workers: Annotated[
        int, typer.Option(min=1, help="Worker processes (each keeps its own layer cache).")
    ] = 1,
    db: DbOption = None,
) -> None:
    """Serve the store over HTTP: every layer as OGC API – Features, and the analyses."""
    import uvicorn

    from api.app import create_app
    from api.settings import ApiSettings, load_settings

    location = cli_location(db)
    with store_at(location, create=False) as store:  # refuse a missing store before listening
        counts = ", ".join(f"{i.layer} {i.count}" for i in store.layers())
    name = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    root = f"http://{name}:{port}"
    out.print(f"Gazar serves {shown(location)} ({counts})")  # a URL without its password
    for ref, address in _ADDRESSES:
        out.print(f"  {slashed(ref) + ':':<27} {root}{address}")
    out.print(f"  {'QGIS, GDAL:':<27} ogrinfo OAPIF:{root}/")
    out.print(slashed("cli_text.serve_stop"))
    if workers == 1:
        # the first visitor does not wait for the caches (other GAZAR_* settings still apply)
        api = ApiSettings(db=location, warm_on_start=True)
        uvicorn.run(create_app(load_settings(db=location, api=api)), host=host, port=port)
        return
    # each worker process builds its own app (api.settings reads GAZAR_DB): uvicorn hands the
    # store to the workers through an env file it loads before starting them
    with tempfile.TemporaryDirectory(prefix="gazar-serve-") as folder:
        env_file = Path(folder) / "gazar.env"
        env_file.write_text(
            f"GAZAR_DB={json.dumps(location)}\nGAZAR_WARM_ON_START=true\n", encoding="utf-8"
        )
        uvicorn.run(
            "api.app:create_app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            env_file=env_file,
        )
