"""Noise maps of whole scenes: the strips of :mod:`~geonoise.detection.blending` scored and written.

Each finished strip is compared with the labels (read through the same label
sources as ``tile``) and its noise score, classes and, on request,
probabilities are written to scratch rasters; at the end they become the COG
outputs of :mod:`~geonoise.detection.outputs`. Nothing appears at the outputs
unless the whole scene succeeds. Many scenes: :mod:`~geonoise.detection.batch`.
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack, closing
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from geonoise import io
from geonoise.contracts import IGNORE, NODATA
from geonoise.data.labels import LabelSource, open_labels_as
from geonoise.detection.blending import Strip, blended_strips
from geonoise.detection.options import DetectOptions
from geonoise.detection.outputs import SCRATCH_OPTIONS, SceneOutputs, ScratchRasters, publish
from geonoise.detection.scores import (
    ScoreAccumulator,
    ThresholdAccumulator,
    check_label_classes,
    confident_learning,
    label_probability,
    predicted_class,
)
from geonoise.errors import InvalidInputError, NoOverlapError
from geonoise.models.inference import Predictor
from geonoise.models.modelset import ModelSet, as_model_set

if TYPE_CHECKING:
    from rasterio.io import DatasetReader

    from geonoise.models.checkpoint import ModelMeta

logger = logging.getLogger(__name__)

#: GDAL's block cache while scoring a scene, in MiB. Strips are written once and read
#: back once; GDAL's default (5 % of RAM) would keep every block and grow with the scene.
#: The cache fills up to its limit, so the limit is what a larger scene adds (measured in
#: benchmarks/detect.md; the intermediate rasters are uncompressed, cheap to re-read).
GDAL_CACHE_MB = 16

#: Columns of a strip scored and written at a time: the temporaries of scoring
#: (several arrays per class) then take the same memory however wide the scene.
STRIP_CHUNK = 1024


@dataclass
class SceneSummary:
    """What ``detect`` did to one scene: its outputs and what its scores sum up to."""

    scene: str
    labels: str
    noise: str
    classes: str
    probabilities: str | None
    quicklook: str | None
    method: str
    window: int
    overlap: int
    scored_pixels: int
    mean_score: float | None
    noisy_fraction: float | None
    seconds: float
    #: Confident learning's per-class thresholds (that method only).
    class_thresholds: list[float] | None = None
    models: int = 1
    #: Window pixels that no cross-fitted model held out, so scored in sample (model sets).
    in_sample_window_pixels: int | None = None

    def to_dict(self) -> dict[str, Any]:
        optional = ("class_thresholds", "in_sample_window_pixels")
        return {k: v for k, v in asdict(self).items() if k not in optional or v is not None}


@dataclass
class _Scoring:
    """What scoring a scene accumulates: score counts and confident learning's thresholds."""

    scores: ScoreAccumulator
    thresholds: ThresholdAccumulator
    noise_source: Path


def detect_scene(
    scene_path: str,
    labels_path: str,
    predictor: Predictor | ModelSet,
    outputs: SceneOutputs,
    options: DetectOptions,
    *,
    overwrite: bool = False,
    on_window: Callable[[], None] | None = None,
) -> SceneSummary:
    """Write the noise map (and companions) of one scene.

    Nothing appears at ``outputs`` unless the whole scene succeeds; an existing
    output is refused when it would be replaced (unless ``overwrite``).

    Raises:
        InvalidInputError: the model's bands or classes do not fit the scene or labels.
        GeoreferenceError, NoOverlapError, ReadError: as for tiling.
    """
    import rasterio

    started = time.perf_counter()
    models = as_model_set(predictor)
    in_sample_before = models.in_sample_pixels
    with ExitStack() as stack:
        stack.enter_context(rasterio.Env(GDAL_CACHEMAX=GDAL_CACHE_MB * 2**20))
        scene = stack.enter_context(io.open_scene(scene_path))
        size = options.window_for(models, (scene.width, scene.height))
        _check_bands(models.meta, scene, scene_path)
        labels = stack.enter_context(closing(open_labels_as(labels_path, scene, options)))
        scratch = Path(
            stack.enter_context(
                tempfile.TemporaryDirectory(prefix=".geonoise-", dir=outputs.noise.parent)
            )
        )
        scoring = _score_scene(scene, labels, models, size, options, scratch, on_window)
        if not scoring.scores.scored:
            raise NoOverlapError(
                f"nothing to score in {scene_path}: no pixel is both valid in the scene and "
                f"labelled in {labels_path}, or the model gave no finite score"
            )
        publish(outputs, scratch, scoring.noise_source, scene_path, models.meta, options, overwrite)
    summary = _summary(scene_path, labels_path, outputs, options, size, scoring)
    summary.seconds = round(time.perf_counter() - started, 3)
    summary.models = len(models.members)
    if models.cross_fitted:
        summary.in_sample_window_pixels = models.in_sample_pixels - in_sample_before
        if summary.in_sample_window_pixels:
            logger.warning(
                "%s: %d window pixels lie in no model's held-out region and were scored "
                "by all models, in sample",
                scene_path,
                summary.in_sample_window_pixels,
            )
    return summary


def _check_bands(meta: ModelMeta, scene: DatasetReader, scene_path: str) -> None:
    if scene.count != meta.bands:
        raise InvalidInputError(
            f"the model takes {meta.bands} bands but {scene_path} has {scene.count}", "--model"
        )


def _score_scene(
    scene: DatasetReader,
    labels: LabelSource,
    models: ModelSet,
    size: int,
    options: DetectOptions,
    scratch: Path,
    on_window: Callable[[], None] | None,
) -> _Scoring:
    """Score every strip into the scratch rasters (and rescore for confident learning)."""
    from rasterio.windows import Window

    meta = models.meta
    keep_probs = options.probabilities or options.confident_learning
    scoring = _Scoring(
        ScoreAccumulator(), ThresholdAccumulator(meta.num_classes), scratch / "noise.tif"
    )
    rasters = ScratchRasters.create(scratch, scene, meta, keep_probs)
    classes = _ClassCodes(meta.label_lut(), meta.value_lut())
    try:
        for strip in blended_strips(scene, models, size, options, on_window):
            rows = strip.valid.shape[0]
            label = labels.read(Window(0, strip.top, scene.width, rows))
            check_label_classes(label, meta, labels.path, strip.valid)
            _write_strip(rasters, strip, label, classes, scoring)
    finally:
        rasters.close()
    if options.confident_learning:
        thresholds = scoring.thresholds.thresholds()
        scoring.noise_source, scoring.scores = _rescore_confident_learning(
            scene, scratch, thresholds, classes.to_output
        )
    return scoring


@dataclass(frozen=True)
class _ClassCodes:
    """Label values ↔ the model's output classes (see :attr:`ModelMeta.class_values`)."""

    to_output: np.ndarray  # 256 entries: label value → output class, 255 if unknown
    to_value: np.ndarray  # output class → label value


def _write_strip(
    rasters: ScratchRasters,
    strip: Strip,
    label: np.ndarray,
    classes: _ClassCodes,
    scoring: _Scoring,
) -> None:
    """Score a strip against its labels (self-confidence) and write it, chunk by chunk.

    The classes raster holds label values (the given label and the prediction alike);
    scores index the model's outputs by the label's output class.
    """
    from rasterio.windows import Window

    rows, width = strip.weights.shape
    for start in range(0, width, STRIP_CHUNK):
        cols = slice(start, min(start + STRIP_CHUNK, width))
        window = Window(start, strip.top, cols.stop - start, rows)
        sums, usable = strip.sums[:, :, cols], strip.valid[:, cols]
        given = np.where(usable, label[:, cols], IGNORE).astype(np.uint8, copy=False)
        output = classes.to_output[given]
        predicted = np.where(usable, classes.to_value[predicted_class(sums)], IGNORE)
        p_label = label_probability(sums, output, strip.weights[:, cols])
        known = ~np.isnan(p_label)  # a model that gave NaN scores nothing there
        score = np.where(known, 1.0 - p_label, np.float32(NODATA)).astype(np.float32, copy=False)
        scoring.scores.add(score, known)
        scoring.thresholds.add(p_label, output)  # pixels whose label is no class are left out
        rasters.noise.write(score[None], window=window)
        rasters.classes.write(np.stack([given, predicted.astype(np.uint8)]), window=window)
        if rasters.probs is not None:
            probs = strip.probabilities(cols)
            rasters.probs.write(np.where(usable, probs, NODATA).astype(np.float32), window=window)


def _rescore_confident_learning(
    scene: DatasetReader,
    scratch: Path,
    thresholds: np.ndarray,
    to_output: np.ndarray,
    rows: int = 512,
) -> tuple[Path, ScoreAccumulator]:
    """Second pass for confident learning: scores from the stored probabilities.

    ``to_output`` maps the stored label values to the model's output classes.
    """
    from rasterio.windows import Window

    scores = ScoreAccumulator()
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
        creation_options=SCRATCH_OPTIONS,
    )
    with (
        writer,
        io.open_raster(scratch / "probs.tif") as probs_src,
        io.open_raster(scratch / "classes.tif") as classes_src,
    ):
        for top in range(0, scene.height, rows):
            window = Window(0, top, scene.width, min(rows, scene.height - top))
            probs = probs_src.read(window=window)
            label = to_output[classes_src.read(1, window=window)]
            score = confident_learning(probs, label, thresholds)
            scores.add(score)
            writer.write(np.nan_to_num(score, nan=NODATA)[None].astype(np.float32), window=window)
    return target, scores


def _summary(
    scene_path: str,
    labels_path: str,
    outputs: SceneOutputs,
    options: DetectOptions,
    size: int,
    scoring: _Scoring,
) -> SceneSummary:
    scores = scoring.scores
    thresholds = None
    if options.confident_learning:
        thresholds = [float(t) for t in scoring.thresholds.thresholds()]
    return SceneSummary(
        scene=scene_path,
        labels=labels_path,
        noise=str(outputs.noise),
        classes=str(outputs.classes),
        probabilities=str(outputs.probabilities) if outputs.probabilities else None,
        quicklook=str(outputs.quicklook) if outputs.quicklook else None,
        method=options.method,
        window=size,
        overlap=options.overlap_for(size),
        scored_pixels=scores.scored,
        mean_score=scores.mean,
        noisy_fraction=scores.noisy_fraction,
        seconds=0.0,
        class_thresholds=thresholds,
    )
