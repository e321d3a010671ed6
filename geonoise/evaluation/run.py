"""Running an evaluation on files: one call for every level the caller asks for.

:func:`evaluate_files` refuses what cannot work before any work is done (option
combinations, missing truth objects, an existing plot), reads the vector and
table inputs, then makes one pass over the rasters for the pixel and tile
metrics, scores the polygons, and writes the precision-recall plot. The result,
:class:`Evaluation`, is what ``geonoise evaluate`` prints or writes as JSON.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from geonoise import io
from geonoise.data.tiledir import index_path, read_tile_index, require_tile_dir
from geonoise.errors import GeoreferenceError, InvalidInputError
from geonoise.evaluation.objects import (
    TRUTH_OBJECTS_NAME,
    ObjectCurve,
    ObjectMetrics,
    object_curve,
    object_metrics,
    truth_objects_for,
)
from geonoise.evaluation.options import DEFAULT_OPTIONS, EvaluateOptions
from geonoise.evaluation.pixels import (
    PixelMetrics,
    check_histogram,
    check_same_grid,
    pixel_metrics,
    scan_pixels,
)
from geonoise.evaluation.tiles import (
    TileMetrics,
    TileRow,
    ranking_scores,
    tile_metrics,
    tile_values,
    tile_windows,
)

if TYPE_CHECKING:
    import geopandas as gpd


@dataclass(frozen=True)
class Evaluation:
    """Everything ``evaluate`` measured; ``objects`` and ``tiles`` only where asked for."""

    noise: str
    truth: str
    pixels: PixelMetrics
    ignored_pixels: int
    objects: ObjectMetrics | None = None
    object_curve: ObjectCurve | None = None
    truth_objects: str | None = None
    polygons: str | None = None
    tiles: TileMetrics | None = None
    tile_dir: str | None = None
    ranking: str | None = None
    plot: str | None = None

    def to_dict(self) -> dict[str, object]:
        """Plain values for ``--json``; undefined metrics (NaN) become None."""
        content: dict[str, object] = {
            "noise": self.noise,
            "truth": self.truth,
            "pixels": {**self.pixels.to_dict(), "ignored": self.ignored_pixels},
            "objects": None,
            "tiles": None,
            "plot": self.plot,
        }
        if self.objects is not None:
            content["objects"] = {
                "polygons_file": self.polygons,
                "truth_objects_file": self.truth_objects,
                **self.objects.to_dict(),
                "by_score": None if self.object_curve is None else self.object_curve.to_dict(),
            }
        if self.tiles is not None:
            content["tiles"] = {
                "directory": self.tile_dir,
                "ranking": self.ranking,
                **self.tiles.to_dict(),
            }
        return {key: _finite(value) for key, value in content.items()}


def _finite(value: object) -> object:
    """``value`` with every NaN or infinity (in nested dicts and lists) replaced by None."""
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def evaluate_files(
    noise_path: str | os.PathLike,
    truth_path: str | os.PathLike,
    *,
    polygons: str | os.PathLike | None = None,
    truth_objects: str | os.PathLike | None = None,
    tiles: str | os.PathLike | None = None,
    ranking: str | os.PathLike | None = None,
    plot: str | os.PathLike | None = None,
    options: EvaluateOptions = DEFAULT_OPTIONS,
    overwrite: bool = False,
    on_window: Callable[[int, int], None] | None = None,
) -> Evaluation:
    """Score the noise map at ``noise_path`` against the truth at ``truth_path``.

    Args:
        noise_path: Noise-score GeoTIFF (band 1, scores in [0, 1], nodata ignored).
        truth_path: Truth mask on the same grid (nonzero = noisy; 255 and nodata ignored).
        polygons: Suspect polygons to score at object level (e.g. from ``vectorize``).
        truth_objects: Truth objects; default ``noise_objects.gpkg`` beside the truth.
        tiles: A ``geonoise tile`` directory of the same scene, for the tile metrics.
        ranking: A ``detect --tiles`` ranking CSV whose scores replace each
            tile's own (``options.tile_score``) score.
        plot: Where to write the precision-recall curve (PNG), atomically.
        options: Threshold, cover share, bins, block size, tile scene and score.
        overwrite: Replace an existing ``plot``.
        on_window: Called with (blocks done, blocks in all) during the pixel pass.

    Raises:
        InvalidInputError: An option combination or input that cannot work (exit 2).
        GeoreferenceError: The truth is not on the noise map's grid, a vector
            file has no CRS, or no tile lies on the grid.
        EvaluationError: No evaluated pixel, no noisy one, or scores outside [0, 1].
        OutputExistsError: ``plot`` exists and ``overwrite`` is False.
    """
    objects_path = _check_request(truth_path, polygons, truth_objects, tiles, ranking, options)
    if plot is not None:
        io.check_output(plot, overwrite)
    sources = _read_sources(polygons, objects_path, tiles, ranking)
    scanned = _scan_rasters(noise_path, truth_path, sources, options, on_window)
    objects = curve = None
    if sources.polygons is not None:
        objects = object_metrics(
            sources.polygons, sources.truth_objects, options.min_cover, str(polygons)
        )
        curve = object_curve(
            sources.polygons,
            sources.truth_objects,
            min_cover=options.min_cover,
            recall_floor=options.at_recall,
            name=str(polygons),
        )
    if plot is not None:
        _write_plot(scanned.pixels, plot, overwrite, Path(noise_path).name, Path(truth_path).name)
    return Evaluation(
        noise=str(noise_path),
        truth=str(truth_path),
        pixels=scanned.pixels,
        ignored_pixels=scanned.ignored,
        objects=objects,
        object_curve=curve,
        truth_objects=objects_path,
        polygons=_name(polygons),
        tiles=None
        if scanned.tile_rows is None
        else tile_metrics(scanned.tile_rows, sources.ranking, options.tile_score),
        tile_dir=_name(tiles),
        ranking=_name(ranking),
        plot=_name(plot),
    )


def _name(path: str | os.PathLike | None) -> str | None:
    """``path`` as a string for the result, None where the input was not given."""
    return None if path is None else str(path)


def _check_request(
    truth_path: str | os.PathLike,
    polygons: str | os.PathLike | None,
    truth_objects: str | os.PathLike | None,
    tiles: str | os.PathLike | None,
    ranking: str | os.PathLike | None,
    options: EvaluateOptions,
) -> str | None:
    """Refuse combinations that cannot work; return the truth objects to use (or None).

    Raises:
        InvalidInputError: An option without the one it needs, a tile directory
            without an index, or polygons without truth objects.
    """
    if truth_objects is not None and polygons is None:
        raise InvalidInputError("it scores --polygons; pass them too", "--truth-objects")
    for option, value in (("--ranking", ranking), ("--tile-scene", options.tile_scene)):
        if value is not None and tiles is None:
            raise InvalidInputError("it needs --tiles DIR (the tiles it ranks)", option)
    if tiles is not None:
        require_tile_dir(tiles, "--tiles")
    return None if polygons is None else _truth_objects(truth_path, truth_objects)


def _truth_objects(truth_path: str | os.PathLike, given: str | os.PathLike | None) -> str:
    """The truth objects polygons are scored against: ``given``, else synth's beside the truth.

    Raises:
        InvalidInputError: None was given and there are none beside the truth.
    """
    objects = given if given is not None else truth_objects_for(truth_path)
    if objects is None:
        raise InvalidInputError(
            f"no {TRUTH_OBJECTS_NAME} beside {truth_path}; pass the truth objects "
            "that --polygons are scored against",
            "--truth-objects",
        )
    return str(objects)


@dataclass(frozen=True)
class _Sources:
    """The vector and table inputs, read and checked before the pixel pass."""

    polygons: gpd.GeoDataFrame | None = None
    truth_objects: gpd.GeoDataFrame | None = None
    index: gpd.GeoDataFrame | None = None
    index_name: str = ""
    ranking: dict[str, float] | None = None


def _read_sources(
    polygons: str | os.PathLike | None,
    truth_objects: str | None,
    tiles: str | os.PathLike | None,
    ranking: str | os.PathLike | None,
) -> _Sources:
    """Read the polygons, truth objects, tile index and ranking that were given.

    Raises:
        GeoreferenceError: The polygons or the truth objects have no CRS.
        InvalidInputError: The ranking lacks its columns or has a score that is no number.
    """
    shapes = _read_georeferenced(polygons, "polygons")
    objects = _read_georeferenced(truth_objects, "truth objects")
    index, index_name = None, ""
    if tiles is not None:
        index_name = str(index_path(tiles))
        index = read_tile_index(tiles, "--tiles")
    return _Sources(
        polygons=shapes,
        truth_objects=objects,
        index=index,
        index_name=index_name,
        ranking=None if ranking is None else ranking_scores(io.read_csv(ranking), ranking),
    )


def _read_georeferenced(path: str | os.PathLike | None, role: str) -> gpd.GeoDataFrame | None:
    """The vector file at ``path`` (None for None), refused without a CRS: areas need one."""
    if path is None:
        return None
    frame = io.read_vector(path)
    if frame.crs is None:
        raise GeoreferenceError(
            f"{path} ({role}) has no CRS; assign one first, e.g. "
            f"`ogr2ogr -a_srs EPSG:32633 fixed.gpkg {path}`"
        )
    return frame


@dataclass(frozen=True)
class _Scanned:
    """What the pass over the rasters measured."""

    pixels: PixelMetrics
    tile_rows: list[TileRow] | None
    ignored: int


def _scan_rasters(
    noise_path: str | os.PathLike,
    truth_path: str | os.PathLike,
    sources: _Sources,
    options: EvaluateOptions,
    on_window: Callable[[int, int], None] | None,
) -> _Scanned:
    """Pixel metrics, tile values (where a tile index was read) and the ignored pixel count.

    The tiles are placed on the grid before the pixel pass, so a tile directory
    of another scene is refused before the long part.
    """
    with io.open_scene(noise_path) as noise, io.open_scene(truth_path) as truth:
        check_same_grid(noise, truth)
        chosen = (
            None
            if sources.index is None
            else tile_windows(sources.index, noise, options.tile_scene, sources.index_name)
        )
        histogram = scan_pixels(noise, truth, options, on_window)
        check_histogram(histogram, noise_path, truth_path)
        pixels = pixel_metrics(histogram)
        tile_rows = (
            None
            if chosen is None
            else tile_values(noise, truth, chosen, options.tile_score, options.threshold)
        )
        ignored = noise.width * noise.height - pixels.evaluated
    return _Scanned(pixels, tile_rows, ignored)


def _write_plot(
    pixels: PixelMetrics, path: str | os.PathLike, overwrite: bool, noise: str, truth: str
) -> None:
    """The precision-recall curve of ``pixels`` as a PNG at ``path``, written atomically."""
    from geonoise.io.plots import plot_precision_recall

    with io.atomic_output(path, overwrite) as tmp:
        plot_precision_recall(
            pixels.curve.recall,
            pixels.curve.precision,
            tmp,
            average_precision=pixels.average_precision,
            base_rate=pixels.base_rate,
            best=(pixels.best_recall, pixels.best_precision, pixels.best_threshold),
            noise=noise,
            truth=truth,
        )
