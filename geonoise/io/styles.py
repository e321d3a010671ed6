"""QGIS layer styles (``.qml``) written beside geonoise's outputs.

QGIS loads ``<basename>.qml`` automatically when it opens a file-based layer
(``noise.tif`` → ``noise.qml``, ``noise.gpkg`` → ``noise.qml``), so every
raster and vector output opens coloured. The styles are plain QGIS 3 QML:
a ``<qgis>`` root with the ``Symbology`` style category and either a raster
``<pipe>`` (single-band pseudocolour or paletted) or a vector
``<renderer-v2>`` (categorized by the noise kind).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Literal
from xml.sax.saxutils import quoteattr

from geonoise.contracts import IGNORE

#: QGIS version written into the styles (the 3.x LTR whose QML format they follow).
QGIS_VERSION = "3.34.0-Prizren"

#: Noise kinds of :mod:`geonoise.vectorize` → (fill RGBA, outline RGB, legend label).
KIND_COLOURS: dict[str, tuple[tuple[int, int, int, int], tuple[int, int, int], str]] = {
    "missing": ((0, 114, 178, 110), (0, 84, 148), "missing (label lacks it)"),
    "spurious": ((213, 94, 0, 110), (173, 64, 0), "spurious (label has extra)"),
    "boundary": ((240, 228, 66, 110), (190, 170, 0), "boundary (outline misplaced)"),
    "class_change": ((204, 121, 167, 110), (164, 81, 127), "class change"),
    "unknown": ((150, 150, 150, 90), (90, 90, 90), "unknown"),
}

#: Noise score ramp: (value, RGB, alpha): transparent at 0, yellow → red towards 1.
SCORE_RAMP: tuple[tuple[float, tuple[int, int, int], int], ...] = (
    (0.0, (255, 255, 178), 0),
    (0.25, (254, 217, 118), 60),
    (0.5, (253, 141, 60), 150),
    (0.75, (240, 59, 32), 210),
    (1.0, (189, 0, 38), 255),
)

#: Qualitative palette for class ids (cycled for more classes).
CLASS_PALETTE: tuple[tuple[int, int, int], ...] = (
    (166, 206, 227),
    (227, 26, 28),
    (51, 160, 44),
    (255, 127, 0),
    (106, 61, 154),
    (31, 120, 180),
    (178, 223, 138),
    (251, 154, 153),
    (253, 191, 111),
    (202, 178, 214),
)

_HEADER = "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n"


def style_path(path: str | os.PathLike) -> Path:
    """The ``.qml`` QGIS loads for the layer at ``path``: ``a/noise.tif`` → ``a/noise.qml``."""
    return Path(path).with_suffix(".qml")


def raster_style(
    path: str | os.PathLike,
    kind: Literal["noise_score", "classes"] = "noise_score",
    class_names: Sequence[str] = ("background", "building"),
    class_values: Sequence[int] | None = None,
) -> Path:
    """Write the QGIS style of a geonoise raster beside it and return the ``.qml`` path.

    Args:
        path: The raster (the style goes to :func:`style_path` of it).
        kind: ``"noise_score"``: band 1 as a pseudocolour ramp over 0..1, transparent
            at 0 and yellow → red towards 1. ``"classes"``: band 1 paletted by class
            id, 255 (ignore) transparent.
        class_names: Legend names of the classes (``"classes"`` only).
        class_values: Their values in the raster; default ``0, 1, …``.

    Returns:
        The path of the ``.qml`` written.
    """
    match kind:
        case "noise_score":
            text = noise_score_qml()
        case "classes":
            text = classes_qml(class_names, class_values)
        case _:
            raise ValueError(f"unknown raster style kind: {kind!r}")
    return _write(path, text)


def vector_style(path: str | os.PathLike, field: str = "kind") -> Path:
    """Write the categorized-by-kind QGIS style of a noise polygon layer beside it.

    Args:
        path: The vector layer (the style goes to :func:`style_path` of it).
        field: The attribute holding the kind.

    Returns:
        The path of the ``.qml`` written.
    """
    return _write(path, kinds_qml(field))


def _write(path: str | os.PathLike, text: str) -> Path:
    target = style_path(path)
    target.write_text(text, encoding="utf-8")
    return target


def _root(body: str, layer_geometry: int | None = None) -> str:
    geometry = (
        ""
        if layer_geometry is None
        else f"  <layerGeometryType>{layer_geometry}</layerGeometryType>\n"
    )
    return (
        f"{_HEADER}"
        f'<qgis version="{QGIS_VERSION}" styleCategories="Symbology" '
        'hasScaleBasedVisibilityFlag="0" minScale="1e+08" maxScale="0">\n'
        f"{body}"
        "  <blendMode>0</blendMode>\n"
        f"{geometry}"
        "</qgis>\n"
    )


def _min_max_origin() -> str:
    return (
        "      <minMaxOrigin>\n"
        "        <limits>None</limits>\n"
        "        <extent>WholeRaster</extent>\n"
        "        <statAccuracy>Estimated</statAccuracy>\n"
        "        <cumulativeCutLower>0.02</cumulativeCutLower>\n"
        "        <cumulativeCutUpper>0.98</cumulativeCutUpper>\n"
        "        <stdDevFactor>2</stdDevFactor>\n"
        "      </minMaxOrigin>\n"
    )


def _pipe(renderer: str) -> str:
    return (
        "  <pipe>\n"
        f"{renderer}"
        '    <brightnesscontrast brightness="0" contrast="0" gamma="1"/>\n'
        '    <huesaturation saturation="0" grayscaleMode="0" colorizeOn="0" '
        'colorizeRed="255" colorizeGreen="128" colorizeBlue="128" colorizeStrength="100"/>\n'
        '    <rasterresampler maxOversampling="2"/>\n'
        "    <resamplingStage>resamplingFilter</resamplingStage>\n"
        "  </pipe>\n"
    )


def _hex(rgb: tuple[int, int, int]) -> str:
    return "#{:02x}{:02x}{:02x}".format(*rgb)


def noise_score_qml() -> str:
    """QML of a noise-score raster: interpolated ramp over 0..1, nodata transparent."""
    items = "".join(
        f'          <item value="{value:g}" color="{_hex(rgb)}" alpha="{alpha}" '
        f'label="{value:g}"/>\n'
        for value, rgb, alpha in SCORE_RAMP
    )
    renderer = (
        '    <rasterrenderer type="singlebandpseudocolor" band="1" opacity="1" alphaBand="-1" '
        'nodataColor="" classificationMin="0" classificationMax="1">\n'
        "      <rasterTransparency/>\n"
        f"{_min_max_origin()}"
        "      <rastershader>\n"
        '        <colorrampshader colorRampType="INTERPOLATED" classificationMode="1" clip="0" '
        'minimumValue="0" maximumValue="1" labelPrecision="2">\n'
        f"{items}"
        "        </colorrampshader>\n"
        "      </rastershader>\n"
        "    </rasterrenderer>\n"
    )
    return _root(_pipe(renderer))


def classes_qml(class_names: Sequence[str], class_values: Sequence[int] | None = None) -> str:
    """QML of a class raster: band 1 paletted by class value, 255 (ignore) transparent.

    ``class_values`` are the raster values of the named classes (default ``0, 1, …``).
    """
    values = list(range(len(class_names))) if class_values is None else list(class_values)
    entries = [
        (value, CLASS_PALETTE[index % len(CLASS_PALETTE)], 255, f"{value}: {name}")
        for index, (value, name) in enumerate(zip(values, class_names, strict=True))
    ]
    entries.append((IGNORE, (0, 0, 0), 0, f"{IGNORE}: ignore"))
    palette = "".join(
        f'        <paletteEntry value="{value}" color="{_hex(rgb)}" alpha="{alpha}" '
        f"label={quoteattr(label)}/>\n"
        for value, rgb, alpha, label in entries
    )
    renderer = (
        '    <rasterrenderer type="paletted" band="1" opacity="1" alphaBand="-1" nodataColor="">\n'
        "      <rasterTransparency/>\n"
        f"{_min_max_origin()}"
        "      <colorPalette>\n"
        f"{palette}"
        "      </colorPalette>\n"
        "    </rasterrenderer>\n"
    )
    return _root(_pipe(renderer))


def _fill_symbol(name: int, fill: tuple[int, int, int, int], outline: tuple[int, int, int]) -> str:
    options = {
        "color": ",".join(map(str, fill)),
        "style": "solid",
        "outline_color": ",".join(map(str, (*outline, 255))),
        "outline_style": "solid",
        "outline_width": "0.4",
        "outline_width_unit": "MM",
        "joinstyle": "miter",
    }
    option_xml = "".join(
        f'            <Option type="QString" name="{key}" value="{value}"/>\n'
        for key, value in options.items()
    )
    return (
        f'      <symbol type="fill" name="{name}" alpha="1" clip_to_extent="1" '
        'force_rhr="0">\n'
        '        <layer class="SimpleFill" enabled="1" locked="0" pass="0">\n'
        '          <Option type="Map">\n'
        f"{option_xml}"
        "          </Option>\n"
        "        </layer>\n"
        "      </symbol>\n"
    )


def kinds_qml(field: str = "kind") -> str:
    """QML of a noise polygon layer: one semi-transparent fill per kind, no labels."""
    categories = "".join(
        f'      <category value="{kind}" symbol="{index}" label={quoteattr(label)} '
        'render="true" type="string"/>\n'
        for index, (kind, (_, _, label)) in enumerate(KIND_COLOURS.items())
    )
    symbols = "".join(
        _fill_symbol(index, fill, outline)
        for index, (fill, outline, _) in enumerate(KIND_COLOURS.values())
    )
    renderer = (
        f'  <renderer-v2 type="categorizedSymbol" attr={quoteattr(field)} forceraster="0" '
        'symbollevels="0" enableorderby="0" referencescale="-1">\n'
        "    <categories>\n"
        f"{categories}"
        "    </categories>\n"
        "    <symbols>\n"
        f"{symbols}"
        "    </symbols>\n"
        "    <rotation/>\n"
        "    <sizescale/>\n"
        "  </renderer-v2>\n"
    )
    return _root(renderer, layer_geometry=2)
