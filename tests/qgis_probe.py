"""Run by tests/test_qgis.py under Debian's python3 with python3-qgis (not the project's venv):
opens Gazar's data in headless QGIS and prints what QGIS sees as JSON on stdout.

    python3 tests/qgis_probe.py '{"gpkg": PATH, "layers": [...], "url": URL, "bbox": [...],
                                  "page_size": N, "raster": PATH, "projects": [PATH, ...],
                                  "renders": {PROJECT: [[LAYER_ID, [x0, y0, x1, y1]], ...]},
                                  "edit": {"layer": L, "id": ID, "field": F, "good": V, "bad": W}}'
"""

import json
import os
import sys

from qgis.core import (  # type: ignore[import-not-found]
    QgsApplication,
    QgsCoordinateReferenceSystem,
    QgsExpression,
    QgsExpressionContext,
    QgsExpressionContextScope,
    QgsFeatureRequest,
    QgsMapLayerType,
    QgsMapRendererSequentialJob,
    QgsMapSettings,
    QgsPalLayerSettings,
    QgsProject,
    QgsRasterLayer,
    QgsRectangle,
    QgsVectorLayer,
)
from qgis.PyQt.QtCore import QSize  # type: ignore[import-not-found]
from qgis.PyQt.QtGui import QColor  # type: ignore[import-not-found]


def _layer(layer: QgsVectorLayer) -> dict:
    renderer = layer.renderer()
    cats = None
    if renderer is not None and hasattr(renderer, "categories"):
        cats = [[c.value(), c.label()] for c in renderer.categories()]
    return {
        "valid": layer.isValid(),
        "labels": _labels(layer),
        "count": layer.featureCount(),
        "fields": [f.name() for f in layer.fields()],
        "wkb": int(layer.wkbType()),
        "renderer": renderer.type() if renderer is not None else None,
        "categories": cats,
    }


#: the scales the label rule is tried at: the web map's zooms 6, 9 and 11 over Mongolia
LABEL_SCALES = (6_400_000, 800_000, 200_000)


def _labels(layer) -> dict | None:
    """The layer's labels: whether shown, the data-defined Show rule, and for each feature
    (its ``kind``, if any) whether QGIS shows its label at each of :data:`LABEL_SCALES`."""
    if not layer.labelsEnabled() or layer.labeling() is None:
        return None
    settings = layer.labeling().settings()
    prop = settings.dataDefinedProperties().property(QgsPalLayerSettings.Show)
    rule = prop.expressionString() if prop.isActive() else ""
    shown = []
    if rule:
        expression = QgsExpression(rule)
        for feature in layer.getFeatures():
            row = []
            for scale in LABEL_SCALES:
                context = QgsExpressionContext()
                scope = QgsExpressionContextScope()
                scope.setVariable("map_scale", scale)
                context.appendScope(scope)
                context.setFeature(feature)
                row.append(bool(expression.evaluate(context)))
            kind = feature["kind"] if layer.fields().indexOf("kind") >= 0 else None
            shown.append([kind, row])
    return {"field": settings.fieldName, "rule": rule, "shown": shown}


def _edit(path: str, spec: dict) -> dict:
    layer = QgsVectorLayer(f"{path}|layername={spec['layer']}", spec["layer"], "ogr")
    index = layer.fields().indexOf(spec["field"])
    request = QgsFeatureRequest().setFilterExpression(f"\"id\" = '{spec['id']}'")
    fid = next(layer.getFeatures(request)).id()
    out = {}
    for key in ("good", "bad"):
        layer.startEditing()
        layer.changeAttributeValue(fid, index, spec[key])
        committed = layer.commitChanges()
        out[key] = {"committed": committed, "errors": list(layer.commitErrors())}
        if not committed:
            layer.rollBack()
    return out


def _tiles(layer) -> dict:
    """A vector tile layer: its source and the styles of its renderer."""
    renderer = layer.renderer()
    styles = [[s.styleName(), s.layerName(), s.filterExpression()] for s in renderer.styles()]
    return {"valid": layer.isValid(), "source": layer.sourcePath(), "styles": styles,
            "renderer": renderer.type()}  # fmt: skip


def _render(layer, box: list) -> dict:
    """Draw ``layer`` alone over ``box`` (lon/lat) into 256 x 256 pixels as QGIS's map
    canvas does (the layer's scale range applied): the scale and the pixels painted."""
    settings = QgsMapSettings()
    settings.setLayers([layer])
    settings.setDestinationCrs(QgsCoordinateReferenceSystem("EPSG:4326"))
    settings.setOutputSize(QSize(256, 256))
    settings.setExtent(QgsRectangle(*box))
    settings.setBackgroundColor(QColor(0, 0, 0, 0))
    job = QgsMapRendererSequentialJob(settings)
    job.start()
    job.waitForFinished()
    image = job.renderedImage()
    bits = image.constBits()
    bits.setsize(image.sizeInBytes())
    alpha = bytes(bits)[3::4]  # ARGB32, little-endian: every fourth byte
    return {"scale": settings.scale(), "painted": sum(1 for a in alpha if a),
            "errors": [e.message for e in job.errors()]}  # fmt: skip


def _project(path: str, renders: list) -> dict:
    project = QgsProject.instance()
    project.clear()
    read = project.read(path)
    root = project.layerTreeRoot()
    layers = {}
    for layer in project.mapLayers().values():
        tiled = layer.type() == QgsMapLayerType.VectorTileLayer
        seen = _tiles(layer) if tiled else _layer(layer)
        seen["provider"] = layer.providerType()
        seen["crs"] = layer.crs().authid()
        seen["scales"] = [layer.hasScaleBasedVisibility(), layer.minimumScale(),
                          layer.maximumScale()]  # fmt: skip
        layers[layer.id()] = seen
    drawn = [[lid, box, _render(project.mapLayer(lid), box)] for lid, box in renders]
    groups = [[g.name(), [n.layerId() for n in g.findLayers()]] for g in root.findGroups()]
    title = project.title()
    view = project.viewSettings().defaultViewExtent()
    extent = None if view.isNull() else [view.xMinimum(), view.yMinimum(), view.xMaximum(),
                                         view.yMaximum(), view.crs().authid()]  # fmt: skip
    project.clear()  # the edit below opens the file on its own
    return {"read": read, "title": title, "layers": layers, "groups": groups, "extent": extent,
            "drawn": drawn}  # fmt: skip


def main() -> None:
    config = json.loads(sys.argv[1])
    app = QgsApplication([], False)
    app.initQgis()
    out: dict = {"gpkg": {}, "oapif": {}}
    for name in config["layers"]:
        uri = f"{config['gpkg']}|layername={name}"
        out["gpkg"][name] = _layer(QgsVectorLayer(uri, name, "ogr"))
    if config.get("url"):
        for name in config["oapif"]:
            uri = f"url='{config['url']}' typename='{name}'"
            layer = QgsVectorLayer(uri, name, "OAPIF")
            seen = _layer(layer)
            seen["iterated"] = sum(1 for _ in layer.getFeatures())
            box = QgsRectangle(*config["bbox"])
            seen["in_bbox"] = sorted(
                str(f["id"]) for f in layer.getFeatures(QgsFeatureRequest().setFilterRect(box))
            )
            out["oapif"][name] = seen
        if config.get("page_size"):
            # small pages: QGIS follows the server's next links page by page
            name = config["oapif"][0]
            uri = f"url='{config['url']}' typename='{name}' pageSize='{config['page_size']}'"
            layer = QgsVectorLayer(uri, name, "OAPIF")
            out["paged"] = sorted(str(f["id"]) for f in layer.getFeatures())
    if config.get("raster"):
        raster = QgsRasterLayer(config["raster"], "available")
        provider = raster.dataProvider()
        out["raster"] = {
            "valid": raster.isValid(),
            "crs": raster.crs().authid(),
            "nodata": provider.sourceNoDataValue(1) if provider.sourceHasNoDataValue(1) else None,
            "size": [raster.width(), raster.height()],
        }
    renders = config.get("renders", {})
    out["projects"] = {p: _project(p, renders.get(p, [])) for p in config.get("projects", [])}
    if config.get("edit"):
        out["edit"] = _edit(config["gpkg"], config["edit"])
    print(json.dumps(out), flush=True)
    # QGIS 3.22 can crash tearing down providers in a script (exitQgis with layers alive):
    # what was seen is printed, so leave without the teardown
    os._exit(0)


if __name__ == "__main__":
    main()
