"""Reading polygon files as published: GeoJSON, GeoPackage, Shapefile (also zipped), KML/KMZ,
FlatGeobuf, CSV with a WKT column and CSV corner lists (decimal or DMS).

``read_features`` returns a GeoDataFrame in EPSG:4326 with the file's own column names; renaming
(``--map``) and validation come after it. A file with no CRS is refused unless one is given, except
a corner list in degrees, which is geographic by construction and read as WGS 84 (MONREF97
coincides with it to about 1 m).
"""

from __future__ import annotations

import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from pyproj import CRS
from pyproj.exceptions import CRSError

from layers.errors import InputFileError, Problem, ValidationFailed
from layers.labels import message
from layers.uploads import (
    ReadLimits,
    check_counts,
    check_shapefile,
    geopackage_layers,
    kml_in,
    shapefile_in,
    shapefile_records,
)

_GDAL_SUFFIXES = {".geojson", ".json", ".gpkg", ".shp", ".kml", ".kmz", ".fgb", ".zip"}
WKT_COLUMNS = ("wkt", "geometry", "geom", "the_geom", "shape")


@dataclass
class SourceInfo:
    """What was read and how."""

    file: str
    format: str
    source_crs: str
    count: int
    notes: list[str] = field(default_factory=list)
    #: the reading process's peak resident memory, when read by ``layers.sandbox``
    peak_bytes: int | None = None


def parse_crs(text: str) -> CRS:
    """A CRS from user text (``EPSG:32648``, ``32648``, a PROJ string or WKT)."""
    value = text.strip()
    if value.isdigit():
        value = f"EPSG:{value}"
    try:
        return CRS.from_user_input(value)
    except CRSError as exc:
        raise InputFileError(
            "--crs", f"'{text}' is not a coordinate reference system ({exc})"
        ) from None


def _gdal_path(
    path: Path, limits: ReadLimits, folder: Path, source_layer: str | None
) -> tuple[str, str]:
    """What GDAL opens for ``path``: an archive's members extracted into ``folder`` under the
    caps, a GeoPackage only once its layers are known to be tables within the caps."""
    suffix = path.suffix.lower()
    if suffix == ".zip":
        return str(shapefile_in(path, limits, folder, file=str(path))), "Shapefile (zipped)"
    if suffix == ".kmz":
        return str(kml_in(path, limits, folder, file=str(path))), "KMZ"
    if suffix == ".gpkg":
        geopackage_layers(path, limits, file=str(path), source_layer=source_layer)
    if suffix == ".shp":
        check_shapefile(path, limits, file=str(path))
    return str(path), {
        ".geojson": "GeoJSON",
        ".json": "GeoJSON",
        ".gpkg": "GeoPackage",
        ".shp": "Shapefile",
        ".kml": "KML",
        ".fgb": "FlatGeobuf",
    }[suffix]


def _read_gdal(
    path: Path, source_layer: str | None, limits: ReadLimits
) -> tuple[gpd.GeoDataFrame, str]:
    with tempfile.TemporaryDirectory(prefix="gazar-read-") as folder:
        gdal_path, fmt = _gdal_path(path, limits, Path(folder), source_layer)
        return _read_layers(path, gdal_path, fmt, source_layer)


def _read_layers(
    path: Path, gdal_path: str, fmt: str, source_layer: str | None
) -> tuple[gpd.GeoDataFrame, str]:
    try:
        listed = pyogrio.list_layers(gdal_path)
    except Exception as exc:  # GDAL raises its own types for unreadable files
        raise InputFileError(str(path), f"cannot be read as {fmt}: {exc}") from None
    names = [str(n) for n, _ in listed]
    if source_layer is not None:
        if source_layer not in names:
            raise InputFileError(
                str(path), f"has no layer '{source_layer}'; its layers: {', '.join(names)}"
            )
        names = [source_layer]
    elif fmt == "GeoPackage" and len(names) > 1:
        raise InputFileError(
            str(path),
            f"holds several layers ({', '.join(names)}); choose one with --source-layer",
        )
    frames = []
    for name in names:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                frame = pyogrio.read_dataframe(gdal_path, layer=name)
        except MemoryError:
            raise
        except Exception as exc:
            raise InputFileError(str(path), f"cannot be read as {fmt}: {exc}") from None
        if isinstance(frame, gpd.GeoDataFrame) and len(frame):
            if fmt.startswith("Shapefile"):
                _lost_geometries(path, Path(gdal_path), frame)
            frames.append(frame)
    if not frames:
        raise InputFileError(str(path), "the file has no features")
    if len(frames) == 1:
        return frames[0], fmt
    crs = frames[0].crs
    return gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs=crs), fmt


def _lost_geometries(path: Path, shp: Path, frame: gpd.GeoDataFrame) -> None:
    """Refuse a shapefile read with a geometry missing or empty where its index holds points:
    GDAL gives none (or an empty one), silently, when it cannot allocate a record's points."""
    lengths = shapefile_records(shp)
    if lengths is None or len(lengths) != len(frame):
        return
    geoms = np.asarray(frame.geometry.array, dtype=object)
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    lost = np.flatnonzero(missing & (lengths > 44))  # a record with points: type, box, counts
    if len(lost):
        i = int(lost[0])
        raise InputFileError(
            str(path),
            f"feature #{i}: its geometry ({int(lengths[i]):,} bytes) could not be read "
            "(out of memory)",
        )


def _check_counts(path: Path, frame: gpd.GeoDataFrame, limits: ReadLimits) -> None:
    """Refuse a frame over the feature or vertex cap (before it goes anywhere else)."""
    if limits.max_features is None and limits.max_vertices is None:
        return
    vertices = int(shapely.get_num_coordinates(frame.geometry.array).sum())
    check_counts(str(path), len(frame), vertices, limits)


def _read_csv(path: Path) -> tuple[gpd.GeoDataFrame, str, bool]:
    """A CSV as features; the flag says whether it was a corner list (geographic degrees)."""
    from layers.corners import corners_to_polygons, detect_corner_columns

    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise InputFileError(str(path), "is not UTF-8 text; save the CSV as UTF-8") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise InputFileError(str(path), f"cannot be read as CSV: {exc}") from None
    table = table.replace("", None)
    lower = {c.lower().strip(): c for c in table.columns}
    wkt_col = next((lower[c] for c in WKT_COLUMNS if c in lower), None)
    if wkt_col is not None:
        texts = table[wkt_col].tolist()
        geoms: list[shapely.Geometry | None] = []
        problems: list[Problem] = []
        for i, text in enumerate(texts):
            if text is None:
                geoms.append(None)
                continue
            try:
                geoms.append(shapely.from_wkt(text))
            except shapely.errors.GEOSException as exc:
                geoms.append(None)
                problems.append(
                    Problem(str(path), i, None, wkt_col, f"not valid WKT (CSV row {i + 2}): {exc}")
                )
        if problems:
            raise ValidationFailed(problems)
        frame = gpd.GeoDataFrame(table.drop(columns=[wkt_col]), geometry=geoms, crs=None)
        return frame, "CSV (WKT)", False
    cols = detect_corner_columns(list(table.columns))
    if cols is None:
        raise InputFileError(
            str(path),
            "a CSV needs either a WKT column (named wkt or geometry) or corner-list columns "
            "(feature id, point order, longitude, latitude); found: " + ", ".join(table.columns),
        )
    frame, problems = corners_to_polygons(
        table,
        file=str(path),
        id_col=cols["id"],
        order_col=cols["order"],
        lon_col=cols["lon"],
        lat_col=cols["lat"],
    )
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        raise ValidationFailed(errors, warnings=[p for p in problems if p.severity != "error"])
    frame.attrs["warnings"] = [str(p) for p in problems]
    return frame, "CSV corner list", True


def check_readable(path: Path) -> None:
    """Refuse a 0-byte or unreadable file with its own reason, before any driver guesses at it
    (GDAL would answer "not recognized ... e.g. 'CSV:path'" or "ERROR parsing kml")."""
    try:
        with path.open("rb") as fh:
            first = fh.read(1)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise InputFileError(
            str(path), message("file_problem", "unreadable", "en", reason=reason)
        ) from None
    if not first:
        raise InputFileError(str(path), message("file_problem", "empty", "en"))


def read_features(
    file: str | Path,
    *,
    crs: str | None = None,
    source_layer: str | None = None,
    limits: ReadLimits | None = None,
) -> tuple[gpd.GeoDataFrame, SourceInfo]:
    """Read a polygon file and return its features in EPSG:4326 with the file's columns.

    An archive (zipped shapefile, KMZ) is checked from its directory and extracted by Gazar
    under ``limits``' caps before GDAL reads it; a GeoPackage is read only from tables listed as
    features, counted first (:mod:`layers.uploads`). The memory and time budgets of ``limits``
    are kept by :func:`layers.sandbox.read_bounded`, which runs this in a child process.

    Parameters
    ----------
    crs
        The file's CRS when it declares none (or to override a wrong declaration).
    source_layer
        Which layer of a multi-layer file (GeoPackage, KML with folders) to read.
    limits
        The caps of :class:`layers.uploads.ReadLimits` (default: the command line's).
    """
    limits = limits if limits is not None else ReadLimits()
    path = Path(file)
    if not path.exists():
        raise InputFileError(str(path), "no such file")
    if path.is_dir():
        raise InputFileError(str(path), "is a folder, not a file")
    check_readable(path)
    suffix = path.suffix.lower()
    notes: list[str] = []
    corner_list = False
    if suffix == ".csv":
        frame, fmt, corner_list = _read_csv(path)
    elif suffix in _GDAL_SUFFIXES:
        frame, fmt = _read_gdal(path, source_layer, limits)
    else:
        raise InputFileError(
            str(path),
            f"unknown file type '{suffix or '(none)'}'; Gazar reads .geojson, .gpkg, .shp, "
            ".zip (zipped shapefile), .kml, .kmz, .fgb and .csv",
        )
    _check_counts(path, frame, limits)
    given = parse_crs(crs) if crs else None
    if corner_list:
        frame = frame.set_crs(given or "EPSG:4326", allow_override=True)
        if given is None:
            notes.append("corner list in degrees read as WGS 84 (EPSG:4326); use --crs otherwise")
    elif frame.crs is None:
        if given is not None:
            frame = frame.set_crs(given)
        else:
            raise InputFileError(
                str(path),
                "declares no coordinate reference system; say which with --crs "
                "(e.g. --crs EPSG:4326 for longitude/latitude, EPSG:32648 for UTM 48N)",
            )
    elif given is not None and not frame.crs.equals(given):
        notes.append(f"the file declares {frame.crs.to_string()}; --crs {crs} was used instead")
        frame = frame.set_crs(given, allow_override=True)
    notes += frame.attrs.pop("warnings", [])
    source_crs = frame.crs.to_string() if frame.crs is not None else "?"
    if not frame.crs.equals("EPSG:4326"):
        try:
            frame = frame.to_crs("EPSG:4326")
        except Exception as exc:
            raise InputFileError(
                str(path), f"cannot be reprojected from {source_crs} to EPSG:4326: {exc}"
            ) from None
        notes.append(f"reprojected from {source_crs} to EPSG:4326")
    if frame.geometry.name != "geometry":
        frame = frame.rename_geometry("geometry")
    frame = frame.reset_index(drop=True)
    return frame, SourceInfo(str(path), fmt, source_crs, len(frame), notes)
