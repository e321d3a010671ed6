"""The noise layer on disk: output checks, then the layer and its QGIS style moved into place.

The checks run before any work, so that a run that cannot write its outputs
fails at once. The layer's format follows the output's suffix
(:data:`geonoise.io.VECTOR_DRIVERS`); the layer, its side files and its style
are written whole into a scratch directory and then moved onto their names,
so a failed run leaves nothing half-written.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from geonoise import io
from geonoise.errors import InvalidInputError
from geonoise.io import styles as qgis

if TYPE_CHECKING:
    import geopandas as gpd

logger = logging.getLogger(__name__)

#: Layer name in GeoPackages.
LAYER = "noise"
#: Shapefile fields hold 10 characters: these columns get short names there.
SHAPEFILE_NAMES = {"label_class": "label_cls", "predicted_class": "pred_cls"}


def check_vector_output(path: str | os.PathLike) -> None:
    """Refuse an output whose suffix names no vector format geonoise writes."""
    suffix = Path(path).suffix.lower()
    if suffix not in io.VECTOR_DRIVERS:
        formats = ", ".join(sorted(io.VECTOR_DRIVERS))
        raise InvalidInputError(f"{path}: unknown vector suffix; use one of {formats}", "--output")
    if io.VECTOR_DRIVERS[suffix] == "Parquet" and importlib.util.find_spec("pyarrow") is None:
        raise InvalidInputError(
            f"{path}: writing GeoParquet needs pyarrow (pip install pyarrow); "
            "or write .gpkg, .fgb, .geojson or .shp",
            "--output",
        )


def check_outputs(
    output: Path, noise_path: str | os.PathLike, overwrite: bool
) -> tuple[Path, bool]:
    """Refuse outputs that cannot be written, and say whether the style is written.

    The style ``OUTPUT.qml`` is left out (with a warning) where that name is
    the noise map's own style, which must not be replaced.

    Returns:
        The style's path, and whether it is written.

    Raises:
        InvalidInputError: The suffix names no vector format (or needs pyarrow).
        OutputExistsError: The layer or its style exists and ``overwrite`` is False.
    """
    check_vector_output(output)
    io.check_output(output, overwrite)
    style = qgis.style_path(output)
    with_style = style.resolve() != qgis.style_path(noise_path).resolve()
    if with_style:
        io.check_output(style, overwrite)
    else:
        logger.warning(
            "%s is the style of %s; it is kept and no style is written", style, noise_path
        )
    return style, with_style


def write_layer(
    gdf: gpd.GeoDataFrame, output: str | os.PathLike, *, overwrite: bool, with_style: bool
) -> None:
    """Write the layer, its side files (Shapefile) and its style, each moved into place whole.

    Everything is first written into a scratch directory beside ``output``;
    Shapefiles get :data:`SHAPEFILE_NAMES` for the columns with long names. The
    files are then moved onto their final names with
    :func:`geonoise.io.atomic_output`, the main file last.
    """
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=output.parent, prefix=f".{output.name}.") as scratch:
        staged = Path(scratch) / output.name
        if io.VECTOR_DRIVERS[output.suffix.lower()] == "ESRI Shapefile":
            gdf = gdf.rename(columns=SHAPEFILE_NAMES)
        io.write_vector(gdf, staged, layer=LAYER)
        if with_style:
            qgis.vector_style(staged)
        files = sorted(Path(scratch).iterdir(), key=lambda p: p != staged)
        with contextlib.ExitStack() as stack:
            for file in files:  # entered main first, so it is moved into place last
                target = stack.enter_context(
                    io.atomic_output(output.with_name(file.name), overwrite)
                )
                os.replace(file, target)
