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
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from geonoise import io
from geonoise.contracts import NODATA, SUSPECT_THRESHOLD
from geonoise.data.datasets import PairDataset, Sample, TileDataset
from geonoise.detection.options import DetectOptions
from geonoise.detection.scores import (
    TILE_SCORES,
    TILE_STATISTICS,
    ThresholdAccumulator,
    TileScore,
    check_label_classes,
    confident_learning,
    iou_distance,
    self_confidence,
    tile_statistic,
)
from geonoise.errors import InvalidInputError
from geonoise.models.inference import Predictor, pad_to_multiple
from geonoise.models.modelset import ModelSet, as_model_set

if TYPE_CHECKING:
    import geopandas as gpd
    from affine import Affine
    from pyproj import CRS

    from geonoise.models.checkpoint import ModelMeta

#: Where a tile lies: its ``(transform, crs)``, for cross-fitted models.
Placement = tuple["Affine", "CRS"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RankOptions:
    """How tiles are scored and ranked."""

    tile_score: TileScore = "softmin"
    threshold: float = SUSPECT_THRESHOLD

    def __post_init__(self) -> None:
        if self.tile_score not in TILE_SCORES:
            raise InvalidInputError(
                f"{self.tile_score!r} is not one of {', '.join(TILE_SCORES)}", "--tile-score"
            )


def predict_tile(
    predictor: Predictor | ModelSet,
    image: np.ndarray,
    tta: bool,
    where: Placement | None = None,
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


@dataclass
class RankingResult:
    """What ``detect --tiles`` wrote: the ranking and, for georeferenced tiles, its layer."""

    output: str
    tiles: int
    tile_score: str
    method: str
    ranking: str
    layer: str | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def rank_tiles(
    dataset: PairDataset,
    predictor: Predictor | ModelSet,
    output: str | os.PathLike,
    options: DetectOptions,
    ranking: RankOptions,
    *,
    overwrite: bool = False,
    on_tile: Callable[[], None] | None = None,
) -> RankingResult:
    """Write ``noise/<tile>.tif`` (each with its QGIS style ``noise/<tile>.qml``),
    ``ranking.csv`` and (georeferenced tiles) ``ranking.gpkg``, styled inside."""
    meta = predictor.meta
    if dataset.band_count != meta.bands:
        raise InvalidInputError(
            f"the model takes {meta.bands} bands but the tiles have {dataset.band_count}", "--model"
        )
    _check_tile_names(dataset.tile_ids)
    with io.atomic_output(output, overwrite) as tmp:
        (tmp / "noise").mkdir(parents=True)
        rows = _score_all(dataset, predictor, tmp, options, ranking, on_tile)
        rows.sort(key=lambda r: (np.nan_to_num(r["score"], nan=np.inf), r["imageid"]))
        for rank, row in enumerate(rows):
            row["id"] = rank
        _write_csv(rows, tmp / "ranking.csv")
        georeferenced = isinstance(dataset, TileDataset)
        if georeferenced:
            _write_gpkg(rows, dataset.index, tmp / "ranking.gpkg")
    return RankingResult(
        output=str(output),
        tiles=len(rows),
        tile_score=ranking.tile_score,
        method=options.method,
        ranking=str(Path(output) / "ranking.csv"),
        layer=str(Path(output) / "ranking.gpkg") if georeferenced else None,
    )


def _check_tile_names(tile_ids: Sequence[str]) -> None:
    """Refuse tile ids that cannot name a file in ``noise/``: a crafted index must not write
    outside the output (``../x``) or make two tiles share a file."""
    seen: set[str] = set()
    for tile_id in tile_ids:
        name = str(tile_id)
        if (
            not name
            or name.startswith(".")
            or any(c in name for c in "/\\:\0")
            or any(ord(c) < 32 for c in name)
            or len(name.encode()) > 200
        ):
            raise InvalidInputError(
                f"tile id {name[:80]!r} cannot name a file (no path separators, no leading "
                "dot, no control characters, at most 200 bytes)",
                "TILES",
            )
        if name.lower() in seen:
            raise InvalidInputError(f"tile id {name!r} appears twice in the index", "TILES")
        seen.add(name.lower())


def _score_all(
    dataset: PairDataset,
    predictor: Predictor | ModelSet,
    out_dir: Path,
    options: DetectOptions,
    ranking: RankOptions,
    on_tile: Callable[[], None] | None,
) -> list[dict[str, Any]]:
    """Pixel scores per tile written to ``out_dir/noise``; one ranking row per tile."""
    where = _placements(dataset, predictor)
    thresholds = None
    if options.confident_learning:  # a first pass for the per-class thresholds
        thresholds = _class_thresholds(dataset, predictor, options.tta, where)
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
        rows.append(_ranking_row(sample["tile_id"], scores, ranking.tile_score, path))
        if on_tile is not None:
            on_tile()
    return rows


def _class_thresholds(
    dataset: PairDataset,
    predictor: Predictor | ModelSet,
    tta: bool,
    where: Callable[[int], Placement | None],
) -> np.ndarray:
    accumulator = ThresholdAccumulator(predictor.meta.num_classes)
    for index in range(len(dataset)):
        sample = dataset[index]
        probs = predict_tile(predictor, sample["image"].numpy(), tta, where(index))
        accumulator.update(probs, _labels(sample, predictor.meta))
    return accumulator.thresholds()


def _ranking_row(
    tile_id: str, scores: dict[str, float], tile_score: TileScore, noise: str
) -> dict[str, Any]:
    return {
        "imageid": tile_id,
        "score": scores[tile_score],
        "mean_score": scores["mean"],
        "softmin_score": scores["softmin"],
        "noisy_fraction": scores["fraction"],
        "iou_distance": scores["iou"],
        "labelled_pixels": scores["labelled"],
        "noise": noise,
    }


def _placements(
    dataset: PairDataset, predictor: Predictor | ModelSet
) -> Callable[[int], Placement | None]:
    """Tile index → ``(transform, crs)`` where cross-fitted models need it, else None."""
    if not as_model_set(predictor).cross_fitted:
        return lambda index: None
    if not isinstance(dataset, TileDataset):
        logger.warning(
            "the tiles carry no location, so the cross-fitted models cannot each keep to "
            "their held-out region: every model scores every tile (in sample)"
        )
        return lambda index: None
    return dataset.placement


def _labels(sample: Sample, meta: ModelMeta) -> np.ndarray:
    """A tile's labels as the model's output classes (255 = ignore)."""
    label = sample["mask"].numpy().astype(np.uint8)
    check_label_classes(label, meta, f"tile {sample['tile_id']}")
    return meta.label_lut()[label]


def _write_noise_tile(
    path: Path, noise: np.ndarray, image_path: str, options: DetectOptions
) -> None:
    """A tile's noise map and its style, that of the scene-mode noise map."""
    from rasterio.errors import NotGeoreferencedWarning

    from geonoise.io.styles import raster_style

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
    raster_style(path, "noise_score")


def _write_csv(rows: list[dict[str, Any]], path: Path) -> None:
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


def _write_gpkg(rows: list[dict[str, Any]], index: gpd.GeoDataFrame, path: Path) -> None:
    """The ranked tile footprints, styled by score (:func:`geonoise.io.styles.ranking_qml`)."""
    import geopandas as gpd
    import pandas as pd

    from geonoise.io.styles import ranking_qml

    table = pd.DataFrame(rows).rename(columns={"id": "rank", "imageid": "tile_id"})
    footprints = index[["tile_id", "scene", "image", "label", "geometry"]]
    layer = gpd.GeoDataFrame(footprints.merge(table, on="tile_id"), crs=index.crs)
    style = ranking_qml(layer["score"])
    io.write_vector(layer.sort_values("rank"), path, layer="tiles", style=style)


def rank_tile_dir(
    tiles: str | os.PathLike,
    labels_dir: str | os.PathLike | None,
    models: Sequence[str],
    output: str | os.PathLike,
    options: DetectOptions,
    ranking: RankOptions,
    *,
    device: str = "auto",
    binary_255: bool = False,
    overwrite: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> RankingResult:
    """``detect --tiles``: a tile directory (or image and label folders) scored and ranked.

    ``progress(done, total)`` is told of every tile.
    """
    from geonoise.data.datasets import open_tiles
    from geonoise.models.modelset import open_models

    io.check_output(output, overwrite)
    dataset = open_tiles(tiles, labels_dir, cache=False, binary_255=binary_255)
    predictor = open_models(list(models), device)
    for warning in predictor.warnings:
        logger.warning("%s", warning)
    done = 0

    def on_tile() -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(done, len(dataset))

    return rank_tiles(
        dataset, predictor, output, options, ranking, overwrite=overwrite, on_tile=on_tile
    )
