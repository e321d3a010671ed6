"""Tile mode of ``detect``: a noise map per tile and a ranking from clean to noisy.

The input is a tile directory from ``geonoise tile`` or a pair of image and
label folders (the data-centric land-cover challenge's layout). Every tile is
scored; the ranking orders tiles from least to most noisy, the order the
challenge asks for (``id,imageid``: rank and tile name), with the score beside.

Tile scores (``--tile-score``), higher = noisier:

* ``mean``: mean pixel noise score over the labelled pixels;
* ``softmin``: ``1 −`` the softmin of the pixels' label quality ``1 − score``
  (temperature 0.1, as cleanlab's segmentation ranking): a mean weighted
  towards the worst pixels, so a few confidently wrong pixels count more than
  many uncertain ones along clean edges;
* ``fraction``: share of labelled pixels whose score is at least ``--threshold``
  (as in ``evaluate`` and ``vectorize``);
* ``iou``: ``1 − IoU`` between the predicted and the given label (the seed's
  choice; mean IoU over the classes present in either).
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from geonoise import io
from geonoise.contracts import NODATA
from geonoise.detection.scenes import DetectOptions, check_label_classes
from geonoise.detection.scores import (
    TILE_SCORES,
    TILE_STATISTICS,
    ThresholdAccumulator,
    confident_learning,
    iou_distance,
    self_confidence,
    tile_statistic,
)
from geonoise.errors import InvalidInputError
from geonoise.models.inference import pad_to_multiple
from geonoise.models.modelset import as_model_set

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RankOptions:
    """How tiles are scored and ranked."""

    tile_score: str = "softmin"
    threshold: float = 0.5

    def __post_init__(self) -> None:
        if self.tile_score not in TILE_SCORES:
            raise InvalidInputError(
                f"{self.tile_score!r} is not one of {', '.join(TILE_SCORES)}", "--tile-score"
            )


def predict_tile(
    predictor: Any, image: np.ndarray, tta: bool, where: tuple[Any, Any] | None = None
) -> np.ndarray:
    """Probabilities ``(K, H, W)`` of one tile of any size (padded to the model's multiple).

    Args:
        where: The tile's ``(transform, crs)``, for cross-fitted models (each scores
            only its held-out region); without it every model scores every pixel.
    """
    models = as_model_set(predictor)
    height, width = image.shape[1:]
    padded = pad_to_multiple(image, int(models.multiple))[None].astype(np.float32)
    if where is None:
        probs = models.predict(padded, tta)[0]
    else:
        probs = models.predict_at(padded, [where[0]], where[1], tta)[0]
    return probs[:, :height, :width]


def tile_scores(
    noise: np.ndarray, probs: np.ndarray, label: np.ndarray, threshold: float
) -> dict[str, float]:
    """Every tile score (see the module doc) of one tile; NaN-free where pixels are labelled."""
    scored = noise[~np.isnan(noise)]
    if not scored.size:
        nan = float("nan")
        return {"mean": nan, "softmin": nan, "fraction": nan, "iou": nan, "labelled": 0}
    scores = {kind: tile_statistic(scored, kind, threshold) for kind in TILE_STATISTICS}
    return {**scores, "iou": iou_distance(probs.argmax(0), label), "labelled": int(scored.size)}


def rank_tiles(
    dataset: Any,
    predictor: Any,
    output: str | os.PathLike,
    options: DetectOptions,
    ranking: RankOptions,
    *,
    overwrite: bool = False,
    on_tile: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """Write ``noise/<tile>.tif``, ``ranking.csv`` and (georeferenced tiles) ``ranking.gpkg``."""
    meta = predictor.meta
    if dataset.band_count != meta.bands:
        raise InvalidInputError(
            f"the model takes {meta.bands} bands but the tiles have {dataset.band_count}", "--model"
        )
    with io.atomic_output(output, overwrite) as tmp:
        (tmp / "noise").mkdir(parents=True)
        rows = _score_all(dataset, predictor, tmp, options, ranking, on_tile)
        rows.sort(key=lambda r: (np.nan_to_num(r["score"], nan=np.inf), r["imageid"]))
        for rank, row in enumerate(rows):
            row["id"] = rank
        _write_csv(rows, tmp / "ranking.csv")
        georeferenced = getattr(dataset, "index", None) is not None
        if georeferenced:
            _write_gpkg(rows, dataset.index, tmp / "ranking.gpkg")
    return {
        "output": str(output),
        "tiles": len(rows),
        "tile_score": ranking.tile_score,
        "method": options.method,
        "ranking": str(Path(output) / "ranking.csv"),
        "layer": str(Path(output) / "ranking.gpkg") if georeferenced else None,
    }


def _score_all(
    dataset: Any,
    predictor: Any,
    out_dir: Path,
    options: DetectOptions,
    ranking: RankOptions,
    on_tile: Callable[[], None] | None,
) -> list[dict]:
    """Pixel scores per tile (two passes for confident learning: thresholds first)."""
    thresholds = None
    where = _placements(dataset, predictor)
    if options.method == "confident-learning":
        accumulator = ThresholdAccumulator(predictor.meta.num_classes)
        for index in range(len(dataset)):
            sample = dataset[index]
            probs = predict_tile(predictor, sample["image"].numpy(), options.tta, where(index))
            accumulator.update(probs, _labels(sample, predictor.meta))
        thresholds = accumulator.thresholds()
    rows = []
    for index in range(len(dataset)):
        sample = dataset[index]
        label = _labels(sample, predictor.meta)
        probs = predict_tile(predictor, sample["image"].numpy(), options.tta, where(index))
        noise = (
            self_confidence(probs, label)
            if thresholds is None
            else confident_learning(probs, label, thresholds)
        )
        path = f"noise/{sample['tile_id']}.tif"
        _write_noise_tile(out_dir / path, noise, dataset.pairs[index][1], options)
        scores = tile_scores(noise, probs, label, ranking.threshold)
        rows.append(
            {
                "imageid": sample["tile_id"],
                "score": scores[ranking.tile_score],
                "mean_score": scores["mean"],
                "softmin_score": scores["softmin"],
                "noisy_fraction": scores["fraction"],
                "iou_distance": scores["iou"],
                "labelled_pixels": scores["labelled"],
                "noise": path,
            }
        )
        if on_tile is not None:
            on_tile()
    return rows


def _placements(dataset: Any, predictor: Any) -> Callable[[int], tuple[Any, Any] | None]:
    """Tile index → ``(transform, crs)`` where cross-fitted models need it, else None."""
    if not as_model_set(predictor).cross_fitted:
        return lambda index: None
    if getattr(dataset, "index", None) is None:
        logger.warning(
            "the tiles carry no location, so the cross-fitted models cannot each keep to "
            "their held-out region: every model scores every tile (in sample)"
        )
        return lambda index: None
    return dataset.placement


def _labels(sample: dict[str, Any], meta: Any) -> np.ndarray:
    label = sample["mask"].numpy().astype(np.uint8)
    check_label_classes(label, meta, f"tile {sample['tile_id']}")
    return label


def _write_noise_tile(
    path: Path, noise: np.ndarray, image_path: str, options: DetectOptions
) -> None:
    from rasterio.errors import NotGeoreferencedWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with io.open_raster(image_path) as src:
            crs, transform = src.crs, src.transform
        io.write_raster(
            path,
            np.where(np.isnan(noise), NODATA, noise).astype(np.float32),
            crs=crs,
            transform=transform,
            nodata=NODATA,
            creation_options=options.creation_options,
            descriptions=["noise_score"],
        )


def _write_csv(rows: list[dict], path: Path) -> None:
    columns = [
        "id",
        "imageid",
        "score",
        "mean_score",
        "softmin_score",
        "noisy_fraction",
        "iou_distance",
        "labelled_pixels",
        "noise",
    ]
    io.write_csv(path, rows, columns)


def _write_gpkg(rows: list[dict], index: Any, path: Path) -> None:
    import geopandas as gpd
    import pandas as pd

    table = pd.DataFrame(rows).rename(columns={"id": "rank", "imageid": "tile_id"})
    footprints = index[["tile_id", "scene", "image", "label", "geometry"]]
    layer = gpd.GeoDataFrame(footprints.merge(table, on="tile_id"), crs=index.crs)
    io.write_vector(layer.sort_values("rank"), path, layer="tiles")
