"""``geonoise vectorize`` on files: a noise map's path in, the polygon layer written, a summary out.

:func:`vectorize_file` opens the noise map and its class companion (by
default ``NOISE.classes.tif`` beside it), vectorizes them with
the block pass (:func:`geonoise.vectorize.scan.scan`) under a small GDAL block
cache, writes the layer and its style (:mod:`geonoise.vectorize.writer`) and
returns a :class:`Summary` for the command line to report. Rows are written
in batches as the block pass finishes them (:class:`~.writer.StagedLayer`), so
memory does not grow with the number of polygons.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from geonoise import io
from geonoise.io.vectors import written_crs
from geonoise.vectorize.attributes import KINDS, batch_frame, kind_column
from geonoise.vectorize.options import DEFAULT_OPTIONS, VectorizeOptions
from geonoise.vectorize.polygonize import check_classes, check_found
from geonoise.vectorize.scan import Tally, scan
from geonoise.vectorize.writer import StagedLayer, check_outputs, staged_layer
from geonoise.windows import Window, block_grid

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
        style: Where the QGIS style was written (the GeoPackage itself, or the
            ``.qml``), or None where it was left out.
        crs: The layer's CRS as written: the noise map's, or EPSG:4326 for GeoJSON.
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
    GeoPackage) and its QGIS style (inside a GeoPackage, else ``OUTPUT.qml``)
    atomically; a ``.qml`` is left out where that name is the noise map's own
    style. Nothing is written when an error is raised.

    Args:
        on_window: Called with (blocks done, blocks in all): once with 0 before the
            first block is read, then after each block.
    """
    output = Path(output)
    style, with_style = check_outputs(output, noise_path, overwrite)
    companion = classes_path
    if companion is None and Path(classes_path_for(noise_path)).exists():
        companion = classes_path_for(noise_path)
    with staged_layer(output, overwrite=overwrite, with_style=with_style) as (layer, staged):
        kind, crs = _vectorize_paths(noise_path, companion, options, on_window, layer)
        layer.write(staged, kind)
    return Summary(
        output=str(output),
        count=layer.count,
        total_area=layer.area,
        area_unit="m2",
        by_kind=by_kind(layer.kinds[kind]),
        threshold=options.threshold,
        classes=None if companion is None else str(companion),
        style=str(style) if with_style else None,
        crs=written_crs(output, crs),
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
    layer: StagedLayer,
) -> tuple[str, str]:
    """Append the rows of the noise map (and class companion) at these paths to ``layer``
    as the block pass finishes them; the kind column to write, and the map's CRS.

    GDAL's block cache is kept to :data:`CACHE_MB` unless ``GDAL_CACHEMAX`` is set.

    Raises:
        EmptyResultError: No region to write.
    """
    import rasterio

    cache = {} if "GDAL_CACHEMAX" in os.environ else {"GDAL_CACHEMAX": CACHE_MB}
    with contextlib.ExitStack() as stack:
        stack.enter_context(rasterio.Env(**cache))
        noise = stack.enter_context(io.open_scene(noise_path))
        classes = None if classes_path is None else stack.enter_context(io.open_scene(classes_path))
        if classes is not None:
            check_classes(noise, classes)
        total = len(block_grid(noise.width, noise.height, options.window_size))
        progress = None if on_window is None else _counter(on_window, total)
        tally = Tally()
        for regions in scan(noise, classes, options, progress, tally):
            layer.append(batch_frame(regions, noise.crs, classes is not None))
        check_found(noise, options, tally)
        return kind_column(tally.largest_class), noise.crs.to_string()


def _counter(on_window: Callable[[int, int], None], total: int) -> Callable[[Window], None]:
    """A per-block callback that reports (blocks done, ``total``) to ``on_window``.

    ``on_window`` hears of ``(0, total)`` at once, so that a progress bar shows its
    total before the first block is done.
    """
    done = 0
    on_window(0, total)

    def step(_: Window) -> None:
        nonlocal done
        done += 1
        on_window(done, total)

    return step


def by_kind(counts: Mapping[str, int]) -> dict[str, int]:
    """Polygons per kind in legend order (:data:`~.attributes.KINDS`), kinds that occur only."""
    return {kind: int(counts[kind]) for kind in KINDS if counts.get(kind, 0)}
