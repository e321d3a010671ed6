"""Many scenes in one ``detect`` call: planned, checked, sharded, scored one after another.

Every scene's outputs are checked before any work; a failing scene stops the
batch or, with ``on_error="skip"``, is reported and the batch goes on. Under
``torchrun`` each process takes every WORLD_SIZE-th scene.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from geonoise import io
from geonoise.data.labels import pair_labels
from geonoise.detection.blending import MODEL_LANES, count_windows
from geonoise.detection.options import DetectOptions
from geonoise.detection.outputs import SceneOutputs
from geonoise.detection.scenes import SceneSummary, detect_scene
from geonoise.errors import GeonoiseError, InvalidInputError
from geonoise.models.inference import Predictor
from geonoise.models.modelset import ModelSet, as_model_set, open_models

logger = logging.getLogger(__name__)

SceneStatus = Literal["done", "skipped", "failed"]


OnError = Literal["fail", "skip"]


def scene_models(paths: Sequence[str], device: str, options: DetectOptions) -> ModelSet:
    """The models of ``paths`` opened for scene mode.

    Scene mode blends and writes beside the model (:func:`blended_strips`).
    Without TTA that work is large beside the model, and ONNX Runtime's threads
    must not busy-wait on the cores it needs; with TTA the model does eight
    times the work and spinning pays (both measured in benchmarks/detect.md).
    ONNX models on the CPU also run :data:`MODEL_LANES` batches side by side.
    """
    return open_models(list(paths), device, spin=options.tta, lanes=MODEL_LANES)


@dataclass
class SceneResult:
    """One scene of a batch: done (with its summary), skipped or failed (with the error)."""

    scene: str
    status: SceneStatus
    noise: str | None = None
    summary: SceneSummary | None = None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        match self.status:
            case "done":
                assert self.summary is not None
                return {**self.summary.to_dict(), "status": "done"}
            case "skipped":
                return {"scene": self.scene, "noise": self.noise, "status": "skipped"}
        return {"scene": self.scene, "status": "failed", "error": self.error}


@dataclass(frozen=True)
class SceneJob:
    """One scene to score: its file, its labels and where its outputs go."""

    scene: str
    labels: str
    outputs: SceneOutputs


def plan_scenes(
    scenes: Sequence[str],
    labels: Sequence[str],
    output: str | os.PathLike,
    options: DetectOptions,
) -> list[SceneJob]:
    """Pair scenes with labels and outputs.

    ``output`` is the noise map itself when one scene is given and it ends in
    ``.tif``; otherwise a directory that receives ``<scene>.noise.tif`` per scene.
    """
    if not labels:
        raise InvalidInputError("detect compares the model with labels: give --labels", "--labels")
    output = Path(output)
    single = len(scenes) == 1 and output.suffix.lower() in (".tif", ".tiff")
    names = io.unique_stems(scenes)
    jobs = []
    for name, scene, label in zip(names, scenes, pair_labels(scenes, labels), strict=True):
        noise = output if single else output / f"{name}.noise.tif"
        jobs.append(SceneJob(scene, str(label), SceneOutputs.beside(noise, options)))
    return jobs


def shard(jobs: list[SceneJob], rank: int, world_size: int) -> list[SceneJob]:
    """This process's share of the scenes when several run (e.g. under torchrun)."""
    return jobs[rank::world_size]


def total_windows(
    jobs: Sequence[SceneJob],
    models: Predictor | ModelSet,
    options: DetectOptions,
    skip_unreadable: bool = False,
) -> int:
    """Windows of all scenes, for a progress bar: a look at each scene's header before any work.

    A scene that cannot be opened fails here, before any work, unless
    ``skip_unreadable`` (it then counts 0 and fails in its turn).
    """
    total = 0
    for job in jobs:
        try:
            with io.open_scene(job.scene) as scene:
                size = options.window_for(as_model_set(models), (scene.width, scene.height))
                total += count_windows(scene, size, options.overlap_for(size))
        except GeonoiseError:
            if not skip_unreadable:
                raise
    return total


def check_jobs(jobs: Sequence[SceneJob], overwrite: bool, skip_existing: bool) -> None:
    """Refuse, before any work, a job's output that exists (unless ``overwrite``).

    With ``skip_existing``, a job whose noise map exists will be skipped, so
    its outputs are not checked.
    """
    for job in jobs:
        if not (skip_existing and job.outputs.noise.exists()):
            job.outputs.check(overwrite)


def detect_scenes(
    jobs: list[SceneJob],
    predictor: Predictor | ModelSet,
    options: DetectOptions,
    *,
    overwrite: bool = False,
    skip_existing: bool = False,
    on_error: OnError = "fail",
    on_window: Callable[[], None] | None = None,
) -> list[SceneResult]:
    """Score every job; ``on_error="skip"`` records a failing scene and goes on.

    With ``skip_existing`` a scene whose noise map exists is skipped. Check the
    outputs first (:func:`check_jobs`): otherwise an existing one is refused
    only when the scene's outputs are moved into place, after its work.
    """
    results = []
    for job in jobs:
        if skip_existing and job.outputs.noise.exists():
            results.append(SceneResult(job.scene, "skipped", noise=str(job.outputs.noise)))
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
            results.append(SceneResult(job.scene, "failed", error=str(exc)))
            continue
        results.append(SceneResult(job.scene, "done", str(job.outputs.noise), summary))
    return results


@dataclass
class BatchResult:
    """The scenes of one ``detect`` call (this process's share of them under torchrun)."""

    rank: int
    world_size: int
    scenes: list[SceneResult]

    @property
    def failed(self) -> list[SceneResult]:
        return [r for r in self.scenes if r.status == "failed"]

    def to_dict(self) -> dict[str, Any]:
        return {
            "rank": self.rank,
            "world_size": self.world_size,
            "scenes": [r.to_dict() for r in self.scenes],
        }


def detect_batch(
    scenes: Sequence[str],
    labels: Sequence[str],
    models: Sequence[str],
    output: str | os.PathLike,
    options: DetectOptions,
    *,
    device: str = "auto",
    overwrite: bool = False,
    skip_existing: bool = False,
    on_error: OnError = "fail",
    progress: Callable[[int, int], None] | None = None,
) -> BatchResult:
    """``detect`` in scene mode: this process's share of ``scenes`` scored by the model files.

    Under ``torchrun`` (``RANK``/``WORLD_SIZE`` set) each process takes every
    WORLD_SIZE-th scene. ``progress(done, total)`` is told of every window.
    """
    rank, world = int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))
    predictor = scene_models(models, device, options)
    for warning in predictor.warnings:
        logger.warning("%s", warning)
    jobs = shard(plan_scenes(scenes, labels, output, options), rank, world)
    check_jobs(jobs, overwrite, skip_existing)
    total = total_windows(jobs, predictor, options, skip_unreadable=on_error == "skip")
    done = 0

    def on_window() -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(done, total)

    results = detect_scenes(
        jobs,
        predictor,
        options,
        overwrite=overwrite,
        skip_existing=skip_existing,
        on_error=on_error,
        on_window=on_window,
    )
    return BatchResult(rank, world, results)
