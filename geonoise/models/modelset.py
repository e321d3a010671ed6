"""Several models scoring one scene: cross-fitted folds and plain ensembles.

A noise score is honest only where the model never saw the label it judges:
scores of pixels a model was trained on lean towards the (noisy) label.
``train-student --folds K`` trains K models on spatial folds; each carries the
region whose labels it never saw (``meta.holdout``, the footprints of the tiles
its fold held out). A :class:`ModelSet` combines models pixel by pixel:

* a model with a held-out region scores only the pixels inside it;
* a model without one (a teacher, a plain student) scores every pixel;
* each pixel gets the mean probabilities of the models allowed there, so
  cross-fitted folds give out-of-sample scores, and models without regions
  form a plain ensemble;
* a pixel that no model is allowed to score (outside every held-out region,
  with no model without one, e.g. parts of a scene that were not tiled) gets
  the mean of all models; these pixels are counted, as they are scored
  in sample.
"""

from __future__ import annotations

import functools
import math
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from geonoise.errors import InvalidInputError
from geonoise.models.inference import Predictor, predict_windows

if TYPE_CHECKING:
    from affine import Affine
    from pyproj import CRS
    from shapely.geometry.base import BaseGeometry

    from geonoise.models.checkpoint import ModelMeta


@dataclass
class Member:
    """One model of a set and the region it may score (None: everywhere)."""

    predictor: Predictor
    name: str
    holdout: BaseGeometry | None = None  # in ``holdout_crs``
    holdout_crs: CRS | None = None
    _regions: dict[str, Any] = field(default_factory=dict, repr=False)

    def region_in(self, crs: CRS) -> BaseGeometry:
        """The held-out region in ``crs`` (cached per CRS)."""
        key = crs.to_wkt() if hasattr(crs, "to_wkt") else str(crs)
        if key not in self._regions:
            import geopandas as gpd

            series = gpd.GeoSeries([self.holdout], crs=self.holdout_crs)
            self._regions[key] = series.to_crs(crs).iloc[0]
        return self._regions[key]

    def allowed(self, transform: Affine, shape: tuple[int, int], crs: CRS) -> np.ndarray:
        """Boolean mask of the pixels of a window (``transform``, ``shape``) it may score."""
        if self.holdout is None:
            return np.ones(shape, bool)
        from rasterio.features import geometry_mask

        return geometry_mask([self.region_in(crs)], shape, transform, invert=True)


class ModelSet:
    """Models that score together, each only where it may (see the module doc).

    It offers the :class:`~geonoise.models.inference.Predictor` interface (``meta``,
    ``multiple``, ``predict``) for callers without a georeference, where every
    model scores every pixel, and :meth:`predict_at` for georeferenced windows.

    ``lanes``: how many :meth:`predict_at` calls may usefully run at once, from
    as many threads (see :func:`open_models`); 1 for most sets.
    """

    def __init__(self, members: list[Member], lanes: int = 1) -> None:
        if not members:
            raise InvalidInputError("no model given", "--model")
        first = members[0].predictor.meta
        for member in members[1:]:
            meta = member.predictor.meta
            if (meta.bands, meta.class_names, meta.values) != (
                first.bands,
                first.class_names,
                first.values,
            ):
                raise InvalidInputError(
                    f"{member.name} takes {meta.bands} bands and classes "
                    f"{', '.join(meta.class_names)}; {members[0].name} takes {first.bands} and "
                    f"{', '.join(first.class_names)}: models of one set must agree",
                    "--model",
                )
        self.members = members
        self.lanes = max(1, int(lanes))
        #: Pixels of the windows scored so far that no model could score out of sample.
        self.in_sample_pixels = 0
        self._count_lock = threading.Lock()

    @property
    def meta(self) -> ModelMeta:
        return self.members[0].predictor.meta

    @property
    def multiple(self) -> int:
        return functools.reduce(math.lcm, (int(m.predictor.multiple) for m in self.members))

    @property
    def warnings(self) -> list[str]:
        """One sentence per model whose training found classes it did not learn."""
        return [
            f"{m.name} learned nothing of {', '.join(m.predictor.meta.unlearned)} in training "
            "(validation IoU near zero): where it scores, the noise map shows that class's "
            "prior, not label noise"
            for m in self.members
            if m.predictor.meta.unlearned
        ]

    @property
    def cross_fitted(self) -> bool:
        return any(m.holdout is not None for m in self.members)

    def predict(self, image: np.ndarray, tta: bool = False) -> np.ndarray:
        """Mean probabilities of all models (no georeference: no held-out regions apply)."""
        total = predict_windows(self.members[0].predictor, image, tta)
        for member in self.members[1:]:
            total = total + predict_windows(member.predictor, image, tta)
        return total / len(self.members)

    def predict_at(
        self, images: np.ndarray, transforms: list[Affine], crs: CRS, tta: bool = False
    ) -> np.ndarray:
        """Probabilities ``(N, K, H, W)`` of georeferenced windows, model by model per pixel.

        Args:
            images: Raw pixels ``(N, bands, H, W)``.
            transforms: The affine transform of each window.
            crs: The windows' CRS.
            tta: Average the eight D4 transforms of each window (per model).
        """
        if len(self.members) == 1 and self.members[0].holdout is None:
            return predict_windows(self.members[0].predictor, images, tta)
        shape = images.shape[2:]
        masks = np.stack(
            [np.stack([m.allowed(t, shape, crs) for t in transforms]) for m in self.members]
        )  # (models, N, H, W)
        orphans = ~masks.any(axis=0)
        if orphans.any():
            masks[:, orphans] = True
            with self._count_lock:  # lanes may score windows at once
                self.in_sample_pixels += int(orphans.sum())
        total = np.zeros((len(images), self.meta.num_classes, *shape), np.float32)
        for member, mask in zip(self.members, masks, strict=True):
            needed = mask.reshape(len(images), -1).any(axis=1)
            if needed.any():
                probs = predict_windows(member.predictor, images[needed], tta)
                total[needed] += probs * mask[needed][:, None]
        return total / masks.sum(axis=0)[:, None]


def holdout_of(meta: ModelMeta) -> tuple[BaseGeometry | None, CRS | None]:
    """The held-out region of a model's meta as (shapely geometry, pyproj CRS), or Nones."""
    if not meta.holdout:
        return None, None
    import shapely
    from pyproj import CRS

    return shapely.from_wkt(meta.holdout["wkt"]), CRS.from_wkt(meta.holdout["crs"])


def model_set(
    predictors: list[Predictor], names: list[str] | None = None, lanes: int = 1
) -> ModelSet:
    """A :class:`ModelSet` of predictors, each keeping to its meta's held-out region."""
    names = names or [f"model {i + 1}" for i in range(len(predictors))]
    members = []
    for predictor, name in zip(predictors, names, strict=True):
        region, crs = holdout_of(predictor.meta)
        members.append(Member(predictor, name, region, crs))
    return ModelSet(members, lanes)


def open_models(
    paths: list[str], device: str = "auto", *, spin: bool = True, lanes: int = 1
) -> ModelSet:
    """A :class:`ModelSet` of model files (checkpoints or ONNX, mixed as needed).

    Args:
        spin: Let ONNX Runtime's idle threads busy-wait (see
            :class:`geonoise.models.inference.OnnxPredictor`); off where the caller works
            beside the model.
        lanes: Batches the caller would run at once. Only ONNX models on the CPU
            take them: the set then runs ``lanes`` batches side by side on each
            model's one session (concurrent runs are safe in ONNX Runtime), whose
            thread pool gets ``CPUs - lanes + 1`` threads, so that the pool's
            workers and the calling threads together match the CPUs (on 2 CPUs:
            one thread per run). Otherwise the set has one lane.
    """
    from geonoise.models.inference import onnx_providers, open_predictor
    from geonoise.parallel import available_cpus

    on_cpu_onnx = all(Path(p).suffix.lower() == ".onnx" for p in paths) and onnx_providers(
        device
    ) == ["CPUExecutionProvider"]
    lanes = max(1, min(lanes, available_cpus())) if on_cpu_onnx else 1
    threads = available_cpus() - lanes + 1 if lanes > 1 else None
    predictors = [
        open_predictor(path, device, spin=spin, threads=threads)  # type: ignore[arg-type]
        for path in paths
    ]
    return model_set(predictors, [str(path) for path in paths], lanes)


def as_model_set(predictor: Predictor | ModelSet) -> ModelSet:
    """``predictor`` itself if it is a set, else a set of that one model."""
    if isinstance(predictor, ModelSet):
        return predictor
    return model_set([predictor])
