"""Noise maps of whole scenes: sliding windows, blended, written in strips.

The scene is cut with the shared window grid; windows are batched through the
predictor, weighted with :func:`~geonoise.windows.blend_weights` and summed.
Windows are visited row by row, so once a row of windows is done every pixel
above the next row is final: that strip is scored against the labels and
written, and its buffers dropped. Memory is therefore bounded by one strip
(scene width × window height), never by the scene height.

Outputs for ``noise.tif`` (all on the scene grid, COG layout, QGIS styles beside):

* ``noise.tif`` — float32 noise score in [0, 1], nodata −1 where the scene has
  no data or the label is ignore;
* ``noise.classes.tif`` — uint8 band 1 the given label, band 2 the predicted
  class (255 = no data), for ``vectorize``;
* ``noise.probs.tif`` — float32 class probabilities (on request);
* ``noise.quicklook.png`` — scene, label outlines and noise overlay.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from geonoise import io
from geonoise.contracts import IGNORE, NODATA
from geonoise.data.labels import open_labels
from geonoise.detection.scores import (
    METHODS,
    ThresholdAccumulator,
    confident_learning,
)
from geonoise.errors import InvalidInputError
from geonoise.windows import Window, blend_weights, window_grid

logger = logging.getLogger(__name__)

#: GDAL's block cache while scoring a scene, in MiB. Strips are written once and read
#: back once; GDAL's default (5 % of RAM) would keep every block and grow with the scene.
#: The cache fills up to its limit, so the limit is what a larger scene adds: 64 MiB
#: made peak memory 1.23x for 4x the pixels (tiny model, 2048² → 4096²), 16 MiB 1.11x,
#: at the same speed (the intermediate rasters are uncompressed, cheap to re-read).
GDAL_CACHE_MB = 16


@dataclass(frozen=True)
class DetectOptions:
    """How a scene is scored.

    Attributes:
        window: Window edge in pixels (a multiple of the model's); None = the model's tile size.
        overlap: Pixels shared by neighbouring windows, blended with cosine weights;
            None = an eighth of the window.
        batch_size: Windows per model call.
        method: ``self-confidence`` or ``confident-learning``.
        tta: Average the eight D4 flips/rotations of each window (8× the model
            calls; the default, as it raised pixel AP by 0.05 on average in the quality
            benchmark).
        probabilities: Also write the class probabilities.
        quicklook: Write the PNG quicklook.
        class_field, all_touched, resample_labels: How labels are read (as for ``tile``).
        creation_options: GDAL creation options for the GeoTIFFs (``--co``).
    """

    window: int | None = None
    overlap: int | None = None
    batch_size: int = 4
    method: str = "self-confidence"
    tta: bool = True
    probabilities: bool = False
    quicklook: bool = True
    class_field: str | None = None
    all_touched: bool = False
    resample_labels: bool = False
    creation_options: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise InvalidInputError(
                f"{self.method!r} is not one of {', '.join(METHODS)}", "--method"
            )

    def window_for(self, predictor: Any) -> int:
        """The window edge for ``predictor``, checked against its size multiple."""
        size = self.window or int(predictor.meta.tile_size)
        multiple = int(predictor.multiple)
        if size % multiple:
            raise InvalidInputError(
                f"{size} is not a multiple of {multiple}, which the model needs", "--window"
            )
        if not 0 <= self.overlap_for(size) < size:
            raise InvalidInputError(
                f"{self.overlap} must be ≥ 0 and below the window {size}", "--overlap"
            )
        return size

    def overlap_for(self, size: int) -> int:
        """The overlap used with windows of ``size``."""
        return self.overlap if self.overlap is not None else size // 8


@dataclass(frozen=True)
class SceneOutputs:
    """The files written for one scene."""

    noise: Path
    classes: Path
    probabilities: Path | None
    quicklook: Path | None

    @classmethod
    def beside(cls, noise: str | os.PathLike, options: DetectOptions) -> SceneOutputs:
        noise = Path(noise)
        stem = noise.with_suffix("")
        return cls(
            noise,
            Path(f"{stem}.classes.tif"),
            Path(f"{stem}.probs.tif") if options.probabilities else None,
            Path(f"{stem}.quicklook.png") if options.quicklook else None,
        )

    def files(self) -> list[Path]:
        return [p for p in (self.noise, self.classes, self.probabilities, self.quicklook) if p]


def check_outputs(outputs: SceneOutputs, overwrite: bool) -> None:
    """Refuse before any work when an output exists (unless ``overwrite``)."""
    for path in outputs.files():
        io.check_output(path, overwrite)


class StripBlender:
    """Weighted sums of window probabilities over the rows that windows may still reach.

    The buffers hold ``capacity`` rows, allocated once: a strip popped from the
    top moves the rows below it up, so memory stays at one window row of the scene.
    """

    def __init__(self, width: int, num_classes: int, weights: np.ndarray, capacity: int) -> None:
        self.width = width
        self.top = 0
        self.weights = weights
        self.sums = np.zeros((num_classes, capacity, width), np.float32)
        self.weight_sums = np.zeros((capacity, width), np.float32)
        self.valid = np.zeros((capacity, width), bool)

    def add(self, window: Window, probs: np.ndarray, valid: np.ndarray) -> None:
        """Add one window's probabilities ``(K, size, size)`` and its valid-pixel mask."""
        rows = slice(window.row_off - self.top, window.row_off - self.top + window.height)
        if rows.stop > self.weight_sums.shape[0]:
            raise ValueError(f"window {window} reaches past the blender's {rows.stop} rows")
        cols = slice(window.col_off, min(window.col_off + window.width, self.width))
        span = cols.stop - cols.start
        weights = self.weights[:, :span]
        self.sums[:, rows, cols] += probs[:, :, :span] * weights
        self.weight_sums[rows, cols] += weights
        self.valid[rows, cols] |= valid[:, :span]

    def peek(self, rows: int) -> Strip:
        """The next ``rows`` rows, as views of the buffers: valid until :meth:`advance`."""
        weights = self.weight_sums[:rows]
        return Strip(self.top, self.sums[:, :rows], weights, self.valid[:rows] & (weights > 0))

    def advance(self, rows: int) -> None:
        """Forget the next ``rows`` rows (move the rows below them up)."""
        for buffer in (self.sums[:], self.weight_sums[None], self.valid[None]):
            buffer[:, :-rows] = buffer[:, rows:]
            buffer[:, -rows:] = 0
        self.top += rows


@dataclass
class Strip:
    """Finished rows of a scene: window probabilities summed with their blend weights.

    The blended probabilities are ``sums / weights``; they are divided only
    where needed (the class with the largest sum is the most probable one).
    """

    top: int
    sums: np.ndarray  # (K, rows, width) float32
    weights: np.ndarray  # (rows, width) float32, > 0 where valid
    valid: np.ndarray  # (rows, width) bool

    def probabilities(self, cols: slice = slice(None)) -> np.ndarray:
        """Blended probabilities ``(K, rows, n)`` of the columns ``cols``."""
        return self.sums[:, :, cols] / np.maximum(self.weights[:, cols], 1e-12)


def blended_strips(
    scene: Any,
    predictor: Any,
    size: int,
    options: DetectOptions,
    on_window: Callable[[], None] | None = None,
) -> Iterator[Strip]:
    """Yield the scene's :class:`Strip` s from top to bottom.

    A strip's arrays are views of the blender's buffers: use them before asking
    for the next strip. The windows are read and run through the model in
    helper threads, a few batches ahead (:data:`MODEL_LANES` batches side by side
    where the models allow), while this one blends them and the caller scores and
    writes the strips (see :func:`geonoise.parallel.read_ahead`).
    Batches run on across window rows: once a window of the next row arrives,
    every row above it is final.
    """
    from geonoise.models.modelset import as_model_set
    from geonoise.parallel import read_ahead

    models = as_model_set(predictor)
    overlap = options.overlap_for(size)
    windows = window_grid(scene.width, scene.height, size, overlap)
    blender = StripBlender(
        scene.width, predictor.meta.num_classes, blend_weights(size, overlap), capacity=size
    )
    batches = _predicted_batches(scene, models, windows, options)
    # Batches in memory: the queue, one being handed on, and one being scored per lane.
    ahead = max(1, PREDICT_AHEAD - (models.lanes - 1))
    for batch, probs, valid in read_ahead(batches, depth=ahead):
        for window, p, v in zip(batch, probs, valid, strict=True):
            if window.row_off > blender.top:  # a new window row: the rows above it are final
                rows = window.row_off - blender.top
                yield blender.peek(rows)
                blender.advance(rows)
            blender.add(window, p, v)
            if on_window is not None:
                on_window()
    rows = scene.height - blender.top
    if rows > 0:
        yield blender.peek(rows)


#: Batches scored ahead of blending and waiting for it (each holds its windows'
#: probabilities); with lanes, the ones being scored come on top.
PREDICT_AHEAD = 2

#: Batches scored side by side by ONNX models on the CPU (``crossfit.open_models``
#: sizes the session's thread pool to match). On 2 cores, tiny preset: 6.7 -> 6.1 s
#: for a 4096² scene without TTA, 9.7 -> 8.6 s for 2048² with TTA, against one batch
#: at a time on both cores: one thread per run needs no synchronisation inside the
#: model, and blending fits between the runs. Not yet measured on more cores.
MODEL_LANES = 2


def _predicted_batches(
    scene: Any, models: Any, windows: list[Window], options: DetectOptions
) -> Iterator[tuple[list[Window], np.ndarray, list[np.ndarray]]]:
    """``(windows, probabilities, valid masks)`` of every batch, in grid order."""
    from collections import deque
    from concurrent.futures import ThreadPoolExecutor

    fill = scene.nodata if scene.nodata is not None and scene.nodata == scene.nodata else 0

    def read(batch: list[Window]) -> tuple[np.ndarray, list[np.ndarray], list[Any]]:
        images = [io.read_window(scene, w.to_rasterio(), fill_value=fill) for w in batch]
        valid = [
            io.read_valid_mask(scene, w.to_rasterio(), data=image)
            for w, image in zip(batch, images, strict=True)
        ]
        transforms = [scene.window_transform(w.to_rasterio()) for w in batch]
        return np.stack(images).astype(np.float32), valid, transforms

    starts = range(0, len(windows), options.batch_size)
    batches = [windows[start : start + options.batch_size] for start in starts]
    if models.lanes == 1:
        for batch in batches:
            stacked, valid, transforms = read(batch)
            yield batch, models.predict_at(stacked, transforms, scene.crs, options.tta), valid
        return
    # Several lanes: batches are read here (one thread per dataset) and scored side by side.
    pending: deque[tuple[list[Window], Any, list[np.ndarray]]] = deque()
    with ThreadPoolExecutor(models.lanes, thread_name_prefix="geonoise-lane") as lanes:
        for batch in batches:
            stacked, valid, transforms = read(batch)
            scored = lanes.submit(models.predict_at, stacked, transforms, scene.crs, options.tta)
            pending.append((batch, scored, valid))
            if len(pending) >= models.lanes:
                done, scored, valid = pending.popleft()
                yield done, scored.result(), valid
        while pending:
            done, scored, valid = pending.popleft()
            yield done, scored.result(), valid


def count_windows(scene: Any, size: int, overlap: int) -> int:
    """How many windows a scene takes (for progress bars)."""
    return len(window_grid(scene.width, scene.height, size, overlap))


@dataclass
class _Writers:
    """The intermediate GeoTIFFs of one scene (uncompressed; compressed when copied to COG)."""

    noise: Any
    classes: Any
    probs: Any | None

    def close(self) -> None:
        for dataset in (self.noise, self.classes, self.probs):
            if dataset is not None:
                dataset.close()


def _open_writers(scene: Any, meta: Any, scratch: Path, keep_probs: bool) -> _Writers:
    grid = {
        "width": scene.width,
        "height": scene.height,
        "crs": scene.crs,
        "transform": scene.transform,
        "creation_options": {"COMPRESS": "NONE", "PREDICTOR": "1"},
    }
    noise = io.create_raster(
        scratch / "noise.tif",
        count=1,
        dtype="float32",
        nodata=NODATA,
        descriptions=["noise_score"],
        **grid,
    )
    classes = io.create_raster(
        scratch / "classes.tif",
        count=2,
        dtype="uint8",
        nodata=IGNORE,
        descriptions=["label", "predicted"],
        **grid,
    )
    probs = None
    if keep_probs:
        probs = io.create_raster(
            scratch / "probs.tif",
            count=meta.num_classes,
            dtype="float32",
            nodata=NODATA,
            descriptions=[f"p({n})" for n in meta.class_names],
            **grid,
        )
    return _Writers(noise, classes, probs)


@dataclass
class ScoreTally:
    """Running count, sum and count at or above 0.5 of the scored (non-NaN) pixel scores."""

    scored: float = 0.0
    score_sum: float = 0.0
    noisy: float = 0.0

    def add(self, score: np.ndarray) -> None:
        self.add_known(score, ~np.isnan(score))

    def add_known(self, score: np.ndarray, known: np.ndarray) -> None:
        """Add the scores where ``known`` (the others are not looked at)."""
        self.scored += int(np.count_nonzero(known))
        self.score_sum += float(np.sum(score, where=known, dtype=np.float64))
        self.noisy += int(np.count_nonzero((score >= 0.5) & known))


def check_label_classes(
    label: np.ndarray, meta: Any, source: str, valid: np.ndarray | None = None
) -> None:
    """Refuse labels (where ``valid``) holding a class the model does not know."""
    known = label != IGNORE if valid is None else valid & (label != IGNORE)
    unknown = label[known & (label >= meta.num_classes)]
    if unknown.size:
        raise InvalidInputError(
            f"{source} has class {int(unknown.max())}, but the model knows only classes "
            f"0..{meta.num_classes - 1} ({', '.join(meta.class_names)})",
            "--labels",
        )


#: Columns of a strip scored and written at a time: the temporaries of scoring
#: (several arrays per class) then take the same memory however wide the scene.
STRIP_CHUNK = 1024


def _write_strip(
    writers: _Writers,
    strip: Strip,
    label: np.ndarray,
    thresholds: ThresholdAccumulator,
    tally: ScoreTally,
) -> None:
    from rasterio.windows import Window as RioWindow

    classes, rows, width = strip.sums.shape
    for start in range(0, width, STRIP_CHUNK):
        cols = slice(start, min(start + STRIP_CHUNK, width))
        window = RioWindow(start, strip.top, cols.stop - start, rows)
        sums, usable = strip.sums[:, :, cols], strip.valid[:, cols]
        given = np.where(usable, label[:, cols], IGNORE).astype(np.uint8, copy=False)
        predicted = np.where(usable, predicted_class(sums), IGNORE).astype(np.uint8, copy=False)
        known = given < classes  # IGNORE (255) is never a class of the model
        index = np.where(known, given, 0).astype(np.intp)[None]
        picked = np.take_along_axis(sums, index, axis=0)[0]
        p_label = picked / np.maximum(strip.weights[:, cols], 1e-12)
        known &= ~np.isnan(p_label)  # a model that gave NaN scores nothing there
        # self-confidence (confident learning rescores later)
        score = np.where(known, 1.0 - p_label, np.float32(NODATA)).astype(np.float32, copy=False)
        tally.add_known(score, known)
        thresholds.add(p_label, given)  # pixels whose label is no class are left out
        writers.noise.write(score[None], window=window)
        writers.classes.write(np.stack([given, predicted]), window=window)
        if writers.probs is not None:
            probs = strip.probabilities(cols)
            writers.probs.write(np.where(usable, probs, NODATA).astype(np.float32), window=window)


def predicted_class(probs: np.ndarray) -> np.ndarray:
    """``probs.argmax(0)`` as uint8 for ``(K, rows, cols)`` probabilities (K ≤ 256).

    A running maximum over the classes: numpy's argmax along the first axis goes
    pixel by pixel and took a tenth of detect's time beside a small model.
    Ties go to the lower class, as with argmax.
    """
    best = probs[0].copy()
    out = np.zeros(best.shape, np.uint8)
    for k in range(1, probs.shape[0]):
        better = probs[k] > best
        out[better] = k
        np.maximum(best, probs[k], out=best)
    return out


def _rescore_confident_learning(
    scene: Any, scratch: Path, thresholds: np.ndarray, rows: int = 512
) -> tuple[Path, ScoreTally]:
    """Second pass for confident learning: scores from the stored probabilities."""
    from rasterio.windows import Window as RioWindow

    tally = ScoreTally()
    target = scratch / "noise_cl.tif"
    writer = io.create_raster(
        target,
        width=scene.width,
        height=scene.height,
        count=1,
        dtype="float32",
        crs=scene.crs,
        transform=scene.transform,
        nodata=NODATA,
        descriptions=["noise_score"],
        creation_options={"COMPRESS": "NONE", "PREDICTOR": "1"},
    )
    with (
        writer,
        io.open_raster(scratch / "probs.tif") as probs_src,
        io.open_raster(scratch / "classes.tif") as classes_src,
    ):
        for top in range(0, scene.height, rows):
            window = RioWindow(0, top, scene.width, min(rows, scene.height - top))
            probs = probs_src.read(window=window)
            label = classes_src.read(1, window=window)
            score = confident_learning(probs, label, thresholds)
            tally.add(score)
            writer.write(np.nan_to_num(score, nan=NODATA)[None].astype(np.float32), window=window)
    return target, tally


def detect_scene(
    scene_path: str,
    labels_path: str,
    predictor: Any,
    outputs: SceneOutputs,
    options: DetectOptions,
    *,
    overwrite: bool = False,
    on_window: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """Write the noise map (and companions) of one scene; returns a summary.

    Nothing appears at ``outputs`` unless the whole scene succeeds.

    Raises:
        InvalidInputError: the model's bands or classes do not fit the scene or labels.
        GeoreferenceError, NoOverlapError, ReadError: as for tiling.
    """
    import tempfile

    import rasterio

    from geonoise.models.modelset import as_model_set

    started = time.perf_counter()
    check_outputs(outputs, overwrite)
    models = as_model_set(predictor)
    in_sample_before = models.in_sample_pixels
    meta = models.meta
    size = options.window_for(models)
    with ExitStack() as stack:
        stack.enter_context(rasterio.Env(GDAL_CACHEMAX=GDAL_CACHE_MB * 2**20))
        scene = stack.enter_context(io.open_scene(scene_path))
        if scene.count != meta.bands:
            raise InvalidInputError(
                f"the model takes {meta.bands} bands but {scene_path} has {scene.count}", "--model"
            )
        labels = open_labels(
            labels_path,
            scene,
            class_field=options.class_field,
            all_touched=options.all_touched,
            resample=options.resample_labels,
        )
        stack.callback(labels.close)
        scratch = Path(
            stack.enter_context(
                tempfile.TemporaryDirectory(prefix=".geonoise-", dir=outputs.noise.parent)
            )
        )
        confident = options.method == "confident-learning"
        writers = _open_writers(scene, meta, scratch, options.probabilities or confident)
        thresholds = ThresholdAccumulator(meta.num_classes)
        tally = ScoreTally()
        try:
            for strip in blended_strips(scene, models, size, options, on_window):
                label = labels.read(_full_width(scene, strip.top, strip.valid.shape[0]))
                check_label_classes(label, meta, labels_path, strip.valid)
                _write_strip(writers, strip, label, thresholds, tally)
        finally:
            writers.close()
        noise_source = scratch / "noise.tif"
        if confident:
            noise_source, tally = _rescore_confident_learning(
                scene, scratch, thresholds.thresholds()
            )
        finals = _publish(outputs, scratch, noise_source, options, overwrite, meta)
        if outputs.quicklook is not None:
            from geonoise.io.plots import quicklook

            with io.atomic_output(outputs.quicklook, overwrite) as tmp:
                quicklook(scene_path, finals["noise"], finals["classes"], tmp)
    summary = _summary(
        scene_path,
        labels_path,
        outputs,
        options,
        size,
        tally,
        thresholds,
        time.perf_counter() - started,
    )
    summary["models"] = len(models.members)
    if models.cross_fitted:
        in_sample = models.in_sample_pixels - in_sample_before
        summary["in_sample_window_pixels"] = in_sample
        if in_sample:
            logger.warning(
                "%s: %d window pixels lie in no model's held-out region and were scored "
                "by all models, in sample",
                scene_path,
                in_sample,
            )
    return summary


def _full_width(scene: Any, top: int, rows: int) -> Any:
    from rasterio.windows import Window as RioWindow

    return RioWindow(0, top, scene.width, rows)


def _publish(
    outputs: SceneOutputs,
    scratch: Path,
    noise_source: Path,
    options: DetectOptions,
    overwrite: bool,
    meta: Any,
) -> dict[str, Path]:
    """COG copies of the intermediate rasters moved into place, with their QGIS styles."""
    from geonoise.io.styles import raster_style

    jobs = [
        ("noise", outputs.noise, noise_source, "average"),
        ("classes", outputs.classes, scratch / "classes.tif", "nearest"),
    ]
    if outputs.probabilities is not None:
        jobs.append(("probabilities", outputs.probabilities, scratch / "probs.tif", "average"))
    with ExitStack() as stack:
        for _, final, source, resampling in jobs:
            tmp = stack.enter_context(io.atomic_output(final, overwrite))
            io.write_cog(
                source, tmp, resampling=resampling, creation_options=options.creation_options
            )
    raster_style(outputs.noise, "noise_score")
    raster_style(outputs.classes, "classes", meta.class_names)
    return {name: final for name, final, _, _ in jobs}


def _summary(
    scene_path: str,
    labels_path: str,
    outputs: SceneOutputs,
    options: DetectOptions,
    size: int,
    tally: ScoreTally,
    thresholds: ThresholdAccumulator,
    seconds: float,
) -> dict[str, Any]:
    scored = tally.scored
    summary = {
        "scene": scene_path,
        "labels": labels_path,
        "noise": str(outputs.noise),
        "classes": str(outputs.classes),
        "probabilities": str(outputs.probabilities) if outputs.probabilities else None,
        "quicklook": str(outputs.quicklook) if outputs.quicklook else None,
        "method": options.method,
        "window": size,
        "overlap": options.overlap_for(size),
        "scored_pixels": int(scored),
        "mean_score": tally.score_sum / scored if scored else None,
        "noisy_fraction": tally.noisy / scored if scored else None,
        "seconds": round(seconds, 3),
    }
    if options.method == "confident-learning":
        summary["class_thresholds"] = [float(t) for t in thresholds.thresholds()]
    return summary


@dataclass(frozen=True)
class SceneJob:
    """One scene to score: its file, its labels and where its outputs go."""

    scene: str
    labels: str
    outputs: SceneOutputs


def plan_scenes(
    scenes: list[str], labels: list[str], output: str | os.PathLike, options: DetectOptions
) -> list[SceneJob]:
    """Pair scenes with labels and outputs.

    ``output`` is the noise map itself when one scene is given and it ends in
    ``.tif``; otherwise a directory that receives ``<scene>.noise.tif`` per scene.
    """
    from geonoise.data.tiling import unique_names

    if not labels:
        raise InvalidInputError("detect compares the model with labels: give --labels", "--labels")
    if len(labels) not in (1, len(scenes)):
        raise InvalidInputError(
            f"{len(labels)} label sources for {len(scenes)} scenes; give "
            "one per scene (in the same order) or one for all",
            "--labels",
        )
    output = Path(output)
    single = len(scenes) == 1 and output.suffix.lower() in (".tif", ".tiff")
    names = unique_names(scenes)
    jobs = []
    for index, scene in enumerate(scenes):
        noise = output if single else output / f"{names[index]}.noise.tif"
        jobs.append(
            SceneJob(
                scene, labels[index if len(labels) > 1 else 0], SceneOutputs.beside(noise, options)
            )
        )
    return jobs


def shard(jobs: list[SceneJob], rank: int, world_size: int) -> list[SceneJob]:
    """This process's share of the scenes when several run (e.g. under torchrun)."""
    return jobs[rank::world_size]


def detect_scenes(
    jobs: list[SceneJob],
    predictor: Any,
    options: DetectOptions,
    *,
    overwrite: bool = False,
    skip_existing: bool = False,
    on_error: str = "fail",
    on_window: Callable[[], None] | None = None,
) -> list[dict[str, Any]]:
    """Score every job; ``on_error="skip"`` records a failing scene and goes on.

    Returns one summary per job, with ``status`` ``done``, ``skipped`` (its noise
    map existed and ``skip_existing``) or ``failed`` (with ``error``).
    """
    from geonoise.errors import GeonoiseError

    results = []
    for job in jobs:
        if skip_existing and job.outputs.noise.exists():
            results.append(
                {"scene": job.scene, "noise": str(job.outputs.noise), "status": "skipped"}
            )
            continue
        job.outputs.noise.parent.mkdir(parents=True, exist_ok=True)
        try:
            summary = detect_scene(
                job.scene,
                job.labels,
                predictor,
                job.outputs,
                options,
                overwrite=overwrite,
                on_window=on_window,
            )
        except GeonoiseError as exc:
            if on_error != "skip":
                raise
            logger.error("%s: %s", job.scene, exc)
            results.append({"scene": job.scene, "status": "failed", "error": str(exc)})
            continue
        results.append({**summary, "status": "done"})
    return results
