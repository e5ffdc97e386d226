"""Run by tests/test_qgis.py under Debian's python3 with python3-qgis (not the project's venv):
opens Gazar's data in headless QGIS and prints what QGIS sees as JSON on stdout.

    python3 tests/qgis_probe.py '{"gpkg": PATH, "layers": [...], "url": URL, "bbox": [...],
                                  "page_size": N, "raster": PATH, "projects": [PATH, ...],
                                  "edit": {"layer": L, "id": ID, "field": F, "good": V, "bad": W}}'
"""

import json
import os
import sys

from qgis.core import (  # type: ignore[import-not-found]
    QgsApplication,
    QgsFeatureRequest,
    QgsProject,
    QgsRasterLayer,
    QgsRectangle,
    QgsVectorLayer,
)


def _layer(layer: QgsVectorLayer) -> dict:
    renderer = layer.renderer()
    cats = None
    if renderer is not None and hasattr(renderer, "categories"):
        cats = [[c.value(), c.label()] for c in renderer.categories()]
    return {
        "valid": layer.isValid(),
        "count": layer.featureCount(),
        "fields": [f.name() for f in layer.fields()],
        "wkb": int(layer.wkbType()),
        "renderer": renderer.type() if renderer is not None else None,
        "categories": cats,
    }


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


def _project(path: str) -> dict:
    project = QgsProject.instance()
    project.clear()
    read = project.read(path)
    root = project.layerTreeRoot()
    layers = {}
    for layer in project.mapLayers().values():
        seen = _layer(layer)
        seen["provider"] = layer.providerType()
        seen["crs"] = layer.crs().authid()
        layers[layer.id()] = seen
    groups = [[g.name(), [n.layerId() for n in g.findLayers()]] for g in root.findGroups()]
    title = project.title()
    view = project.viewSettings().defaultViewExtent()
    extent = None if view.isNull() else [view.xMinimum(), view.yMinimum(), view.xMaximum(),
                                         view.yMaximum(), view.crs().authid()]  # fmt: skip
    project.clear()  # the edit below opens the file on its own
    return {"read": read, "title": title, "layers": layers, "groups": groups, "extent": extent}


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
    out["projects"] = {path: _project(path) for path in config.get("projects", [])}
    if config.get("edit"):
        out["edit"] = _edit(config["gpkg"], config["edit"])
    print(json.dumps(out), flush=True)
    # QGIS 3.22 can crash tearing down providers in a script (exitQgis with layers alive):
    # what was seen is printed, so leave without the teardown
    os._exit(0)


if __name__ == "__main__":
    main()
