"""A QGIS project of the store (``gazar qgis-project``): every layer, grouped and styled, read
from the GeoPackage file, the PostGIS database or a server's OGC API – Features.

The project is a ``.qgs`` document built here with :mod:`xml.etree.ElementTree` (every name and
value escaped) and zipped as QGIS's ``.qgz``; no QGIS is needed to write it. Each layer carries
the QML style of :mod:`layers.qgis_styles` (the web map's colours, the legend in the project's
language), so QGIS draws it as the web map does. The groups, top to bottom: the derived
collections (served only: overlaps, available land), Gazar's own layers, the reference layers.

A project of a server also opens the server's vector tiles (OGC API – Tiles) of the layers that
can be large (:data:`TILED`) as QGIS vector tile layers in an overview group on top, styled as
their features are, and switches between the two as the web map does between its zoom levels:
zoomed out (smaller than 1::data:`FEATURES_FROM_SCALE`) QGIS draws the tiles, zoomed in the
features (for identify, attributes and editing); a national view of 100,000 parcels then asks
for a few tiles, not every feature.

A GeoPackage is named relative to the project (the two can be moved together); a PostGIS
connection is written without its password (QGIS asks for it, or reads ``~/.pgpass``).
"""

from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

from api.services.collection_schema import geometry_type
from api.services.collections import COLLECTIONS, CollectionDef
from layers.labels import Lang, label
from layers.qgis_styles import QGIS_VERSION, layer_paint, qml, vector_tile_renderer, zoom_scale
from layers.schema import REGISTRY
from layers.store import LayerInfo

Kind = Literal["gpkg", "postgis", "oapif"]

#: QGIS's name of the geometry family of each declared type (the ``geometry`` attribute)
_FAMILY: Final = {
    "Point": "Point", "MultiPoint": "Point",
    "LineString": "Line", "MultiLineString": "Line",
    "Polygon": "Polygon", "MultiPolygon": "Polygon",
}  # fmt: skip
_PROVIDERS: Final[dict[Kind, str]] = {"gpkg": "ogr", "postgis": "postgres", "oapif": "OAPIF"}
#: QGIS's provider of a vector tile layer
TILE_PROVIDER: Final = "vectortile"
#: the collections a server's project also draws from vector tiles when zoomed out
TILED: Final = frozenset({
    "overlaps", "available_land", "land_conclusions", "contract_parcels", "rehab_zones",
    "licences", "exclusions",
})  # fmt: skip
#: the scale (1:N) the tiled layers switch at: features from it in, tiles beyond it — the web
#: map's zoom 11 (``web.maps.styles.RemoteLoading.min_zoom``) over Mongolia
FEATURES_FROM_SCALE: Final = zoom_scale(11)
#: the deepest tiles QGIS asks for (it draws them larger beyond)
TILE_MAX_ZOOM: Final = 14
#: a server address QGIS can be given inside a quoted URI value: no quotes, spaces or backslashes
URL_RE: Final = re.compile(r"https?://[A-Za-z0-9.\-\[\]:]+(?:/[A-Za-z0-9._~\-/%]*)?")


@dataclass(frozen=True)
class Source:
    """Where the project's layers are read from."""

    kind: Kind
    #: the GeoPackage (absolute), the PostGIS URL or the server's address
    where: str


@dataclass(frozen=True)
class ProjectLayer:
    id: str
    name: str
    group: Literal["tiles", "derived", "core", "reference"]
    definition: CollectionDef

    @property
    def tiled(self) -> bool:
        """A vector tile layer (the overview group of a server's project)."""
        return self.group == "tiles"


def project_layers(source: Source) -> list[ProjectLayer]:
    """The project's layers in the layer tree's order (top first): the derived collections
    (only from a server), Gazar's layers, the reference layers; points, lines and a layer
    without fill (an outline) above the filled ones of its group, so no fill hides them. A
    server's project has the vector tiles of the :data:`TILED` layers on top, in that order."""
    groups: dict[str, list[str]] = {"tiles": [], "derived": [], "core": [], "reference": []}
    for name, kind in REGISTRY.items():
        groups[kind.role].insert(0, name)
    if source.kind == "oapif":
        groups["derived"] = [cid for cid, d in COLLECTIONS.items() if d.derived]
    for names in groups.values():
        names.sort(key=_tree_rank)  # stable
    if source.kind == "oapif":
        groups["tiles"] = [n for names in groups.values() for n in names if n in TILED]
    out = []
    for group, names in groups.items():
        prefix = "gazar_tiles_" if group == "tiles" else "gazar_"
        out += [ProjectLayer(f"{prefix}{n}", n, group, COLLECTIONS[n]) for n in names]  # type: ignore[arg-type]
    return out


def _tree_rank(name: str) -> int:
    """Where a layer goes in its group (top first): points, lines, outlines, then fills."""
    kind = REGISTRY.get(name)
    if kind is not None and kind.geometry == "Point":
        return 0
    if kind is not None and kind.geometry == "MultiLineString":
        return 1
    return 2 if layer_paint(name).default.fill is None else 3


def _quoted(value: str) -> str:
    """A value of a QGIS data source URI, quoted as ``QgsDataSourceUri`` does."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _postgis_prefix(url: str) -> tuple[str, str]:
    """The connection part of a QGIS PostGIS URI (no password) and the tables' schema."""
    from psycopg.conninfo import conninfo_to_dict

    params = conninfo_to_dict(url)
    keys = {"dbname": "dbname", "host": "host", "port": "port", "user": "user"}
    parts = [f"{q}={_quoted(str(params[k]))}" for k, q in keys.items() if params.get(k)]
    parts.append(f"sslmode={params.get('sslmode') or 'prefer'}")
    found = re.search(r"search_path\s*=\s*([A-Za-z_][A-Za-z0-9_]*)", str(params.get("options", "")))
    return " ".join(parts), found.group(1) if found else "public"


def tiles_datasource(url: str, layer: str) -> str:
    """The QGIS data source of the vector tiles of ``layer`` on the server at ``url``."""
    template = f"{url.rstrip('/')}/collections/{layer}/tiles/WebMercatorQuad/{{z}}/{{y}}/{{x}}"
    return f"type=xyz&url={template}&zmax={TILE_MAX_ZOOM}&zmin=0"


def _source_of(layer: ProjectLayer, source: Source, project_dir: Path) -> str:
    if layer.tiled:
        return tiles_datasource(source.where, layer.name)
    return datasource(source, layer.name, project_dir)


def _provider(layer: ProjectLayer, source: Source) -> str:
    return TILE_PROVIDER if layer.tiled else _PROVIDERS[source.kind]


def datasource(source: Source, layer: str, project_dir: Path) -> str:
    """The QGIS data source of ``layer`` from ``source``."""
    if source.kind == "gpkg":
        rel = os.path.relpath(source.where, project_dir)
        path = rel if rel.startswith("../") else f"./{rel}"
        return f"{path}|layername={layer}"
    if source.kind == "postgis":
        prefix, schema = _postgis_prefix(source.where)
        declared = geometry_type(COLLECTIONS[layer])
        return (
            f"{prefix} key='fid' srid=4326 type={declared} checkPrimaryKeyUnicity='0' "
            f'table="{schema}"."{layer}" (geom)'
        )
    return f"url={_quoted(source.where.rstrip('/'))} typename={_quoted(layer)} pagingEnabled='true'"


#: the spatial reference systems a project names: its own (WGS 84) and the tiles' (Web Mercator)
_SRS: Final = {
    4326: (("proj4", "+proj=longlat +datum=WGS84 +no_defs"), ("srsid", "3452"), ("srid", "4326"),
           ("authid", "EPSG:4326"), ("description", "WGS 84"), ("projectionacronym", "longlat"),
           ("ellipsoidacronym", "EPSG:7030"), ("geographicflag", "true")),
    3857: (("proj4", "+proj=merc +a=6378137 +b=6378137 +lat_ts=0 +lon_0=0 +x_0=0 +y_0=0 +k=1 "
                     "+units=m +nadgrids=@null +wktext +no_defs"),
           ("srsid", "3857"), ("srid", "3857"), ("authid", "EPSG:3857"),
           ("description", "WGS 84 / Pseudo-Mercator"), ("projectionacronym", "merc"),
           ("ellipsoidacronym", "EPSG:7030"), ("geographicflag", "false")),
}  # fmt: skip


def _srs(parent: ET.Element, epsg: int = 4326) -> None:
    srs = ET.SubElement(parent, "spatialrefsys")
    ET.SubElement(srs, "wkt").text = ""
    for tag, value in _SRS[epsg]:
        ET.SubElement(srs, tag).text = value


def _map_layer(parent: ET.Element, layer: ProjectLayer, source: Source, lang: Lang, where: Path):
    if layer.tiled:
        _tile_layer(parent, layer, source, lang)
        return
    declared = geometry_type(layer.definition)
    # a layer with tiles draws its features only zoomed in (QGIS: while scale < minScale)
    switched = source.kind == "oapif" and layer.name in TILED
    element = ET.SubElement(
        parent, "maplayer", type="vector", geometry=_FAMILY[declared], wkbType=declared,
        hasScaleBasedVisibilityFlag="1" if switched else "0",
        minScale=str(FEATURES_FROM_SCALE) if switched else "0", maxScale="0",
        autoRefreshEnabled="0", readOnly="0",
    )  # fmt: skip
    ET.SubElement(element, "id").text = layer.id
    ET.SubElement(element, "datasource").text = datasource(source, layer.name, where)
    ET.SubElement(element, "layername").text = _title(layer, lang)
    _srs(ET.SubElement(element, "srs"))
    ET.SubElement(element, "provider", encoding="UTF-8").text = _PROVIDERS[source.kind]
    style = ET.fromstring(qml(layer.name, lang))
    element.extend(list(style))


def _tile_layer(parent: ET.Element, layer: ProjectLayer, source: Source, lang: Lang) -> None:
    """A vector tile layer of the server's tiles, drawn zoomed out (QGIS: while scale >=
    maxScale) with :func:`layers.qgis_styles.vector_tile_renderer`."""
    element = ET.SubElement(
        parent, "maplayer", type="vector-tile", hasScaleBasedVisibilityFlag="1",
        minScale="0", maxScale=str(FEATURES_FROM_SCALE), autoRefreshEnabled="0",
    )  # fmt: skip
    ET.SubElement(element, "id").text = layer.id
    ET.SubElement(element, "datasource").text = tiles_datasource(source.where, layer.name)
    ET.SubElement(element, "layername").text = _title(layer, lang)
    _srs(ET.SubElement(element, "srs"), 3857)
    ET.SubElement(element, "provider").text = TILE_PROVIDER
    vector_tile_renderer(element, layer.name, lang, _title(layer, lang))
    ET.SubElement(element, "blendMode").text = "0"
    ET.SubElement(element, "layerOpacity").text = "1"


def _title(layer: ProjectLayer, lang: Lang) -> str:
    title = layer.definition.title_mn if lang == "mn" else layer.definition.title_en
    if layer.tiled:
        return f"{title} ({label('qgis_group', 'tiles_suffix', lang)})"
    return title


#: (minx, miny, maxx, maxy) in EPSG:4326
Extent = tuple[float, float, float, float]


def store_extent(infos: Iterable[LayerInfo]) -> Extent | None:
    """Where the project opens: the bounds of Gazar's own layers (Land Conclusions, parcels,
    rehabilitation), else of every layer; None for an empty store.

    Examples
    --------
    >>> store_extent([LayerInfo("soums", 2, (90.0, 41.0, 120.0, 52.0)),
    ...               LayerInfo("land_conclusions", 1, (106.0, 47.0, 106.5, 47.2)),
    ...               LayerInfo("contract_parcels", 0, None)])
    (106.0, 47.0, 106.5, 47.2)
    """
    boxes = [(i.layer, i.bbox) for i in infos if i.bbox is not None and i.layer in REGISTRY]
    core = [b for name, b in boxes if REGISTRY[name].role == "core"]
    chosen = core or [b for _name, b in boxes]
    if not chosen:
        return None
    return (
        min(b[0] for b in chosen),
        min(b[1] for b in chosen),
        max(b[2] for b in chosen),
        max(b[3] for b in chosen),
    )


def _view(root: ET.Element, extent: Extent) -> None:
    """The extent QGIS opens the project at: the project's default view (QGIS 3.10 and
    later) and the map canvas's saved extent (what older QGIS and the desktop restore)."""
    xmin, ymin, xmax, ymax = (repr(float(v)) for v in extent)
    view = ET.SubElement(root, "ProjectViewSettings", UseProjectScales="0", rotation="0")
    ET.SubElement(view, "Scales")
    default = ET.SubElement(view, "DefaultViewExtent", xmin=xmin, ymin=ymin, xmax=xmax, ymax=ymax)
    _srs(default)
    canvas = ET.SubElement(root, "mapcanvas", name="theMapCanvas", annotationsVisible="1")
    ET.SubElement(canvas, "units").text = "degrees"
    box = ET.SubElement(canvas, "extent")
    for tag, value in (("xmin", xmin), ("ymin", ymin), ("xmax", xmax), ("ymax", ymax)):
        ET.SubElement(box, tag).text = value
    ET.SubElement(canvas, "rotation").text = "0"
    _srs(ET.SubElement(canvas, "destinationsrs"))


def project_xml(source: Source, lang: Lang, project_dir: Path, extent: Extent | None = None) -> str:
    """The ``.qgs`` document: every layer of ``source`` grouped, styled in ``lang``, opening
    at ``extent`` when given."""
    layers = project_layers(source)
    title = label("qgis_group", "project", lang)
    root = ET.Element("qgis", projectname=title, version=QGIS_VERSION)
    ET.SubElement(root, "homePath", path="")
    ET.SubElement(root, "title").text = title
    _srs(ET.SubElement(root, "projectCrs"))
    if extent is not None:
        _view(root, extent)
    tree = ET.SubElement(root, "layer-tree-group")
    ET.SubElement(tree, "customproperties")
    groups: dict[str, ET.Element] = {}
    for layer in layers:
        if layer.group not in groups:
            groups[layer.group] = ET.SubElement(
                tree, "layer-tree-group", name=label("qgis_group", layer.group, lang),
                checked="Qt::Checked", expanded="1",
            )  # fmt: skip
            ET.SubElement(groups[layer.group], "customproperties")
        node = ET.SubElement(
            groups[layer.group], "layer-tree-layer", id=layer.id, name=_title(layer, lang),
            source=_source_of(layer, source, project_dir),
            providerKey=_provider(layer, source), checked="Qt::Checked", expanded="1",
        )  # fmt: skip
        ET.SubElement(node, "customproperties")
    listed = ET.SubElement(root, "projectlayers")
    for layer in layers:
        _map_layer(listed, layer, source, lang, project_dir)
    properties = ET.SubElement(root, "properties")
    paths = ET.SubElement(properties, "Paths")
    ET.SubElement(paths, "Absolute", type="bool").text = "false"
    body = ET.tostring(root, encoding="unicode")
    return f"<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n{body}\n"


def write_project(
    out: Path, source: Source, lang: Lang, extent: Extent | None = None
) -> list[ProjectLayer]:
    """Write the project to ``out`` (a ``.qgz``): to ``out.part`` first, then renamed, so a
    failure leaves no half-written project. Returns the layers written."""
    project_dir = out.resolve().parent
    document = project_xml(source, lang, project_dir, extent)
    part = out.with_name(out.name + ".part")
    try:
        with zipfile.ZipFile(part, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(f"{out.stem}.qgs", document)
        os.replace(part, out)
    finally:
        part.unlink(missing_ok=True)
    return project_layers(source)
