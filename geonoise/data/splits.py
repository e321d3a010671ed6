"""Training and validation splits, and cross-fitting folds, that keep neighbours apart.

Tiles next to each other are alike, and overlapping tiles share pixels, so a
random split of neighbours would let validation leak into training. Splits of
tile directories are therefore spatially blocked: whole square blocks of tiles
go to one side. Plain folders carry no footprints and are split at random.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from geonoise.errors import InvalidInputError

if TYPE_CHECKING:
    import geopandas as gpd

#: Default spatial block edge of :func:`blocked_split`, in tile footprint widths.
BLOCK_TILES = 4


#: Block orders :func:`blocked_split` draws at most, looking for training tiles, and for the
#: split that leaves no class out and the fewest tiles out for overlapping validation.
SPLIT_ATTEMPTS = 32
#: Block orders compared: ``SPLIT_TILE_DRAWS // tiles`` of them, within
#: ``MIN_SPLIT_DRAWS..SPLIT_ATTEMPTS`` (the overlap test of a draw costs about 1 s per 10⁵ tiles).
SPLIT_TILE_DRAWS = 32_000
MIN_SPLIT_DRAWS = 4

#: Validation blocks wanted per unit of the smaller side's share: with the default block
#: size, :func:`blocked_split` halves the blocks until there are at least
#: ``ceil(BLOCKS_PER_SHARE / min(f, 1 − f))`` of them (15 for f = 0.2), so that whole blocks
#: can add up to about ``f`` of the tiles (within about half a block).
BLOCKS_PER_SHARE = 3


@dataclass(frozen=True)
class Split:
    """Training and validation tiles, and the tiles left out because they overlap validation.

    Attributes:
        train: Training tile ids, in index order.
        val: Validation tile ids, in index order.
        dropped: Tiles that share area with validation tiles, in neither set, so that no
            pixel is both trained and validated on.
    """

    train: list[str]
    val: list[str]
    dropped: list[str]

    def describe(self) -> str:
        """One line for the log: the sizes of both sides and what overlap cost."""
        total = len(self.train) + len(self.val) + len(self.dropped)
        text = (
            f"{len(self.val)} of {total} tiles ({len(self.val) / total:.0%}) in spatially "
            f"blocked validation, {len(self.train)} for training"
        )
        if self.dropped:
            text += f", {len(self.dropped)} left out for overlapping validation tiles"
        return text


def blocked_split(
    index: gpd.GeoDataFrame,
    val_fraction: float = 0.2,
    block_size: float | None = None,
    seed: int = 0,
) -> Split:
    """Split tiles into training and validation by square spatial blocks.

    Tiles are grouped by the block of a square grid (in map units of the
    index's CRS) that holds their footprint's centre. The grid is shared by all
    scenes, so scenes that cover the same ground put it in the same block. The
    default block (4 tile widths) is halved until there are enough blocks to
    make up ``val_fraction`` of the tiles. Blocks, in an order drawn from
    ``seed``, go to validation while one brings the validation count closer to
    the target. Other tiles that share area with a validation tile (not merely
    touching it) are left out, so no pixel is both trained and validated on.
    Several block orders are drawn (32 for up to 1000 tiles, fewer above, see
    :data:`SPLIT_TILE_DRAWS`) and the first best is kept: the one that leaves the
    fewest classes of the labels (the index's ``frac_*`` columns) on no training
    tile, then on no validation tile, then the most training tiles. A class that
    only validation holds cannot be learned, one that only training holds cannot
    be measured, and scattered validation blocks of overlapping tiles can leave
    out half the tiles where a better draw leaves out a fifth. (Keeping
    them with their labels inside validation hidden was measured too: it did not
    train better models on real scenes, see benchmarks/training_choices.md.)

    Args:
        index: Tile footprints with a ``tile_id`` column (a ``tiles`` layer).
        val_fraction: Share of tiles wanted for validation, in (0, 1).
        block_size: Block edge in map units; default from 4 tile widths down.
        seed: Seed of the block order.

    Raises:
        InvalidInputError: fewer than 2 tiles, or no split leaves a training tile.
    """
    _check_fraction(val_fraction)
    if len(index) < 2:
        raise InvalidInputError(
            f"{len(index)} tile cannot be split into training and validation; "
            "make more tiles (a smaller --size) or validate on another tile directory"
        )
    footprints = index.geometry.to_numpy()
    wanted = int(np.ceil(BLOCKS_PER_SHARE / min(val_fraction, 1 - val_fraction)))
    blocks = _spatial_blocks(index.geometry.bounds.to_numpy(), block_size, min(wanted, len(index)))
    ids = index["tile_id"].astype(str).to_numpy()
    rng = np.random.default_rng(seed)
    present = _class_presence(index)
    overlapping = _Overlaps(footprints)
    draws = int(np.clip(SPLIT_TILE_DRAWS // len(index), MIN_SPLIT_DRAWS, SPLIT_ATTEMPTS))
    best: tuple[tuple[int, int, int], np.ndarray, np.ndarray, np.ndarray] | None = None
    for attempt in range(SPLIT_ATTEMPTS):
        if attempt >= draws and best is not None:
            break
        val = _pick_validation_blocks(blocks, val_fraction, rng)
        dropped = ~val & overlapping(val)
        train = ~val & ~dropped
        if not train.any():
            continue
        key = (*_classes_missing(present, train, val), -int(train.sum()))
        if best is None or key < best[0]:
            best = (key, train, val, dropped)
    if best is None:
        raise InvalidInputError(
            f"every training tile overlaps a validation tile in all {SPLIT_ATTEMPTS} block "
            "draws; tile with less --overlap or use a smaller --block-size"
        )
    _, train, val, dropped = best
    return Split(ids[train].tolist(), ids[val].tolist(), ids[dropped].tolist())


def _class_presence(index: gpd.GeoDataFrame) -> np.ndarray | None:
    """``(tiles, classes)`` mask of the classes each tile holds, from the ``frac_*`` columns.

    None for an index without them (not written by ``geonoise tile``).
    """
    columns = [c for c in index.columns if str(c).startswith("frac_")]
    if not columns:
        return None
    present = index[columns].fillna(0).to_numpy(np.float64) > 0
    return present[:, present.any(axis=0)]


def _classes_missing(
    present: np.ndarray | None, train: np.ndarray, val: np.ndarray
) -> tuple[int, int]:
    """Classes of the tiles that no training tile holds, and those no validation tile holds."""
    if present is None:
        return 0, 0
    return int((~present[train].any(axis=0)).sum()), int((~present[val].any(axis=0)).sum())


@dataclass(frozen=True)
class Fold:
    """One cross-fitting fold: tiles held out from its model, and the tiles it may train on."""

    held_out: list[str]
    train: list[str]


def spatial_folds(
    index: gpd.GeoDataFrame, folds: int, block_size: float | None = None
) -> list[Fold]:
    """Split tiles into ``folds`` spatially blocked folds for cross-fitting.

    Tiles are grouped into square blocks as in :func:`blocked_split`. The blocks
    are walked in a snake along the longer side of the area and cut into
    ``folds`` contiguous runs with about equal numbers of tiles: stripes, whose
    few borders cost few tiles. Every tile is held out by exactly one fold. A
    fold's model trains on the tiles of the other folds; where they overlap its
    held-out tiles, their labels must be hidden from it
    (:meth:`TileDataset.blind_to` with :func:`holdout_region`), so that no
    pixel a model scores out of sample was in its training data.

    Raises:
        InvalidInputError: fewer blocks than folds, or a fold left with no tile.
    """
    if folds < 2:
        raise InvalidInputError(f"{folds} fold(s): cross-fitting needs at least 2", "--folds")
    cells = _spatial_cells(index.geometry.bounds.to_numpy(), block_size)
    unique, blocks = np.unique(cells, axis=0, return_inverse=True)
    blocks = blocks.reshape(-1)
    if len(unique) < folds:
        raise InvalidInputError(
            f"the tiles fall in {len(unique)} spatial blocks, too few for {folds} folds; "
            "pass fewer --folds or a smaller --block-size",
            "--folds",
        )
    span = unique.max(axis=0) - unique.min(axis=0)
    along, across = (0, 1) if span[0] >= span[1] else (1, 0)
    snake = np.where(unique[:, along] % 2 == 0, unique[:, across], -unique[:, across])
    order = np.lexsort((snake, unique[:, along]))
    counts = np.bincount(blocks)[order]
    middle = np.cumsum(counts) - counts / 2
    fold_of_block = np.empty(len(unique), np.int64)
    fold_of_block[order] = np.minimum(middle * folds // counts.sum(), folds - 1)
    ids = index["tile_id"].astype(str).to_numpy()
    result = []
    for fold in range(folds):
        held = fold_of_block[blocks] == fold
        if not held.any():
            raise InvalidInputError(
                f"fold {fold + 1} of {folds} holds out no tile; pass fewer --folds or a "
                "smaller --block-size",
                "--folds",
            )
        result.append(Fold(ids[held].tolist(), ids[~held].tolist()))
    return result


def holdout_region(index: gpd.GeoDataFrame, tile_ids: Sequence[str]) -> dict[str, str]:
    """The union of some tiles' footprints, as stored in a model's meta (CRS WKT, WKT)."""
    import shapely

    picked = index[index["tile_id"].astype(str).isin(set(tile_ids))]
    region = shapely.union_all(picked.geometry.to_numpy())
    return {"crs": index.crs.to_wkt(), "wkt": shapely.to_wkt(region, rounding_precision=-1)}


def folder_split(
    names: Sequence[str], val_fraction: float = 0.2, seed: int = 0
) -> tuple[list[str], list[str]]:
    """A random train/validation split of file names (for :class:`FolderDataset`).

    Plain folders carry no footprints, so this split cannot be spatial: where
    neighbouring patches are alike, validation scores are optimistic. Use
    :func:`blocked_split` on a tile directory when that matters.

    Returns:
        Training and validation names, both sorted; each side holds at least one.
    """
    _check_fraction(val_fraction)
    unique = sorted(set(names))
    if len(unique) < 2:
        raise InvalidInputError(f"{len(unique)} file cannot be split into training and validation")
    n_val = min(max(round(val_fraction * len(unique)), 1), len(unique) - 1)
    order = np.random.default_rng(seed).permutation(len(unique))
    val = {unique[i] for i in order[:n_val]}
    return [n for n in unique if n not in val], [n for n in unique if n in val]


def _check_fraction(val_fraction: float) -> None:
    if not 0 < val_fraction < 1:
        raise InvalidInputError(f"{val_fraction} is outside (0, 1)", "--val-fraction")


def _spatial_blocks(
    bounds: np.ndarray, block_size: float | None, min_blocks: int = 2
) -> np.ndarray:
    """Block number of each footprint ``(minx, miny, maxx, maxy)`` on a square grid."""
    cells = _spatial_cells(bounds, block_size, min_blocks)
    _, blocks = np.unique(cells, axis=0, return_inverse=True)
    return blocks.reshape(-1)


def _spatial_cells(bounds: np.ndarray, block_size: float | None, min_blocks: int = 2) -> np.ndarray:
    """Grid cell ``(column, row)`` of each footprint's centre on a square grid.

    The default block (4 tile widths) is halved while the tiles fall in fewer than
    ``min_blocks`` blocks (down to a quarter of a tile width), so that small data
    sets still split, and split near the share asked for. A given ``block_size``
    is kept as it is.
    """
    width = float(np.median(bounds[:, 2] - bounds[:, 0]))
    if block_size is not None and not block_size > 0:
        raise InvalidInputError(f"{block_size} is not a positive length", "--block-size")
    size = block_size if block_size is not None else BLOCK_TILES * width
    centres = (bounds[:, :2] + bounds[:, 2:]) / 2
    origin = centres.min(axis=0)
    while True:
        cells = np.floor((centres - origin) / size).astype(np.int64)
        several = (cells != cells[0]).any()
        smallest = block_size is not None or not size > width / 4
        if several and (smallest or len(np.unique(cells, axis=0)) >= min_blocks):
            return cells
        if smallest:
            raise InvalidInputError(
                f"all {len(bounds)} tiles fall in one spatial block of {size:g} map units; "
                "pass a smaller block size",
                "--block-size",
            )
        size /= 2


def _pick_validation_blocks(
    blocks: np.ndarray, val_fraction: float, rng: np.random.Generator
) -> np.ndarray:
    """Boolean mask of the tiles in the blocks drawn for validation (never all blocks).

    Blocks are visited in a random order and taken while one brings the count
    closer to the target; a block larger than that gap is passed over (taking the
    first block unconditionally once put 35 of 50 tiles in validation at 0.2).
    If none was taken, the smallest block is.
    """
    counts = np.bincount(blocks)
    target = val_fraction * len(blocks)
    chosen: list[int] = []
    total = 0
    for block in rng.permutation(len(counts)):
        if total >= target or len(chosen) == len(counts) - 1:
            break
        if abs(total + counts[block] - target) < abs(total - target):
            chosen.append(int(block))
            total += int(counts[block])
    if not chosen:
        smallest = np.flatnonzero(counts == counts.min())
        chosen.append(int(rng.choice(smallest)))
    return np.isin(blocks, chosen)


class _Overlaps:
    """Which footprints share area with the validation footprints of a draw.

    The search tree over all footprints and the area tolerance are made once, for
    every block order :func:`blocked_split` compares.
    """

    def __init__(self, footprints: np.ndarray) -> None:
        import shapely

        self.footprints = footprints
        self.tree = shapely.STRtree(footprints)
        self.tolerance = 1e-9 * float(np.median(shapely.area(footprints)))

    def __call__(self, val: np.ndarray) -> np.ndarray:
        """Mask of the footprints that share area with a footprint where ``val`` is set."""
        import shapely

        out = np.zeros(len(self.footprints), dtype=bool)
        val_shapes = self.footprints[val]
        shapes, others = self.tree.query(val_shapes, predicate="intersects")
        if others.size == 0:
            return out
        shared = shapely.area(shapely.intersection(val_shapes[shapes], self.footprints[others]))
        out[others[shared > self.tolerance]] = True
        return out
