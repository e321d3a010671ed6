"""Blocks of a noise map read with a halo of context, and the suspect pixels in them.

The raster is read in disjoint blocks of the shared grid
(:func:`geonoise.windows.block_grid`), so memory stays flat in raster size. The
boundary rule looks ``boundary_width`` pixels around each pixel, so a block is
read with a halo of its neighbours' pixels around it; the regions themselves
are cut from the block inside the halo (:attr:`BlockInputs.inner`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from geonoise import io
from geonoise.contracts import IGNORE
from geonoise.windows import Window

if TYPE_CHECKING:
    import rasterio

    from geonoise.vectorize.options import VectorizeOptions


@dataclass
class BlockInputs:
    """The arrays of one block, with a halo of context around it."""

    score: np.ndarray  # halo window
    suspect: np.ndarray  # halo window, bool
    label: np.ndarray | None
    predicted: np.ndarray | None
    inner: tuple[slice, slice]  # the block inside the halo window


def read_block(
    noise: rasterio.io.DatasetReader,
    classes: rasterio.io.DatasetReader | None,
    block: Window,
    halo: int,
    threshold: float,
) -> BlockInputs:
    """Read ``block`` with up to ``halo`` pixels around it (cut at the raster's edge).

    A pixel is suspect where it is valid (not nodata, not NaN) and its score is
    at least ``threshold``. Class pixels outside the class raster are
    :data:`~geonoise.contracts.IGNORE`.
    """
    c0, r0 = max(block.col_off - halo, 0), max(block.row_off - halo, 0)
    c1 = min(block.col_off + block.width + halo, noise.width)
    r1 = min(block.row_off + block.height + halo, noise.height)
    window = Window(c0, r0, c1 - c0, r1 - r0).to_rasterio()
    score = io.read_window(noise, window, indexes=1)
    valid = io.read_valid_mask(noise, window, data=score)
    with np.errstate(invalid="ignore"):
        suspect = valid & (score >= threshold)  # NaN compares False
    label = predicted = None
    if classes is not None:
        label, predicted = io.read_window(classes, window, indexes=[1, 2], fill_value=IGNORE)
    rows = slice(block.row_off - r0, block.row_off - r0 + block.height)
    cols = slice(block.col_off - c0, block.col_off - c0 + block.width)
    return BlockInputs(score, suspect, label, predicted, (rows, cols))


def read_blocks_ahead(
    noise: rasterio.io.DatasetReader,
    classes: rasterio.io.DatasetReader | None,
    grid: list[Window],
    halo: int,
    options: VectorizeOptions,
) -> Iterator[BlockInputs]:
    """The blocks' inputs in order, each read (GDAL, without the GIL) while the last is used.

    At most three blocks are in memory at a time: the one in use, one read, one being read.
    """
    from geonoise.parallel import read_ahead

    reads = (read_block(noise, classes, block, halo, options.threshold) for block in grid)
    return read_ahead(reads, depth=1)


def largest_class(data: BlockInputs) -> int:
    """The largest label or predicted class id in the block (halo aside); -1 where none.

    Over the whole raster it tells a two-class (building) map from one with
    more classes, which decides the kinds.
    """
    largest = -1
    for band in (data.label, data.predicted):
        if band is not None:
            known = band[data.inner]
            known = known[known != IGNORE]
            if known.size:
                largest = max(largest, int(known.max()))
    return largest
