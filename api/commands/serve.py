"""``gazar serve``: the HTTP API (OGC API – Features and the analyses) with uvicorn."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Annotated

import typer

from api.cli import DbOption, app, out, store_at
from api.cli import location as cli_location
from layers.transfer import shown


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
    from api.settings import load_settings

    location = cli_location(db)
    with store_at(location, create=False) as store:  # refuse a missing store before listening
        counts = ", ".join(f"{i.layer} {i.count}" for i in store.layers())
    name = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    root = f"http://{name}:{port}"
    out.print(f"Gazar serves {shown(location)} ({counts})")  # a URL without its password
    out.print(f"  Газрын зураг / Map:         {root}/map")
    out.print(f"  Шалгах / Check a proposal:  {root}/check")
    out.print(f"  Чөлөөт газар / Available:   {root}/availability")
    out.print(f"  Нийтийн бүртгэл / Register: {root}/register")
    out.print(f"  Нүүр / Landing page:        {root}/")
    out.print(f"  Давхаргууд / Collections:   {root}/collections")
    out.print(f"  Гэрээт талбай / Parcels:    {root}/collections/contract_parcels/items")
    out.print(f"  Давхцал / Overlaps:         {root}/collections/overlaps/items")
    out.print(f"  API баримт / API docs:      {root}/api.html")
    out.print(f"  QGIS, GDAL:                 ogrinfo OAPIF:{root}/")
    out.print("Ctrl+C зогсооно / Ctrl+C stops the server.")
    if workers == 1:
        uvicorn.run(create_app(load_settings(db=location)), host=host, port=port)
        return
    # each worker process builds its own app (api.settings reads GAZAR_DB): uvicorn hands the
    # store to the workers through an env file it loads before starting them
    with tempfile.TemporaryDirectory(prefix="gazar-serve-") as folder:
        env_file = Path(folder) / "gazar.env"
        env_file.write_text(f"GAZAR_DB={json.dumps(location)}\n", encoding="utf-8")
        uvicorn.run(
            "api.app:create_app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            env_file=env_file,
        )
