"""Reading polygon files as published: GeoJSON, GeoPackage, Shapefile (also zipped), KML/KMZ,
FlatGeobuf, CSV with a WKT column and CSV corner lists (decimal or DMS).

``read_features`` returns a GeoDataFrame in EPSG:4326 with the file's own column names; renaming
(``--map``) and validation come after it. A file with no CRS is refused unless one is given, except
a corner list in degrees, which is geographic by construction and read as WGS 84 (MONREF97
coincides with it to about 1 m).
"""

from __future__ import annotations

import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import shapely
from pyproj import CRS
from pyproj.exceptions import CRSError

from layers.errors import InputFileError, Problem, ValidationFailed
from layers.labels import message

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


def _kmz_document(path: Path) -> str:
    """The KML document inside a KMZ: ``doc.kml``, else the archive's first ``.kml`` (as
    Google Earth reads it); GDAL's KML driver reads it through ``/vsizip/``."""
    try:
        with zipfile.ZipFile(path) as zf:
            names = [n for n in zf.namelist() if n.lower().endswith(".kml")]
    except zipfile.BadZipFile:
        raise InputFileError(str(path), "not a valid zip archive") from None
    if not names:
        raise InputFileError(str(path), "the KMZ archive holds no .kml file")
    return next((n for n in names if n.lower() == "doc.kml"), names[0])


def _gdal_path(path: Path) -> tuple[str, str]:
    suffix = path.suffix.lower()
    if suffix == ".zip":
        try:
            with zipfile.ZipFile(path) as zf:
                names = [n for n in zf.namelist() if n.lower().endswith(".shp")]
        except zipfile.BadZipFile:
            raise InputFileError(str(path), "not a valid zip archive") from None
        if not names:
            raise InputFileError(str(path), "the zip archive holds no .shp file")
        if len(names) > 1:
            raise InputFileError(
                str(path), f"the zip archive holds several shapefiles: {', '.join(names)}"
            )
        return f"/vsizip/{path.resolve()}/{names[0]}", "Shapefile (zipped)"
    if suffix == ".shp":
        return str(path), "Shapefile"
    if suffix == ".kmz":
        return f"/vsizip/{path.resolve()}/{_kmz_document(path)}", "KMZ"
    return str(path), {
        ".geojson": "GeoJSON",
        ".json": "GeoJSON",
        ".gpkg": "GeoPackage",
        ".kml": "KML",
        ".fgb": "FlatGeobuf",
    }[suffix]


def _read_gdal(path: Path, source_layer: str | None) -> tuple[gpd.GeoDataFrame, str]:
    gdal_path, fmt = _gdal_path(path)
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
        except Exception as exc:
            raise InputFileError(str(path), f"cannot be read as {fmt}: {exc}") from None
        if isinstance(frame, gpd.GeoDataFrame) and len(frame):
            frames.append(frame)
    if not frames:
        raise InputFileError(str(path), "the file has no features")
    if len(frames) == 1:
        return frames[0], fmt
    crs = frames[0].crs
    return gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs=crs), fmt


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


def _check_readable(path: Path) -> None:
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
) -> tuple[gpd.GeoDataFrame, SourceInfo]:
    """Read a polygon file and return its features in EPSG:4326 with the file's columns.

    Parameters
    ----------
    crs
        The file's CRS when it declares none (or to override a wrong declaration).
    source_layer
        Which layer of a multi-layer file (GeoPackage, KML with folders) to read.
    """
    path = Path(file)
    if not path.exists():
        raise InputFileError(str(path), "no such file")
    if path.is_dir():
        raise InputFileError(str(path), "is a folder, not a file")
    _check_readable(path)
    suffix = path.suffix.lower()
    notes: list[str] = []
    corner_list = False
    if suffix == ".csv":
        frame, fmt, corner_list = _read_csv(path)
    elif suffix in _GDAL_SUFFIXES:
        frame, fmt = _read_gdal(path, source_layer)
    else:
        raise InputFileError(
            str(path),
            f"unknown file type '{suffix or '(none)'}'; Gazar reads .geojson, .gpkg, .shp, "
            ".zip (zipped shapefile), .kml, .kmz, .fgb and .csv",
        )
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
