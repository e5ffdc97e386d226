"""Reading a file someone sent, under caps: what an archive or a GeoPackage holds is checked
from its directory (the zip's central directory, the GeoPackage's ``gpkg_contents`` and
``sqlite_master``) before GDAL opens anything, and archives are extracted by Gazar itself, the
stream stopped past the caps.

The caps (:class:`ReadLimits`) come from the settings tree (``api.settings``), passed down: this
module reads no environment. Each refusal names the cap and the ``GAZAR_*`` setting that sets it
(the words are in ``layers/catalogue/uploads.toml``).
"""

from __future__ import annotations

import sqlite3
import time
import urllib.parse
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np

from layers.errors import GazarError, InputFileError
from layers.labels import message

#: members an archive of that kind may not hold (an archive inside an archive)
ARCHIVE_SUFFIXES = frozenset(
    {".zip", ".kmz", ".gz", ".tgz", ".tar", ".bz2", ".xz", ".7z", ".rar", ".zst", ".lz4"}
)
#: the files of one shapefile
SHAPEFILE_PARTS = (".shp", ".shx", ".dbf", ".prj", ".cpg", ".qix", ".sbn", ".sbx")
#: a member expanding to less than this is never refused for its compression ratio
RATIO_FLOOR = 1_000_000
#: bytes of a GeoPackage geometry blob that are not coordinates, per feature (header, envelope,
#: WKB type and counts of a simple polygon): the vertex estimate leaves them out
_BLOB_OVERHEAD = 61
_CHUNK = 1 << 20
#: the time budget of the GeoPackage queries when ``ReadLimits.seconds`` is not set
PARSE_SECONDS = 30.0


class UploadTooLarge(InputFileError):
    """A file over one of the caps of :class:`ReadLimits` (413 over HTTP)."""


class ReadersBusy(GazarError):
    """Every parse slot (``GAZAR_MAX_PARALLEL_PARSES``) stayed taken for the time budget (503)."""


@dataclass(frozen=True)
class ReadLimits:
    """The caps under which a file is read; ``None`` is no cap. Defaults fit the command line."""

    #: files one archive may hold (``GAZAR_MAX_UPLOAD_MEMBERS``)
    max_members: int = 100
    #: bytes all members of an archive expand to (``GAZAR_MAX_UPLOAD_EXPANDED_BYTES``)
    max_expanded_bytes: int = 500_000_000
    #: bytes one member expands to (``GAZAR_MAX_UPLOAD_MEMBER_BYTES``)
    max_member_bytes: int = 500_000_000
    #: expanded / compressed size of a member over :data:`RATIO_FLOOR` bytes
    #: (``GAZAR_MAX_UPLOAD_RATIO``)
    max_ratio: float = 200.0
    #: features read from a GeoPackage layer (the server's: ``GAZAR_MAX_CHECK_FEATURES``)
    max_features: int | None = None
    #: vertices read from a GeoPackage layer, estimated from its geometry blobs
    #: (``GAZAR_MAX_VERTICES``)
    max_vertices: int | None = None
    #: the parse's address space over the reader process's own (``GAZAR_MAX_PARSE_BYTES``)
    memory_bytes: int | None = None
    #: the parse's wall-clock time (``GAZAR_MAX_PARSE_SECONDS``)
    seconds: float | None = None
    #: parses run at once in this process; more wait, up to ``seconds``
    #: (``GAZAR_MAX_PARALLEL_PARSES``)
    parallel: int | None = None


def refuse(file: str, code: str, **values: object) -> InputFileError:
    """The error for ``code`` of ``upload_message`` (a cap's codes give :class:`UploadTooLarge`)."""
    text = message("upload_message", code, "en", **values)
    cls = UploadTooLarge if code in _CAPS else InputFileError
    return cls(file, text)


_CAPS = frozenset(
    {
        "too_many_members",
        "member_too_large",
        "expanded_too_large",
        "ratio_too_high",
        "memory_budget",
        "time_budget",
    }
)


def check_counts(file: str, rows: int, vertices: int | None, limits: ReadLimits) -> None:
    """Refuse ``rows`` features or ``vertices`` vertices (counted or estimated) over the caps."""
    if limits.max_features is not None and rows > limits.max_features:
        raise refuse(
            file,
            "too_many_features",
            size=f"{rows:,}",
            limit=f"{limits.max_features:,}",
            setting="GAZAR_MAX_CHECK_FEATURES",
        )
    if vertices is not None and limits.max_vertices is not None and vertices > limits.max_vertices:
        raise refuse(
            file,
            "too_many_vertices",
            size=f"{vertices:,}",
            limit=f"{limits.max_vertices:,}",
            setting="GAZAR_MAX_VERTICES",
        )


def over_budget(file: str, budget: str, limits: ReadLimits) -> UploadTooLarge:
    """The refusal of a parse over its ``"memory"`` or ``"time"`` budget."""
    if budget == "memory":
        limit, setting = f"{limits.memory_bytes or 0:,}", "GAZAR_MAX_PARSE_BYTES"
    else:
        limit, setting = f"{limits.seconds or PARSE_SECONDS:g}", "GAZAR_MAX_PARSE_SECONDS"
    text = message("upload_message", f"{budget}_budget", "en", limit=limit, setting=setting)
    return UploadTooLarge(file, text)


def _over_member(file: str, name: str, size: str, cap: int) -> InputFileError:
    return refuse(
        file,
        "member_too_large",
        member=name,
        size=size,
        limit=f"{cap:,}",
        setting="GAZAR_MAX_UPLOAD_MEMBER_BYTES",
    )


def _over_total(file: str, limits: ReadLimits) -> InputFileError:
    return refuse(
        file,
        "expanded_too_large",
        size=f"over {limits.max_expanded_bytes:,}",
        limit=f"{limits.max_expanded_bytes:,}",
        setting="GAZAR_MAX_UPLOAD_EXPANDED_BYTES",
    )


# ------------------------------------------------------------------------------- archives


def archive_members(path: Path, limits: ReadLimits, *, file: str) -> list[zipfile.ZipInfo]:
    """The files of the zip ``path`` (folders and macOS resource forks left out), refused
    before anything is expanded when the directory declares too many, too large, too
    compressed, nested or escaping members."""
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, OSError, ValueError):
        raise InputFileError(file, "not a valid zip archive") from None
    files = [i for i in infos if not i.is_dir() and not _resource_fork(i.filename)]
    if len(infos) > limits.max_members:
        raise refuse(
            file,
            "too_many_members",
            size=f"{len(infos):,}",
            limit=f"{limits.max_members:,}",
            setting="GAZAR_MAX_UPLOAD_MEMBERS",
        )
    total = 0
    for info in infos:
        name = info.filename
        if _unsafe(name):
            raise refuse(file, "unsafe_name", member=name)
        if info.is_dir() or _resource_fork(name):
            continue
        if PurePosixPath(name.lower()).suffix in ARCHIVE_SUFFIXES:
            raise refuse(file, "nested_archive", member=name)
        _check_member(file, name, info.file_size, info.compress_size, limits)
        total += info.file_size
        if total > limits.max_expanded_bytes:
            raise _over_total(file, limits)
    return files


def _check_member(file: str, name: str, size: int, packed: int, limits: ReadLimits) -> None:
    if size > limits.max_member_bytes:
        raise _over_member(file, name, f"{size:,}", limits.max_member_bytes)
    if size > RATIO_FLOOR and size > limits.max_ratio * max(packed, 1):
        raise refuse(
            file,
            "ratio_too_high",
            member=name,
            size=f"{size / max(packed, 1):,.0f}",
            limit=f"{limits.max_ratio:,.0f}",
            setting="GAZAR_MAX_UPLOAD_RATIO",
        )


def extract(
    path: Path,
    members: list[zipfile.ZipInfo],
    folder: Path,
    names: list[str],
    limits: ReadLimits,
    *,
    file: str,
) -> list[Path]:
    """Write ``members`` of the zip ``path`` into ``folder`` under ``names`` (Gazar's own, so no
    name from the archive becomes a path), counting the bytes as they come: the stream stops
    past a member's declared size or the caps, whatever the directory said."""
    out: list[Path] = []
    total = 0
    with zipfile.ZipFile(path) as zf:
        for info, name in zip(members, names, strict=True):
            target = folder / name
            written = 0
            try:
                with zf.open(info) as src, target.open("wb") as dst:
                    while chunk := src.read(_CHUNK):
                        written += len(chunk)
                        total += len(chunk)
                        cap = min(info.file_size, limits.max_member_bytes)
                        if written > cap:
                            raise _over_member(file, info.filename, f"over {written:,}", cap)
                        if total > limits.max_expanded_bytes:
                            raise _over_total(file, limits)
                        dst.write(chunk)
            except RuntimeError:  # zipfile: "File ... is encrypted, password required"
                raise refuse(file, "encrypted", member=info.filename) from None
            except (zipfile.BadZipFile, OSError, EOFError) as exc:
                raise InputFileError(file, f"{info.filename} cannot be expanded ({exc})") from None
            out.append(target)
    return out


def _resource_fork(name: str) -> bool:
    return name.startswith("__MACOSX/") or PurePosixPath(name).name.startswith("._")


def _unsafe(name: str) -> bool:
    posix = name.replace("\\", "/")
    parts = PurePosixPath(posix).parts
    return (
        posix.startswith("/")
        or ".." in parts
        or (len(posix) > 1 and posix[1] == ":")  # C:...
        or "\x00" in name
    )


def shapefile_in(path: Path, limits: ReadLimits, folder: Path, *, file: str) -> Path:
    """The one shapefile of the zip ``path``, extracted into ``folder``; returns its ``.shp``."""
    members = archive_members(path, limits, file=file)
    shps = [m for m in members if m.filename.lower().endswith(".shp")]
    if not shps:
        raise InputFileError(file, "the zip archive holds no .shp file")
    if len(shps) > 1:
        raise InputFileError(
            file,
            "the zip archive holds several shapefiles: " + ", ".join(m.filename for m in shps),
        )
    stem = shps[0].filename[: -len(".shp")].lower()
    parts = [
        m
        for m in members
        if m.filename.lower()[: -len(PurePosixPath(m.filename).suffix) or None] == stem
        and PurePosixPath(m.filename.lower()).suffix in SHAPEFILE_PARTS
    ]
    names = [f"upload{PurePosixPath(m.filename.lower()).suffix}" for m in parts]
    extract(path, parts, folder, names, limits, file=file)
    check_shapefile(folder / "upload.shp", limits, file=file)
    return folder / "upload.shp"


def shapefile_records(shp: Path) -> np.ndarray | None:
    """The content length in bytes of each record of the shapefile ``shp``, from its ``.shx``
    index (``None`` without one)."""
    shx = next((p for p in (shp.with_suffix(".shx"), shp.with_suffix(".SHX")) if p.is_file()), None)
    if shx is None:
        return None
    index = np.frombuffer(shx.read_bytes()[100:], dtype=">i4")
    return index[1 : len(index) - len(index) % 2 : 2].astype(np.int64) * 2


def check_shapefile(shp: Path, limits: ReadLimits, *, file: str) -> None:
    """Refuse a shapefile whose index counts more records, or whose records hold more
    coordinates (16 bytes each), than the caps: read before GDAL opens it."""
    lengths = shapefile_records(shp)
    if lengths is None:
        return
    vertices = int(np.maximum(lengths - 44, 0).sum() // 16)  # type, box, counts: 44 bytes
    check_counts(file, len(lengths), vertices, limits)


def kml_in(path: Path, limits: ReadLimits, folder: Path, *, file: str) -> Path:
    """The KML document of the KMZ ``path`` (``doc.kml``, else its first ``.kml``), extracted
    into ``folder``."""
    members = archive_members(path, limits, file=file)
    kmls = [m for m in members if m.filename.lower().endswith(".kml")]
    if not kmls:
        raise InputFileError(file, "the KMZ archive holds no .kml document")
    doc = next((m for m in kmls if m.filename.lower() == "doc.kml"), kmls[0])
    extract(path, [doc], folder, ["doc.kml"], limits, file=file)
    return folder / "doc.kml"


# ----------------------------------------------------------------------------- GeoPackage


@dataclass(frozen=True)
class GeoPackageLayer:
    """A feature table of a GeoPackage, as its directory and a count describe it."""

    name: str
    rows: int
    geometry_bytes: int

    @property
    def vertices(self) -> int:
        """About how many vertices the geometry blobs hold (2-D coordinates, 16 bytes each)."""
        return max(0, self.geometry_bytes - _BLOB_OVERHEAD * self.rows) // 16


def geopackage_layers(
    path: Path, limits: ReadLimits, *, file: str, source_layer: str | None = None
) -> list[GeoPackageLayer]:
    """The feature tables of the GeoPackage ``path`` that will be read (``source_layer`` or all),
    with their rows and geometry bytes; refused when one is a view or over the caps.

    The file is opened read-only and immutable (``mode=ro&immutable=1``): nothing is written, no
    trigger runs, and a query running past the time budget is stopped."""
    uri = f"file:{urllib.parse.quote(str(path.resolve()))}?mode=ro&immutable=1"
    deadline = time.monotonic() + (limits.seconds or PARSE_SECONDS)
    try:
        con = sqlite3.connect(uri, uri=True)
    except sqlite3.Error as exc:
        raise InputFileError(file, f"cannot be read as GeoPackage: {exc}") from None
    con.set_progress_handler(lambda: int(time.monotonic() > deadline), 10_000)
    try:
        return _layers(con, limits, file=file, source_layer=source_layer)
    except sqlite3.OperationalError as exc:
        if "interrupted" in str(exc):
            raise over_budget(file, "time", limits) from None
        raise InputFileError(file, f"cannot be read as GeoPackage: {exc}") from None
    except sqlite3.DatabaseError as exc:
        raise InputFileError(file, f"cannot be read as GeoPackage: {exc}") from None
    finally:
        con.close()


def _layers(
    con: sqlite3.Connection, limits: ReadLimits, *, file: str, source_layer: str | None
) -> list[GeoPackageLayer]:
    kinds = dict(con.execute("SELECT lower(name), type FROM sqlite_master").fetchall())
    if kinds.get("gpkg_contents") != "table":
        raise refuse(file, "not_a_geopackage")
    listed = [
        str(n)
        for (n,) in con.execute(
            "SELECT table_name FROM gpkg_contents WHERE data_type = 'features'"
        ).fetchall()
    ]
    if source_layer is not None:
        if source_layer not in listed:
            raise InputFileError(
                file, f"has no layer '{source_layer}'; its layers: {', '.join(listed)}"
            )
        listed = [source_layer]
    columns: dict[str, str] = {}
    if kinds.get("gpkg_geometry_columns") == "table":
        columns = {
            str(t).lower(): str(c)
            for t, c in con.execute(
                "SELECT table_name, column_name FROM gpkg_geometry_columns"
            ).fetchall()
        }
    found = []
    for name in listed:
        if kinds.get(name.lower()) != "table":
            raise refuse(file, "gpkg_not_a_table", layer=name)
        table = _quoted(name)
        rows = int(con.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])
        check_counts(file, rows, None, limits)
        size = 0
        column = columns.get(name.lower())
        if column is not None:
            query = f"SELECT COALESCE(SUM(length({_quoted(column)})), 0) FROM {table}"
            size = int(con.execute(query).fetchone()[0])
        layer = GeoPackageLayer(name, rows, size)
        check_counts(file, rows, layer.vertices, limits)
        found.append(layer)
    return found


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
