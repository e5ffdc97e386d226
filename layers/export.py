"""Export a layer to the formats planners use: GeoJSON, GeoPackage, Shapefile, KML, CSV, FlatGeobuf.

Files are written next to their destination under a temporary name and moved into place only when
complete, so an interrupted export never leaves a half-written file behind.
"""

from __future__ import annotations

import shutil
import tempfile
import warnings
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from layers.errors import GazarError, InputFileError
from layers.labels import message

if TYPE_CHECKING:  # pandas, GDAL and the readers load when a layer is written, not before
    import geopandas as gpd

    from layers.schema import LayerKind

ExportFormat = Literal["geojson", "gpkg", "shp", "kml", "csv", "fgb"]
FORMATS: dict[str, tuple[str, str]] = {
    "geojson": ("GeoJSON", ".geojson"),
    "gpkg": ("GPKG", ".gpkg"),
    "shp": ("ESRI Shapefile", ".shp"),
    "kml": ("LIBKML", ".kml"),
    "csv": ("CSV", ".csv"),
    "fgb": ("FlatGeobuf", ".fgb"),
}


def _for_writing(frame: gpd.GeoDataFrame, kind: LayerKind) -> gpd.GeoDataFrame:
    import pandas as pd

    out = frame.copy()
    for f in kind.fields:
        if f.type == "date":
            out[f.name] = pd.Series(
                [None if v is None else v.isoformat() for v in out[f.name]], dtype=object
            )
    return out


def export_layer(
    frame: gpd.GeoDataFrame, kind: LayerKind, *, fmt: ExportFormat, out: str | Path
) -> list[Path]:
    """Write ``frame`` (a layer read from the store) to ``out``; returns the files written.

    A Shapefile is written as its set of files (``.shp``, ``.shx``, ``.dbf``, ``.prj``, ``.cpg``)
    or, when ``out`` ends in ``.zip``, as one zipped Shapefile. Field names longer than ten
    characters are shortened in a Shapefile; ``gazar import`` reads them back.
    """
    import pyogrio

    from layers.cells import safe_frame
    from layers.importer import shapefile_names

    if fmt not in FORMATS:
        raise GazarError(f"unknown export format '{fmt}'; choose one of {', '.join(FORMATS)}")
    driver, suffix = FORMATS[fmt]
    dest = Path(out)
    if not dest.parent.is_dir():  # no folder is made: a mistyped path is named, not created
        raise InputFileError(
            str(dest), message("file_problem", "no_folder", "en", folder=dest.parent)
        )
    data = _for_writing(frame, kind)
    options: dict[str, object] = {}
    if fmt == "shp":
        data = data.rename(columns=shapefile_names(kind))
        options["ENCODING"] = "UTF-8"
    elif fmt == "csv":
        options["GEOMETRY"] = "AS_WKT"
        data = safe_frame(data)  # no text cell a spreadsheet reads as a formula
    elif fmt == "geojson":
        options["RFC7946"] = "YES"
        options["COORDINATE_PRECISION"] = 8
    elif fmt == "gpkg":
        options["layer"] = kind.name
    zipped = fmt == "shp" and dest.suffix.lower() == ".zip"
    with tempfile.TemporaryDirectory(dir=dest.parent, prefix=".gazar-export-") as tmp:
        stem = dest.stem
        target = Path(tmp) / f"{stem}{suffix}"
        layer = options.pop("layer", None) or stem
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            pyogrio.write_dataframe(
                data,
                target,
                driver=driver,
                layer=str(layer),
                **options,  # type: ignore[arg-type]
            )
        written = sorted(Path(tmp).iterdir())
        if zipped:
            packed = Path(tmp) / "packed.zip"
            with zipfile.ZipFile(packed, "w", zipfile.ZIP_DEFLATED) as zf:
                for f in written:
                    zf.write(f, f.name)
            shutil.move(packed, dest)
            return [dest]
        if fmt != "shp":
            shutil.move(target, dest)
            return [dest]
        moved = []
        for f in written:
            final = dest.with_suffix(f.suffix)
            shutil.move(f, final)
            moved.append(final)
        return moved
