"""The labels of a Noisy Student round: the tiles, cleaned by the previous round's model.

Noisy Student training (Xie et al. 2020) iterates: round k's student is round
k+1's teacher. From round 2 the previous round's model also scores the tiles'
labels (self-confidence, ``1 − p(label)``, as ``detect`` scores them); a label
scored at least ``round_threshold`` is confidently wrong and is either not
trained on (``ignore``: read as 255) or replaced by the model's prediction
(``relabel``).

A round trains on a tile directory of its own, ``<name>.round<k>.tiles/``: its
``tiles.gpkg`` points at the original images (nothing is copied) and its
``labels/`` hold the rewritten labels, so the labels a round learned from open
in QGIS beside the originals.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from geonoise import io
from geonoise.contracts import IGNORE
from geonoise.data.tiledir import INDEX_LAYER, INDEX_NAME
from geonoise.errors import InvalidInputError
from geonoise.io.styles import tiles_qml
from geonoise.models.inference import label_probability
from geonoise.training.config import RoundMode

if TYPE_CHECKING:
    import geopandas as gpd

    from geonoise.data.datasets import Sample, TileDataset
    from geonoise.models.inference import Predictor


def round_paths(output: str | os.PathLike, rounds: int) -> list[Path]:
    """The model files of ``rounds`` rounds named after ``output``.

    ``student.ckpt`` → ``student.round1.ckpt`` … ``student.round<N>.ckpt``.
    """
    output = Path(output)
    return [
        output.with_name(f"{output.stem}.round{k}{output.suffix}") for k in range(1, rounds + 1)
    ]


def round_tiles_path(model: str | os.PathLike) -> Path:
    """The tile directory a round trains on: ``student.round2.ckpt`` → ``student.round2.tiles/``."""
    model = Path(model)
    return model.with_name(f"{model.stem}.tiles")


def rewrite_labels(
    labels: np.ndarray,
    probs: np.ndarray,
    class_values: list[int],
    threshold: float,
    mode: RoundMode,
) -> np.ndarray:
    """The labels a round trains on: confidently wrong ones ignored or relabelled.

    Args:
        labels: Label values ``(H, W)`` uint8, 255 = ignore.
        probs: The previous round's class probabilities ``(K, H, W)``.
        class_values: The label value of each of the model's classes, in output order.
        threshold: A label whose noise score ``1 − p(label)`` is at least this is changed.
        mode: ``ignore`` (the label becomes 255) or ``relabel`` (the predicted class's value).

    Returns:
        New labels; ignored pixels and values the model does not know are kept.
    """
    lut = np.full(256, IGNORE, np.intp)
    lut[class_values] = np.arange(len(class_values))
    classes = lut[labels]
    wrong = 1.0 - label_probability(probs, classes) >= threshold  # NaN (not known): False
    match mode:
        case "ignore":
            replacement = np.full_like(labels, IGNORE)
        case "relabel":
            replacement = np.asarray(class_values, np.uint8)[probs.argmax(axis=0)]
        case _:
            raise InvalidInputError(f"{mode!r} is not ignore or relabel", option="--round-mode")
    return np.where(wrong, replacement, labels).astype(np.uint8)


def write_round_tiles(
    dataset: TileDataset,
    predictor: Predictor,
    output: str | os.PathLike,
    threshold: float,
    mode: RoundMode,
    *,
    overwrite: bool = False,
) -> float:
    """Write the tile directory of a round: ``dataset``'s labels rewritten by ``predictor``.

    Returns:
        The share of the labelled pixels whose label was rewritten.
    """
    index = dataset.index.copy()
    labelled = changed = 0
    with io.atomic_output(output, overwrite=overwrite) as tmp:
        (tmp / "labels").mkdir(parents=True)
        for i, tile_id in enumerate(dataset.tile_ids):
            label, new = round_labels(predictor, dataset[i], threshold, mode)
            labelled += int(np.count_nonzero(label != IGNORE))
            changed += int(np.count_nonzero(new != label))
            index.loc[i, "label"] = f"labels/{_file_name(tile_id)}.tif"
            transform, crs = dataset.placement(i)
            io.write_raster(
                tmp / index.loc[i, "label"],
                new,
                crs=crs,
                transform=transform,
                nodata=IGNORE,
                descriptions=["class id"],
            )
            _set_fractions(index, i, new)
        index = _pointing_at(index, dataset.root, Path(output))
        io.write_vector(index, tmp / INDEX_NAME, layer=INDEX_LAYER, style=tiles_qml())
    return changed / labelled if labelled else 0.0


def round_labels(
    predictor: Predictor, sample: Sample, threshold: float, mode: RoundMode
) -> tuple[np.ndarray, np.ndarray]:
    """A tile's given labels and those the next round trains on.

    The tile is scored whole (padded to the model's multiple), its eight D4 views
    averaged as ``detect`` does by default.
    """
    from geonoise.models.inference import pad_to_multiple, predict_windows

    image, label = sample["image"].numpy(), sample["mask"].numpy().astype(np.uint8)
    padded = pad_to_multiple(image, predictor.multiple)[None]
    height, width = label.shape
    probs = predict_windows(predictor, padded, tta=True)[0, :, :height, :width]
    return label, rewrite_labels(label, probs, predictor.meta.values, threshold, mode)


def _file_name(tile_id: str) -> str:
    """A tile id as a file name; one that is not a plain name cannot be one."""
    name = str(tile_id)
    if not name or name.startswith(".") or Path(name).name != name or "\\" in name:
        raise InvalidInputError(f"tile id {name[:80]!r} cannot name a label file", "TILES")
    return name


def _set_fractions(index: gpd.GeoDataFrame, row: int, label: np.ndarray) -> None:
    """The index's ``frac_<k>`` columns of a tile: shares of its labelled pixels."""
    counts = np.bincount(label.ravel(), minlength=256)
    labelled = counts.sum() - counts[IGNORE]
    for column in [c for c in index.columns if c.startswith("frac_")]:
        value = int(column.removeprefix("frac_"))
        index.loc[row, column] = counts[value] / labelled if labelled else 0.0


def _pointing_at(index: gpd.GeoDataFrame, source: Path, target: Path) -> gpd.GeoDataFrame:
    """``index`` with its image and scene paths, relative to ``source``, made relative to
    ``target``: a derived tile directory reads the images where they are."""
    index = index.copy()
    for column in ("image", "scene"):
        index[column] = [
            Path(
                os.path.relpath(os.path.abspath(source / path), os.path.abspath(target))
            ).as_posix()
            for path in index[column].astype(str)
        ]
    return index
