"""``geonoise vectorize`` on files: a noise map's path in, the polygon layer written, a summary out.

:func:`vectorize_file` opens the noise map and its class companion (by
default ``NOISE.classes.tif`` beside it), vectorizes them with
:func:`geonoise.vectorize.polygonize.vectorize` under a small GDAL block
cache, writes the layer and its style (:mod:`geonoise.vectorize.writer`) and
returns a :class:`Summary` for the command line to report.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from geonoise import io
from geonoise.vectorize.attributes import KINDS, Kind
from geonoise.vectorize.options import DEFAULT_OPTIONS, VectorizeOptions
from geonoise.vectorize.polygonize import vectorize
from geonoise.vectorize.writer import check_outputs, write_layer
from geonoise.windows import Window, block_grid

if TYPE_CHECKING:
    import geopandas as gpd

#: GDAL block cache (MB) while vectorizing, unless GDAL_CACHEMAX is set: every block is
#: read once, so a small cache keeps memory flat in raster size (GDAL's default is 5 % of RAM).
CACHE_MB = 64

#: A value of :meth:`Summary.to_dict`.
SummaryValue = str | int | float | dict[str, int] | None


@dataclass
class Summary:
    """What a vectorize run wrote, for the CLI to report.

    Attributes:
        output: The layer written.
        count: Polygons in it.
        total_area: Their total area, in ``area_unit``.
        area_unit: Always ``m2``.
        by_kind: Polygons per kind, in legend order, kinds that occur only.
        threshold: The noise score threshold used.
        classes: The class companion read, or None.
        style: The QGIS style written, or None where it was left out.
        crs: The layer's CRS (that of the noise map).
    """

    output: str
    count: int
    total_area: float
    area_unit: str
    by_kind: dict[str, int]
    threshold: float
    classes: str | None
    style: str | None
    crs: str = ""

    def to_dict(self) -> dict[str, SummaryValue]:
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
    output = Path(output)
    style, with_style = check_outputs(output, noise_path, overwrite)
    companion = classes_path
    if companion is None and Path(classes_path_for(noise_path)).exists():
        companion = classes_path_for(noise_path)
    gdf, crs = _vectorize_paths(noise_path, companion, options, on_window)
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


def classes_path_for(noise_path: str | os.PathLike) -> str:
    """The class companion beside a noise map: ``noise.tif`` → ``noise.classes.tif``."""
    path = Path(noise_path)
    return str(path.with_name(f"{path.stem}.classes.tif"))


def _vectorize_paths(
    noise_path: str | os.PathLike,
    classes_path: str | os.PathLike | None,
    options: VectorizeOptions,
    on_window: Callable[[int, int], None] | None,
) -> tuple[gpd.GeoDataFrame, str]:
    """The layer of the noise map (and class companion) at these paths, and its CRS.

    GDAL's block cache is kept to :data:`CACHE_MB` unless ``GDAL_CACHEMAX`` is set.
    """
    import rasterio

    cache = {} if "GDAL_CACHEMAX" in os.environ else {"GDAL_CACHEMAX": CACHE_MB}
    with rasterio.Env(**cache), io.open_scene(noise_path) as noise:
        total = len(block_grid(noise.width, noise.height, options.window_size))
        progress = None if on_window is None else _counter(on_window, total)
        if classes_path is None:
            gdf = vectorize(noise, None, options, progress)
        else:
            with io.open_scene(classes_path) as classes:
                gdf = vectorize(noise, classes, options, progress)
        return gdf, noise.crs.to_string()


def _counter(on_window: Callable[[int, int], None], total: int) -> Callable[[Window], None]:
    """A per-block callback that reports (blocks done, ``total``) to ``on_window``."""
    done = 0

    def step(_: Window) -> None:
        nonlocal done
        done += 1
        on_window(done, total)

    return step


def iter_kinds(gdf: gpd.GeoDataFrame) -> Iterator[tuple[Kind, int]]:
    """``(kind, count)`` in legend order (:data:`~.attributes.KINDS`), kinds that occur only."""
    counts = gdf["kind"].value_counts()
    for kind in KINDS:
        if counts.get(kind, 0):
            yield kind, int(counts[kind])


def summary_values(gdf: gpd.GeoDataFrame) -> tuple[int, float, dict[str, int]]:
    """Polygon count, total area (m²) and counts by kind."""
    total = float(gdf["area"].sum()) if len(gdf) else 0.0
    return len(gdf), (0.0 if math.isnan(total) else total), dict(iter_kinds(gdf))
