"""Noise polygons: a noise-score raster turned into one polygon per suspect region.

A region is a 4-connected group of pixels whose noise score is at least the
threshold (GDAL's polygonize connectivity). The raster is read in disjoint
blocks cut from the shared window grid (:func:`geonoise.windows.axis_offsets`),
so memory stays flat in raster size. Each block's regions are labelled,
polygonized with :func:`rasterio.features.shapes` in pixel coordinates and
summarised (pixel count, score sum and maximum, class counts); regions that
touch across a block edge are joined by connectivity and their polygons
unioned, which gives exactly the polygons of a whole-raster polygonization.
Pixel coordinates are integers, so the union is exact; one affine transform
then puts every polygon on the map. A region that touches no block edge is
final as soon as its block is scanned, so the process that scanned the block
also measures it, drops it if it is below ``--min-area`` and simplifies it
(:func:`finish`); regions that touch a block edge (the raster's border included)
are finished at the end, after the merge, and so is every region when holes are
to be filled (a filled hole joins the regions inside it to its owner).

With the class companion (``NOISE.classes.tif``: band 1 the given label, band 2
the predicted class, 255 = none) each region gets the majority label and
predicted class and a kind:

* ``class_change``: a map with more than two classes, label ≠ prediction;
* for a two-class map (0 = background, 1 = building):
  ``missing`` (label 0, model 1), ``spurious`` (label 1, model 0), or
  ``boundary`` when the region is a sliver along an outline both agree on:
  at least :data:`BOUNDARY_NEAR_SHARE` of its pixels lie within
  ``boundary_width`` pixels (a square neighbourhood) of a pixel that label and
  model both call building, and at most :data:`BOUNDARY_DEEP_SHARE` of its
  pixels are farther than ``boundary_width`` pixels from the region's outline
  (the region is at most about ``2 × boundary_width`` pixels thick);
* ``unknown``: no class companion, no labelled or predicted pixel in the
  region, or majority label = majority prediction.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import math
import os
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from geonoise import io
from geonoise.errors import InvalidInputError
from geonoise.io import styles as qgis
from geonoise.vectorize.attributes import KINDS
from geonoise.vectorize.geometry import fill_holes, simplify, to_map  # noqa: F401 (tests)
from geonoise.vectorize.labelling import square_reduce  # noqa: F401 (tests)
from geonoise.vectorize.merge import connected_groups  # noqa: F401 (tests)
from geonoise.vectorize.options import DEFAULT_OPTIONS, VectorizeOptions
from geonoise.vectorize.polygonize import EmptyResultError, vectorize  # noqa: F401 (tests)
from geonoise.windows import Window, block_grid

if TYPE_CHECKING:
    import geopandas as gpd

logger = logging.getLogger(__name__)

#: GDAL block cache (MB) while vectorizing, unless GDAL_CACHEMAX is set: every block is
#: read once, so a small cache keeps memory flat in raster size (GDAL's default is 5 % of RAM).
CACHE_MB = 64
#: Layer name in GeoPackages.
LAYER = "noise"
#: Shapefile fields hold 10 characters: these columns get short names there.
SHAPEFILE_NAMES = {"label_class": "label_cls", "predicted_class": "pred_cls"}


@dataclass
class Summary:
    """What a vectorize run wrote, for the CLI to report."""

    output: str
    count: int
    total_area: float
    area_unit: str
    by_kind: dict[str, int]
    threshold: float
    classes: str | None
    style: str | None
    crs: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Plain values for ``--json``."""
        return {
            "output": self.output,
            "count": self.count,
            "total_area": round(self.total_area, 6),
            "area_unit": self.area_unit,
            "by_kind": self.by_kind,
            "threshold": self.threshold,
            "classes": self.classes,
            "style": self.style,
            "crs": self.crs,
        }


def classes_path_for(noise_path: str | os.PathLike) -> str:
    """The class companion beside a noise map: ``noise.tif`` → ``noise.classes.tif``."""
    path = Path(noise_path)
    return str(path.with_name(f"{path.stem}.classes.tif"))


def iter_kinds(gdf: gpd.GeoDataFrame) -> Iterator[tuple[str, int]]:
    """``(kind, count)`` in :data:`KINDS` order, kinds that occur only."""
    counts = gdf["kind"].value_counts()
    for kind in KINDS:
        if counts.get(kind, 0):
            yield kind, int(counts[kind])


def summary_values(gdf: gpd.GeoDataFrame) -> tuple[int, float, dict[str, int]]:
    """Polygon count, total area (m²) and counts by kind."""
    total = float(gdf["area"].sum()) if len(gdf) else 0.0
    return len(gdf), (0.0 if math.isnan(total) else total), dict(iter_kinds(gdf))


# --------------------------------------------------------------------------- files


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


def vectorize_file(
    noise_path: str | os.PathLike,
    output: str | os.PathLike,
    *,
    classes_path: str | os.PathLike | None = None,
    options: VectorizeOptions = DEFAULT_OPTIONS,
    overwrite: bool = False,
    on_window: Callable[[int, int], None] | None = None,
) -> Summary:
    """Vectorize the noise map at ``noise_path`` into ``output`` (format by suffix).

    Uses the class companion ``classes_path``, or else ``NOISE.classes.tif``
    beside the noise map when it exists. Writes the layer (``noise`` in a
    GeoPackage) and its QGIS style ``OUTPUT.qml`` atomically; the style is
    left out where that name is the noise map's own style. Nothing is written
    when an error is raised.

    Args:
        on_window: Called with (blocks done, blocks in all) after each block.
    """
    import rasterio

    output = Path(output)
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
    companion = classes_path
    if companion is None and Path(classes_path_for(noise_path)).exists():
        companion = classes_path_for(noise_path)
    cache = {} if "GDAL_CACHEMAX" in os.environ else {"GDAL_CACHEMAX": CACHE_MB}
    with rasterio.Env(**cache), io.open_scene(noise_path) as noise:
        total = len(block_grid(noise.width, noise.height, options.window_size))
        progress = None if on_window is None else _counter(on_window, total)
        if companion is None:
            gdf = vectorize(noise, None, options, progress)
        else:
            with io.open_scene(companion) as classes:
                gdf = vectorize(noise, classes, options, progress)
        crs = noise.crs.to_string()
    write_layer(gdf, output, overwrite=overwrite, with_style=with_style)
    count, area, by_kind = summary_values(gdf)
    return Summary(
        output=str(output),
        count=count,
        total_area=area,
        area_unit="m2",
        by_kind=by_kind,
        threshold=options.threshold,
        classes=None if companion is None else str(companion),
        style=str(style) if with_style else None,
        crs=crs,
    )


def _counter(on_window: Callable[[int, int], None], total: int) -> Callable[[Window], None]:
    done = 0

    def step(_: Window) -> None:
        nonlocal done
        done += 1
        on_window(done, total)

    return step


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
