"""Open layers the way a QGIS user does and render them: run with PyQGIS's python3.

Usage (Debian: ``apt-get install qgis python3-qgis``; no display needed)::

    QT_QPA_PLATFORM=offscreen /usr/bin/python3 docs/qgis_render.py SPEC.json [REPORT.json]

SPEC is a JSON object: ``layers`` is a list of ``{"path": …, "name": …, "type":
"raster"|"vector", "layer": <GeoPackage layer name, optional>}``, drawn with
the first on top; ``each`` (default true) renders every layer alone at 256 px
and reports it; ``picture`` (optional) is ``{"path": PNG or JPEG, "width": px,
"layers": [names, top first], "title": str}`` rendered together over the
extent of the last of those layers. Each layer is opened with its default style
(``<name>.qml`` beside it, or a GeoPackage's ``layer_styles`` row), as QGIS
does when a user drags the file in. The report (stdout, or REPORT) lists per
layer: valid, CRS, renderer type, feature count or size, render errors and
how many pixels the layer painted.
"""

from __future__ import annotations

import json
import os
import sys

from qgis.core import (
    QgsApplication,
    QgsMapRendererSequentialJob,
    QgsMapSettings,
    QgsRasterLayer,
    QgsRectangle,
    QgsVectorLayer,
)
from qgis.PyQt.QtCore import QSize, Qt
from qgis.PyQt.QtGui import QColor, QFont, QImage, QPainter


def open_layer(spec: dict):
    """The layer of ``spec`` with its default style applied, as QGIS opens a dropped file."""
    if spec["type"] == "raster":
        return QgsRasterLayer(spec["path"], spec["name"])
    uri = spec["path"] + (f"|layername={spec['layer']}" if spec.get("layer") else "")
    return QgsVectorLayer(uri, spec["name"], "ogr")


def render(layers: list, extent: QgsRectangle, width: int) -> tuple[QImage, list[str]]:
    """Draw ``layers`` (top first) over ``extent`` on a white image ``width`` pixels wide."""
    settings = QgsMapSettings()
    settings.setLayers(layers)
    settings.setDestinationCrs(layers[-1].crs())
    settings.setBackgroundColor(QColor(255, 255, 255))
    height = max(1, round(width * extent.height() / max(extent.width(), 1e-9)))
    settings.setOutputSize(QSize(width, height))
    settings.setExtent(extent)
    job = QgsMapRendererSequentialJob(settings)
    job.start()
    job.waitForFinished()
    errors = [f"{e.layerID}: {e.message}" for e in job.errors()]
    return job.renderedImage(), errors


def painted(image: QImage) -> int:
    """Pixels that are not the white background (sampled on a grid of at most 128²)."""
    step = max(1, max(image.width(), image.height()) // 128)
    count = 0
    for y in range(0, image.height(), step):
        for x in range(0, image.width(), step):
            if QColor(image.pixel(x, y)).rgb() != QColor(255, 255, 255).rgb():
                count += 1
    return count


def describe(layer) -> dict:
    info = {
        "valid": layer.isValid(),
        "crs": layer.crs().authid(),
        "renderer": layer.renderer().type() if layer.renderer() else None,
    }
    if isinstance(layer, QgsVectorLayer):
        info["features"] = layer.featureCount()
        info["fields"] = [f.name() for f in layer.fields()]
        symbol = layer.renderer().symbol() if info["renderer"] == "singleSymbol" else None
        if symbol is not None:  # "no": outlines only, the map shows through
            info["brush"] = "no" if symbol.symbolLayer(0).brushStyle() == Qt.NoBrush else "fill"
    else:
        info["size"] = [layer.width(), layer.height()]
        info["bands"] = layer.bandCount()
        renderer = layer.renderer()
        info["band"] = renderer.band() if hasattr(renderer, "band") else None
    return info


def legend(layer) -> list[tuple[str, QColor, bool]]:
    """(label, colour, outline only) of each class the layer's style draws, as in its legend."""
    renderer = layer.renderer()
    kind = renderer.type() if renderer else None
    if kind == "categorizedSymbol":
        return [(c.label(), c.symbol().color(), False) for c in renderer.categories()]
    if kind == "graduatedSymbol":
        return [(r.label(), r.symbol().color(), False) for r in renderer.ranges()]
    if kind == "singleSymbol":
        symbol = renderer.symbol().symbolLayer(0)
        outline = symbol.brushStyle() == Qt.NoBrush
        colour = symbol.strokeColor() if outline else symbol.color()
        return [(layer.name(), colour, outline)]
    if kind == "singlebandpseudocolor":
        items = renderer.shader().rasterShaderFunction().colorRampItemList()
        return [(f"{layer.name()} {i.label}", i.color, False) for i in items if i.color.alpha()]
    return []


def picture(spec: dict, layers: dict) -> list[str]:
    """The combined map of ``spec["picture"]``, with its title and legend, as a PNG."""
    wanted = [layers[name] for name in spec["layers"]]
    image, errors = render(wanted, wanted[-1].extent(), spec.get("width", 900))
    painter = QPainter(image)
    font = QFont()
    font.setPointSize(10)
    painter.setFont(font)
    if spec.get("title"):
        painter.fillRect(0, 0, image.width(), 24, QColor(255, 255, 255, 220))
        painter.setPen(QColor(0, 0, 0))
        painter.drawText(8, 17, spec["title"])
    entries = [entry for layer in wanted for entry in legend(layer)]
    top = image.height() - 8 - 18 * len(entries)
    painter.fillRect(6, top - 6, 330, 18 * len(entries) + 10, QColor(255, 255, 255, 220))
    for row, (label, colour, outline) in enumerate(entries):
        y = top + 18 * row
        if outline:
            painter.setPen(colour)
            painter.drawRect(12, y + 2, 20, 11)
        else:
            painter.fillRect(12, y + 2, 20, 11, QColor(colour.red(), colour.green(), colour.blue()))
        painter.setPen(QColor(0, 0, 0))
        painter.drawText(40, y + 12, label)
    painter.end()
    image.save(spec["path"], None, spec.get("quality", 85))  # format from the suffix
    return errors


def main() -> None:
    with open(sys.argv[1]) as file:
        spec = json.load(file)
    app = QgsApplication([], False)
    app.initQgis()
    layers, report = {}, {}
    for each in spec["layers"]:
        layer = open_layer(each)
        layers[each["name"]] = layer
        info = describe(layer)
        if layer.isValid() and spec.get("each", True):
            image, info["errors"] = render([layer], layer.extent(), 256)
            info["painted"] = painted(image)
        report[each["name"]] = info
    if spec.get("picture"):
        report["picture"] = {"errors": picture(spec["picture"], layers)}
    text = json.dumps(report)
    if len(sys.argv) > 2:
        with open(sys.argv[2], "w") as out:
            out.write(text)
    else:
        print(text, flush=True)
    os._exit(0)  # QGIS 3.22 may crash tearing down layers at exit; the report is out


if __name__ == "__main__":
    main()
