"""Cutting georeferenced scenes and their labels into training tiles.

A tile directory holds ``images/`` and ``labels/`` (GeoTIFFs that carry the
exact CRS and transform of their window of the scene) and ``tiles.gpkg``, the
index of tile footprints (see DESIGN.md) with its QGIS style inside. Tiling is
planned first — every scene and label source is opened and checked before
anything is written — and then written window by window, so memory does not
grow with the scene.
"""

from __future__ import annotations

import bisect
import itertools
import os
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from geonoise import io
from geonoise.contracts import IGNORE
from geonoise.data.labels import LabelSource, open_labels_as, pair_labels, reprojecting
from geonoise.data.tiledir import INDEX_LAYER, INDEX_NAME
from geonoise.errors import GeonoiseError, InvalidInputError
from geonoise.io.styles import tiles_qml
from geonoise.parallel import ordered_map
from geonoise.windows import Window, window_grid

if TYPE_CHECKING:
    import geopandas as gpd
    from rasterio.io import DatasetReader

#: Largest tile edge accepted (a tile is read into memory whole).
MAX_TILE_SIZE = 8192

SKIP_BELOW_MIN_VALID = "below --min-valid"

#: Windows cut in one go (one task of a worker process).
CHUNK_WINDOWS = 16

#: GDAL's block cache while tiling, in MiB. Windows are visited row by row, so a small
#: cache holds the block rows in use; GDAL's default (5 % of RAM) would instead keep
#: every block read so far and memory would grow with the scene.
GDAL_CACHE_MB = 64


@dataclass(frozen=True)
class TileOptions:
    """How scenes are cut: window size, overlap, validity threshold, label burning."""

    size: int = 256
    overlap: int = 0
    min_valid: float = 0.5
    class_field: str | None = None
    all_touched: bool = False
    resample_labels: bool = False
    creation_options: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not 16 <= self.size <= MAX_TILE_SIZE:
            raise InvalidInputError(f"{self.size} is outside 16..{MAX_TILE_SIZE}", "--size")
        if not 0 <= self.overlap < self.size:
            raise InvalidInputError(
                f"{self.overlap} must be ≥ 0 and below --size {self.size}", "--overlap"
            )
        if not 0 <= self.min_valid <= 1:
            raise InvalidInputError(f"{self.min_valid} is outside 0..1", "--min-valid")


@dataclass(frozen=True)
class ScenePlan:
    """One scene to tile: its file, its labels (or None), a unique name and its windows."""

    scene: str
    labels: str | None
    name: str
    windows: Sequence[Window]


@dataclass
class TileRecord:
    """What happened to one window: written (with its paths) or skipped (with a reason)."""

    tile_id: str
    scene: ScenePlan
    window: Window
    valid_fraction: float
    class_counts: dict[int, int]
    image: str | None = None
    label: str | None = None
    skipped: str | None = None


@dataclass
class TilingSummary:
    """Counts per scene, for the CLI to report."""

    output: str
    scenes: list[dict[str, Any]]

    @property
    def written(self) -> int:
        return sum(s["tiles_written"] for s in self.scenes)

    @property
    def skipped(self) -> int:
        return sum(s["tiles_skipped"] for s in self.scenes)

    def to_dict(self) -> dict[str, Any]:
        return {
            "output": self.output,
            "tiles_written": self.written,
            "tiles_skipped": self.skipped,
            "scenes": self.scenes,
        }


def plan_tiling(
    scenes: Sequence[str], labels: Sequence[str], options: TileOptions
) -> list[ScenePlan]:
    """Check every scene and label source and lay out the windows; writes nothing.

    ``labels`` holds one source per scene, one source for all scenes, or none.
    """
    from rasterio.warp import transform_bounds

    names = io.unique_stems(scenes)
    plans = []
    index_crs = None
    for name, scene_path, label_path in zip(
        names, scenes, pair_labels(scenes, labels), strict=True
    ):
        with io.open_scene(scene_path) as scene:
            if label_path is not None:
                open_labels_as(label_path, scene, options).close()
            index_crs = index_crs or scene.crs
            with reprojecting(scene_path, scene.crs, index_crs):  # footprints in one index
                transform_bounds(scene.crs, index_crs, *scene.bounds)
            windows = window_grid(scene.width, scene.height, options.size, options.overlap)
        plans.append(ScenePlan(scene_path, label_path, name, windows))
    return plans


def write_tiles(
    plans: Sequence[ScenePlan],
    output: str | os.PathLike,
    options: TileOptions,
    *,
    overwrite: bool = False,
    on_tile: Callable[[TileRecord], None] | None = None,
    jobs: int = 1,
) -> TilingSummary:
    """Write the tiles and the index of ``plans`` into the directory ``output``.

    The directory is built under a temporary name and moved into place at the
    end, so a failure leaves no partial output (and an existing one untouched).
    With ``jobs`` > 1, runs of windows are cut and written by that many
    processes (tile writing is CPU-bound: compression and GDAL's file set-up).

    Raises:
        GeonoiseError: no window met ``min_valid`` (nothing is written).
    """
    written: list[TileRecord] = []
    skipped: Counter[tuple[str, str]] = Counter()  # (scene name, reason): counts, not records
    with io.atomic_output(output, overwrite) as tmp:
        with io.writing(output):
            (tmp / "images").mkdir(parents=True)
            if any(plan.labels for plan in plans):
                (tmp / "labels").mkdir()
        for record in _tile_records(plans, tmp, options, jobs):
            if record.skipped is None:
                written.append(record)
            else:
                skipped[record.scene.name, record.skipped] += 1
            if on_tile is not None:
                on_tile(record)
        if not written:
            raise GeonoiseError(
                f"no tile written: all {skipped.total()} windows are below "
                f"--min-valid {options.min_valid}; lower it or check the nodata"
            )
        with io.writing(output):
            io.write_vector(
                index_frame(written, output), tmp / INDEX_NAME, layer=INDEX_LAYER, style=tiles_qml()
            )
    return TilingSummary(str(output), [_scene_summary(p, written, skipped) for p in plans])


def _tile_records(
    plans: Sequence[ScenePlan], out_dir: Path, options: TileOptions, jobs: int
) -> Iterator[TileRecord]:
    """Records of every window, in plan order, from this process or a pool of ``jobs``."""
    try:
        for records in ordered_map(
            _tile_chunk,
            ChunkTasks(plans, out_dir, options),
            jobs,
            while_waiting=_load_index_writer,
        ):
            yield from records
    finally:
        _close_sources()


class ChunkTasks(Sequence[tuple[ScenePlan, int, Path, TileOptions]]):
    """The tasks of :func:`_tile_chunk`: runs of :data:`CHUNK_WINDOWS` windows of each plan.

    Made when asked for, and naming their windows by where they start, so
    neither this sequence nor a task grows with the scene (a scene can hold
    millions of windows).
    """

    def __init__(self, plans: Sequence[ScenePlan], out_dir: Path, options: TileOptions) -> None:
        self._plans, self._out_dir, self._options = plans, out_dir, options
        counts = [-(-len(plan.windows) // CHUNK_WINDOWS) for plan in plans]
        self._ends = list(itertools.accumulate(counts))

    def __len__(self) -> int:
        return self._ends[-1] if self._ends else 0

    def __getitem__(self, index: int) -> tuple[ScenePlan, int, Path, TileOptions]:  # type: ignore[override]
        if not 0 <= index < len(self):
            raise IndexError(index)
        which = bisect.bisect_right(self._ends, index)
        first = index - (self._ends[which - 1] if which else 0)
        return self._plans[which], first * CHUNK_WINDOWS, self._out_dir, self._options


def _load_index_writer() -> None:
    """Import the index writer's libraries while the workers cut tiles.

    This process would otherwise wait idle; small scenes notice the half second.
    """
    import geopandas  # noqa: F401


def _tile_chunk(
    plan: ScenePlan, start: int, out_dir: Path, options: TileOptions
) -> list[TileRecord]:
    """Cut and write the windows of one scene from ``start`` on (in whichever process runs it)."""
    import rasterio

    windows = plan.windows[start : start + CHUNK_WINDOWS]
    with rasterio.Env(GDAL_CACHEMAX=GDAL_CACHE_MB * 2**20):
        scene, labels = _sources(plan, options)
        with io.writing(out_dir):
            return [_tile_window(plan, w, scene, labels, out_dir, options) for w in windows]


#: Open scenes and label sources of this process, by scene name (a pool worker keeps
#: them for all the chunks it cuts instead of reopening, and re-reading vector labels).
_OPEN: dict[str, tuple[Any, Any]] = {}


def _sources(plan: ScenePlan, options: TileOptions) -> tuple[DatasetReader, LabelSource | None]:
    if plan.name not in _OPEN:
        scene = io.open_scene(plan.scene)
        labels = open_labels_as(plan.labels, scene, options) if plan.labels else None
        _OPEN[plan.name] = (scene, labels)
    return _OPEN[plan.name]


def _close_sources() -> None:
    for scene, labels in _OPEN.values():
        if labels is not None:
            labels.close()
        scene.close()
    _OPEN.clear()


def _tile_window(
    plan: ScenePlan,
    window: Window,
    scene: DatasetReader,
    labels: LabelSource | None,
    out_dir: Path,
    options: TileOptions,
) -> TileRecord:
    rio_window = window.to_rasterio()
    image = io.read_window(scene, rio_window, fill_value=scene.nodata or 0)
    usable = io.read_valid_mask(scene, rio_window, data=image)
    label = None
    if labels is not None:
        label = labels.read(rio_window)
        label[~usable] = IGNORE
        usable = label != IGNORE
    tile_id = f"{plan.name}_r{window.row_off:06d}_c{window.col_off:06d}"
    valid_fraction = float(usable.mean())
    counts = {}
    if label is not None:
        numbers = np.bincount(label[usable], minlength=IGNORE)
        counts = {int(v): int(numbers[v]) for v in np.flatnonzero(numbers)}
    record = TileRecord(tile_id, plan, window, valid_fraction, counts)
    if valid_fraction == 0 or valid_fraction < options.min_valid:
        record.skipped = SKIP_BELOW_MIN_VALID
        return record
    transform = scene.window_transform(rio_window)
    record.image = f"images/{tile_id}.tif"
    io.write_raster(
        out_dir / record.image,
        image,
        crs=scene.crs,
        transform=transform,
        nodata=scene.nodata,
        creation_options=options.creation_options,
        descriptions=list(scene.descriptions) if any(scene.descriptions) else None,
        colorinterp=list(scene.colorinterp),
    )
    if label is not None:
        record.label = f"labels/{tile_id}.tif"
        io.write_raster(
            out_dir / record.label,
            label,
            crs=scene.crs,
            transform=transform,
            nodata=IGNORE,
            creation_options=options.creation_options,
            descriptions=["class id"],
        )
    return record


def index_frame(records: Sequence[TileRecord], output: str | os.PathLike) -> gpd.GeoDataFrame:
    """The ``tiles`` layer: one footprint per written tile, in the first scene's CRS.

    Scenes in other CRSs have their footprints reprojected; ``crs`` keeps each
    scene's own. Class fractions are shares of the labelled pixels of the tile.
    """
    import geopandas as gpd
    import pandas as pd
    from shapely import box

    classes = sorted({c for r in records for c in r.class_counts})
    frames = []
    for group in _group_by_scene(records).values():
        with io.open_scene(group[0].scene.scene) as scene:
            # once per scene: a CRS without an authority code takes ~0.2 s to describe
            crs_text = scene.crs.to_string()
            scene_path = _relative(group[0].scene.scene, output)
            rows = [_index_row(r, scene_path, crs_text, classes) for r in group]
            geometry = [box(*scene.window_bounds(r.window.to_rasterio())) for r in group]
            frames.append(gpd.GeoDataFrame(rows, geometry=geometry, crs=scene.crs))
    crs = frames[0].crs
    return gpd.GeoDataFrame(pd.concat([f.to_crs(crs) for f in frames], ignore_index=True), crs=crs)


def _relative(path: str, output: str | os.PathLike) -> str:
    """``path`` relative to the tile directory, with forward slashes."""
    return Path(os.path.relpath(os.path.abspath(path), os.path.abspath(output))).as_posix()


def _index_row(
    record: TileRecord, scene_path: str, crs_text: str, classes: list[int]
) -> dict[str, Any]:
    labelled = sum(record.class_counts.values())
    row = {
        "tile_id": record.tile_id,
        "scene": scene_path,
        "image": record.image,
        "label": record.label,
        "col_off": record.window.col_off,
        "row_off": record.window.row_off,
        "width": record.window.width,
        "height": record.window.height,
        "valid_fraction": record.valid_fraction,
        "crs": crs_text,
    }
    for c in classes:
        row[f"frac_{c}"] = record.class_counts.get(c, 0) / labelled if labelled else 0.0
    return row


def _group_by_scene(records: Sequence[TileRecord]) -> dict[str, list[TileRecord]]:
    groups: dict[str, list[TileRecord]] = {}
    for record in records:
        groups.setdefault(record.scene.name, []).append(record)
    return groups


def _scene_summary(
    plan: ScenePlan, written: Sequence[TileRecord], skipped: Counter[tuple[str, str]]
) -> dict[str, Any]:
    reasons = {why: n for (name, why), n in skipped.items() if name == plan.name}
    return {
        "scene": plan.scene,
        "labels": plan.labels,
        "windows": len(plan.windows),
        "tiles_written": sum(r.scene.name == plan.name for r in written),
        "tiles_skipped": sum(reasons.values()),
        "skipped": reasons,
    }
