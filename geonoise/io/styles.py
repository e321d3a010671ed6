"""QGIS layer styles of geonoise's outputs, stored where QGIS looks for them.

QGIS loads ``<basename>.qml`` automatically when it opens a file-based layer
(``noise.tif`` → ``noise.qml``, ``noise.probs.tif`` → ``noise.probs.qml``), so
every raster and vector output opens coloured. A GeoPackage carries its styles
inside instead, in its ``layer_styles`` table (the table QGIS itself writes
with "Save to Datasource Database"): the row with ``useAsDefault`` is the
layer's default style, so the style travels with the file and two formats of
one layer written side by side do not share a ``.qml``.

The styles are plain QGIS 3 QML: a ``<qgis>`` root with the ``Symbology``
style category and either a raster ``<pipe>`` (single-band pseudocolour or
paletted) or a vector ``<renderer-v2>`` (noise polygons categorized by kind,
ranked tiles graduated by score, tile footprints as outlines).
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Literal
from xml.sax.saxutils import quoteattr

import numpy as np

from geonoise.contracts import IGNORE, SUSPECT_THRESHOLD

#: QGIS version written into the styles (the 3.x LTR whose QML format they follow).
QGIS_VERSION = "3.34.0-Prizren"

#: Noise kinds of :mod:`geonoise.vectorize` → (fill RGBA, outline RGB, legend label).
KIND_COLOURS: dict[str, tuple[tuple[int, int, int, int], tuple[int, int, int], str]] = {
    "missing": ((0, 114, 178, 110), (0, 84, 148), "missing (label lacks it)"),
    "spurious": ((117, 112, 179, 110), (77, 72, 139), "spurious (label has extra)"),
    "boundary": ((240, 228, 66, 110), (190, 170, 0), "boundary (outline misplaced)"),
    "class_change": ((204, 121, 167, 110), (164, 81, 127), "class change"),
    "uncertain": ((0, 158, 115, 90), (0, 118, 85), "uncertain (model unsure)"),
    "unknown": ((150, 150, 150, 90), (90, 90, 90), "unknown"),
}

#: Colours of the noise score from the suspect threshold (0) to 1 (1): (fraction, RGB, alpha).
_SUSPECT_COLOURS = ((0.0, (253, 141, 60), 150), (0.5, (240, 59, 32), 210), (1.0, (189, 0, 38), 255))


def score_ramp(
    threshold: float = SUSPECT_THRESHOLD,
) -> tuple[tuple[float, tuple[int, int, int], int], ...]:
    """The noise score ramp as (value, RGB, alpha) stops over 0..1: transparent below
    ``threshold`` (the middling scores of a whole scene would lay a haze over it),
    orange → red from it to 1."""
    drawn = [(threshold + (1 - threshold) * f, rgb, alpha) for f, rgb, alpha in _SUSPECT_COLOURS]
    clear = [(0.0, (254, 217, 118), 0), (threshold - 1e-4, (254, 217, 118), 0)]
    stops = [stop for stop in clear if 0 <= stop[0] < drawn[0][0]] + drawn
    return tuple({value: (value, rgb, alpha) for value, rgb, alpha in stops}.values())


#: The ramp of the noise maps' QGIS style (and of the quicklook at the default threshold).
SCORE_RAMP = score_ramp()

#: Class probability ramp (viridis, opaque): a probability map reads as one, and is not
#: mistaken for the noise map's yellow → red.
PROBABILITY_RAMP: tuple[tuple[float, tuple[int, int, int], int], ...] = (
    (0.0, (68, 1, 84), 255),
    (0.25, (59, 82, 139), 255),
    (0.5, (33, 145, 140), 255),
    (0.75, (94, 201, 98), 255),
    (1.0, (253, 231, 37), 255),
)

#: Classes of the ranking's graduated style (quantiles of the tiles' scores).
RANKING_CLASSES = 5
#: Fill opacity (0..255) of the ranked tiles, least to most noisy: the scene stays visible.
RANKING_FILL_ALPHA = (0, 25, 45, 65, 85)
#: Outline of the tile footprints in ``tiles.gpkg`` (no fill).
TILE_OUTLINE = (31, 120, 180)

#: The GeoPackage table QGIS reads its layers' stored styles from.
STYLES_TABLE = "layer_styles"

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


def embeds_style(path: str | os.PathLike) -> bool:
    """Whether the vector file at ``path`` carries its style inside (a GeoPackage)."""
    return Path(path).suffix.lower() == ".gpkg"


def holds_style(path: str | os.PathLike, qml: str) -> bool:
    """Whether ``path`` is a style file holding exactly ``qml``: the same style written
    again, which replaces nothing of the user's."""
    path = Path(path)
    return path.is_file() and path.read_bytes() == qml.encode("utf-8")


def raster_style(
    path: str | os.PathLike,
    kind: Literal["noise_score", "classes", "probabilities"] = "noise_score",
    class_names: Sequence[str] = ("background", "building"),
    class_values: Sequence[int] | None = None,
) -> Path:
    """Write the QGIS style of a geonoise raster beside it and return the ``.qml`` path.

    Args:
        path: The raster (the style goes to :func:`style_path` of it).
        kind: ``"noise_score"``: band 1 as a pseudocolour ramp over 0..1, transparent
            at 0 and yellow → red towards 1. ``"classes"``: band 1 paletted by class
            id, 255 (ignore) transparent. ``"probabilities"``: the band of
            :func:`probability_band` as a viridis ramp over 0..1.
        class_names: Names of the classes (``"classes"``, ``"probabilities"``).
        class_values: Their values in the raster; default ``0, 1, …`` (``"classes"``).

    Returns:
        The path of the ``.qml`` written.
    """
    match kind:
        case "noise_score":
            text = noise_score_qml()
        case "classes":
            text = classes_qml(class_names, class_values)
        case "probabilities":
            text = probabilities_qml(class_names)
        case _:
            raise ValueError(f"unknown raster style kind: {kind!r}")
    return _write(path, text)


def vector_style(path: str | os.PathLike, qml: str, layer: str | None = None) -> Path:
    """Store ``qml`` as the default QGIS style of a vector layer, where QGIS finds it.

    A GeoPackage gets it inside (:func:`embed_style`); any other format a
    ``.qml`` beside it (:func:`style_path`).

    Args:
        path: The vector file, already written.
        qml: The style (:func:`kinds_qml`, :func:`ranking_qml`, :func:`tiles_qml`).
        layer: The layer in a GeoPackage; default its only (first) layer.

    Returns:
        Where the style is: the GeoPackage itself, or the ``.qml`` written.
    """
    if embeds_style(path):
        return embed_style(path, qml, layer)
    return _write(path, qml)


def embed_style(gpkg: str | os.PathLike, qml: str, layer: str | None = None) -> Path:
    """Store ``qml`` in the GeoPackage ``gpkg`` as the default style of ``layer``.

    The row goes to :data:`STYLES_TABLE`, made as QGIS makes it (through GDAL:
    an ``attributes`` table in ``gpkg_contents``, ``id`` its key, the OGC/QGIS
    columns). QGIS applies the row with ``useAsDefault`` when it opens the
    layer. Call it once per layer, on a GeoPackage that geonoise just wrote.

    Returns:
        ``gpkg``, which now holds the style.
    """
    import pandas as pd
    import pyogrio

    info = pyogrio.read_info(gpkg, layer=layer)
    row = {
        "f_table_catalog": "",
        "f_table_schema": "",
        "f_table_name": info["layer_name"],
        "f_geometry_column": info["geometry_name"],
        "styleName": info["layer_name"],
        "styleQML": qml,
        "styleSLD": "",
        "useAsDefault": True,
        "description": "geonoise default style",
        "owner": "",
        "ui": "",
        # the time GDAL stamps the GeoPackage with (OGR_CURRENT_DATE makes both reproducible)
        "update_time": pd.Timestamp(pyogrio.get_gdal_config_option("OGR_CURRENT_DATE") or "now"),
    }
    pyogrio.write_dataframe(
        pd.DataFrame([row]), gpkg, layer=STYLES_TABLE, driver="GPKG",
        append=has_styles(gpkg), layer_options={"FID": "id"},
    )  # fmt: skip
    return Path(gpkg)


def embedded_style(gpkg: str | os.PathLike, layer: str) -> str | None:
    """The default QGIS style (QML) the GeoPackage ``gpkg`` holds for ``layer``, if any."""
    import pyogrio

    if not has_styles(gpkg):
        return None
    quoted = layer.replace("'", "''")
    rows = pyogrio.read_dataframe(
        gpkg, layer=STYLES_TABLE, columns=["styleQML"],
        where=f"f_table_name = '{quoted}' AND useAsDefault = 1",
    )  # fmt: skip
    return None if rows.empty else str(rows["styleQML"].iloc[-1])


def has_styles(gpkg: str | os.PathLike) -> bool:
    """Whether the GeoPackage ``gpkg`` has a :data:`STYLES_TABLE`."""
    import pyogrio

    return STYLES_TABLE in pyogrio.list_layers(gpkg)[:, 0]


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
    return _pseudocolour_qml(SCORE_RAMP, band=1)


def probability_band(class_names: Sequence[str]) -> int:
    """The band a class probability raster is styled by: that of the first class not
    named "background" (``p(building)`` of a building map), else band 1."""
    names = [name.strip().lower() for name in class_names]
    return next((i + 1 for i, name in enumerate(names) if name != "background"), 1)


def probabilities_qml(class_names: Sequence[str]) -> str:
    """QML of a class probability raster (one band per class): the band of
    :func:`probability_band` as a viridis ramp over 0..1, nodata transparent. The
    other bands are a band choice away in QGIS's symbology panel."""
    return _pseudocolour_qml(PROBABILITY_RAMP, band=probability_band(class_names))


def _pseudocolour_qml(ramp: Sequence[tuple[float, tuple[int, int, int], int]], band: int) -> str:
    """QML of one band as an interpolated colour ramp over 0..1 (``(value, RGB, alpha)`` stops)."""
    items = "".join(
        f'          <item value="{value:g}" color="{_hex(rgb)}" alpha="{alpha}" '
        f'label="{_stop_label(ramp, i)}"/>\n'
        for i, (value, rgb, alpha) in enumerate(ramp)
    )
    renderer = (
        f'    <rasterrenderer type="singlebandpseudocolor" band="{band}" opacity="1" '
        'alphaBand="-1" nodataColor="" classificationMin="0" classificationMax="1">\n'
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


def _stop_label(ramp: Sequence[tuple[float, tuple[int, int, int], int]], i: int) -> str:
    """The legend label of stop ``i``: its value, or "below X" for the transparent stop
    just under the first drawn one."""
    value, _, alpha = ramp[i]
    after = ramp[i + 1] if i + 1 < len(ramp) else None
    if value > 0 and alpha == 0 and after is not None and after[2] > 0:
        return f"below {after[0]:g}: transparent"
    return f"{value:g}"


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


def _fill_symbol(
    name: int,
    fill: tuple[int, int, int, int],
    outline: tuple[int, int, int],
    outline_width: float = 0.4,
) -> str:
    """A simple fill symbol; a fill with alpha 0 is no fill at all (outline only)."""
    options = {
        "color": ",".join(map(str, fill)),
        "style": "solid" if fill[3] else "no",
        "outline_color": ",".join(map(str, (*outline, 255))),
        "outline_style": "solid",
        "outline_width": f"{outline_width:g}",
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


def _polygon_renderer(kind: str, attributes: str, classes: str, symbols: Sequence[str]) -> str:
    """QML of a polygon layer drawn by a ``renderer-v2`` of ``kind`` (its XML attributes,
    the categories or ranges ``classes`` and their ``symbols``)."""
    renderer = (
        f'  <renderer-v2 type="{kind}"{attributes} forceraster="0" '
        'symbollevels="0" enableorderby="0" referencescale="-1">\n'
        f"{classes}"
        "    <symbols>\n"
        f"{''.join(symbols)}"
        "    </symbols>\n"
        "    <rotation/>\n"
        "    <sizescale/>\n"
        "  </renderer-v2>\n"
    )
    return _root(renderer, layer_geometry=2)


def kinds_qml(field: str = "kind") -> str:
    """QML of a noise polygon layer: one semi-transparent fill per kind, no labels."""
    return categories_qml(field, KIND_COLOURS)


def categories_qml(
    field: str,
    categories: dict[str, tuple[tuple[int, int, int, int], tuple[int, int, int], str]],
) -> str:
    """QML of a polygon layer categorized by the text ``field``: ``categories`` maps each
    value to its (fill RGBA, outline RGB, legend label)."""
    entries = "".join(
        f'      <category value={quoteattr(value)} symbol="{index}" label={quoteattr(label)} '
        'render="true" type="string"/>\n'
        for index, (value, (_, _, label)) in enumerate(categories.items())
    )
    symbols = [
        _fill_symbol(index, fill, outline)
        for index, (fill, outline, _) in enumerate(categories.values())
    ]
    return _polygon_renderer(
        "categorizedSymbol",
        f" attr={quoteattr(field)}",
        f"    <categories>\n{entries}    </categories>\n",
        symbols,
    )


def ranking_qml(scores: Sequence[float], field: str = "score") -> str:
    """QML of the ranked tiles: graduated by ``field`` in up to :data:`RANKING_CLASSES`
    quantile classes of ``scores`` (the ranking is relative: the noisiest fifth of the
    tiles stands out whatever the scores' range). Outlines yellow → red along the noise
    ramp (from its second stop: the first is transparent); fills from none to light, so
    the scene shows through the boxes. Tiles without a score (no labelled pixel) are not
    drawn."""
    ranges = quantile_ranges(scores, RANKING_CLASSES)
    colours = [_ramp_colour(p) for p in np.linspace(SCORE_RAMP[1][0], 1, len(ranges))]
    alphas = np.linspace(0, len(RANKING_FILL_ALPHA) - 1, len(ranges)).round().astype(int)
    items = "".join(
        f'      <range lower="{lower!r}" upper="{upper!r}" symbol="{index}" '
        f'label="{lower:.3f} – {upper:.3f}" render="true"/>\n'
        for index, (lower, upper) in enumerate(ranges)
    )
    symbols = [
        _fill_symbol(index, (*rgb, RANKING_FILL_ALPHA[alpha]), rgb, 0.6)
        for index, (rgb, alpha) in enumerate(zip(colours, alphas, strict=True))
    ]
    return _polygon_renderer(
        "graduatedSymbol",
        f' attr={quoteattr(field)} graduatedMethod="GraduatedColor"',
        f"    <ranges>\n{items}    </ranges>\n",
        symbols,
    )


def _ramp_colour(value: float) -> tuple[int, int, int]:
    """The colour of :data:`SCORE_RAMP` at ``value`` (0..1), interpolated between its stops."""
    stops = [stop for stop, _, _ in SCORE_RAMP]
    channels = zip(*(rgb for _, rgb, _ in SCORE_RAMP), strict=True)
    red, green, blue = (round(float(np.interp(value, stops, channel))) for channel in channels)
    return red, green, blue


def quantile_ranges(scores: Sequence[float], classes: int) -> list[tuple[float, float]]:
    """Up to ``classes`` ``(lower, upper)`` ranges of equal count over the finite
    ``scores`` (fewer where scores repeat; ``[(0, 1)]`` when there are none)."""
    finite = np.asarray(scores, dtype=float)
    finite = finite[np.isfinite(finite)]
    if not finite.size:
        return [(0.0, 1.0)]
    breaks = np.unique(np.quantile(finite, np.linspace(0, 1, classes + 1)))
    if breaks.size == 1:
        return [(float(breaks[0]), float(breaks[0]))]
    return [(float(lo), float(hi)) for lo, hi in itertools.pairwise(breaks)]


def tiles_qml() -> str:
    """QML of a tile index (``tiles.gpkg``): footprints as thin outlines, no fill."""
    return outline_qml(TILE_OUTLINE, 0.3)


def outline_qml(colour: tuple[int, int, int], width: float = 0.4) -> str:
    """QML of a polygon layer drawn as ``colour`` outlines ``width`` mm wide, no fill."""
    symbol = _fill_symbol(0, (*colour, 0), colour, width)
    return _polygon_renderer("singleSymbol", "", "", [symbol])


#: Review statuses of ``geonoise fix`` → (outline RGB, legend word).
STATUS_OUTLINES: dict[str, tuple[tuple[int, int, int], str]] = {
    "proposed": ((40, 40, 40), "proposed"),
    "accepted": ((0, 170, 60), "accepted"),
    "rejected": ((215, 25, 28), "rejected"),
}


def review_qml(kinds: Sequence[str] = ("missing", "spurious", "boundary", "class_change")) -> str:
    """QML of the review layer of ``geonoise fix``: filled by kind (as the noise polygons),
    outlined by status (dark: proposed, green: accepted, red: rejected).

    Categorized by the expression ``kind || ' ' || lower(status)``, so a status typed in
    any case draws alike; other values are not drawn.
    """
    categories = {
        f"{kind} {status}": (KIND_COLOURS[kind][0], outline, f"{kind}, {word}")
        for status, (outline, word) in STATUS_OUTLINES.items()
        for kind in kinds
    }
    return categories_qml('"kind" || \' \' || lower("status")', categories)
