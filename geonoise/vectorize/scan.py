"""The block pass: every block of a noise map labelled, its inner regions finished, the rest merged.

The raster is read in disjoint blocks (:mod:`geonoise.vectorize.blocks`), each
labelled into regions (:mod:`geonoise.vectorize.labelling`). A region that
touches no block edge is final as soon as its block is scanned, so the
process that scanned the block also finishes it
(:func:`geonoise.vectorize.finishing.finish`); regions that touch a block edge
(the raster's border included) wait, and are merged across the seams
(:mod:`geonoise.vectorize.merge`) one row of blocks at a time: those that the
row closes off are finished and handed on then, so the pass yields its
regions in batches, as they become final, and holds only the pieces of
regions still open across a row boundary. When holes are to be filled every
region waits for the end, since a filled hole joins the regions inside it to
its owner.

With ``--jobs`` above 1 the blocks are scanned by forked worker processes
(:func:`geonoise.parallel.ordered_map`), each opening the rasters itself; the
functions sent to them are module-level, and what they get and give back is
plain, picklable values.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from geonoise import io
from geonoise.parallel import ordered_map
from geonoise.vectorize.blocks import BlockInputs, largest_class, read_block, read_blocks_ahead
from geonoise.vectorize.finishing import AreaRule, Finishing, finish
from geonoise.vectorize.geometry import fill_holes, to_map
from geonoise.vectorize.labelling import label_block
from geonoise.vectorize.merge import Edges, Frontier
from geonoise.vectorize.options import DEFAULT_OPTIONS, VectorizeOptions
from geonoise.vectorize.regions import Regions
from geonoise.windows import Window, block_grid

if TYPE_CHECKING:
    import rasterio


@dataclass
class Tally:
    """What the block pass counted, filled in as it goes (complete once it has ended).

    Attributes:
        found: Regions found, before any was dropped as too small (after hole filling).
        kept: Regions handed on (finished, not dropped).
        largest_class: The largest class id in the map (-1: none).
        held: The most region pieces held at once for regions still open across a
            row of blocks (what memory follows).
    """

    found: int = 0
    kept: int = 0
    largest_class: int = -1
    held: int = 0


class ScannedBlock(NamedTuple):
    """What scanning one block gives (in a worker process, sent back to this one).

    Attributes:
        finished: Its regions that touch no block edge, finished (map coordinates).
        waiting: Its regions on a block edge, in pixel coordinates, to be merged.
        edges: The ids of the waiting regions along its edges (1-based, 0: none).
        count: How many regions it has (finished and waiting, before any was dropped).
        largest_class: The largest class id it holds (-1: none).
    """

    finished: Regions
    waiting: Regions
    edges: Edges
    count: int
    largest_class: int


def scan(
    noise: rasterio.io.DatasetReader,
    classes: rasterio.io.DatasetReader | None = None,
    options: VectorizeOptions = DEFAULT_OPTIONS,
    on_window: Callable[[Window], None] | None = None,
    tally: Tally | None = None,
) -> Iterator[Regions]:
    """The finished suspect regions of a whole noise map, in batches as they become final.

    Regions that lie inside one block are finished by the process that scanned
    the block (in parallel with ``--jobs``) and come out with it; the others
    once the row of blocks that closes them off is merged
    (:class:`~geonoise.vectorize.merge.Frontier`). With hole filling every
    region waits for the end: a filled hole joins the regions inside it to its
    owner, which needs them all. ``tally`` receives the counts.
    """
    tally = Tally() if tally is None else tally
    halo = options.boundary_width + 1 if classes is not None else 0
    finishing = Finishing(noise.transform, AreaRule.of(noise.crs), options)
    frontier = Frontier()
    unfilled: list[Regions] = []  # closed regions waiting for hole filling
    grid = block_grid(noise.width, noise.height, options.window_size)
    scanned = _scanned_blocks(noise, classes, grid, halo, finishing)
    for index, (block, result) in enumerate(zip(grid, scanned, strict=True)):
        tally.largest_class = max(tally.largest_class, result.largest_class)
        tally.found += result.count - len(result.waiting)
        frontier.add(block, result.waiting, result.edges)
        yield from _kept(result.finished, tally)
        if on_window is not None:
            on_window(block)
        last = index == len(grid) - 1
        if last or grid[index + 1].row_off != block.row_off:
            closed = to_map(frontier.close_row(last), noise.transform)
            tally.found += len(closed)
            tally.held = max(tally.held, frontier.held)
            if options.fill_holes > 0:
                unfilled.append(closed)
            else:
                yield from _kept(finish(closed, finishing), tally)
    if unfilled:
        closed = Regions.concat(unfilled)
        filled = fill_holes(closed, options.fill_holes)
        tally.found -= len(closed) - len(filled)
        yield from _kept(finish(filled, finishing), tally)


def _kept(regions: Regions, tally: Tally) -> Iterator[Regions]:
    """The finished ``regions`` as one batch, counted; nothing where there are none."""
    if len(regions):
        tally.kept += len(regions)
        yield regions


def scan_block(data: BlockInputs, block: Window, finishing: Finishing) -> ScannedBlock:
    """A block's regions: the finished ones, those on its edges (pixel coordinates) with
    their ids along the edges, how many regions it has, and the largest class id it holds."""
    regions, labelled = label_block(data, block, finishing.options.boundary_width)
    edges = Edges.of(labelled)
    on_edge = np.zeros(len(regions) + 1, dtype=bool)
    for edge in (edges.top, edges.bottom, edges.left, edges.right):
        on_edge[edge] = True
    on_edge = on_edge[1:]
    if finishing.options.fill_holes > 0:
        on_edge[:] = True  # filling holes joins regions: all are finished together
    inner = np.flatnonzero(~on_edge)
    finished = finish(to_map(regions.take(inner), finishing.transform), finishing)
    waiting = regions.take(np.flatnonzero(on_edge))
    # Edge ids renumbered to the waiting regions (1-based, 0: none).
    renumber = np.zeros(len(regions) + 1, dtype=np.int64)
    renumber[1:][on_edge] = np.arange(1, len(waiting) + 1)
    edges = Edges(*(renumber[e] for e in (edges.top, edges.bottom, edges.left, edges.right)))
    return ScannedBlock(finished, waiting, edges, len(regions), largest_class(data))


def _scanned_blocks(
    noise: rasterio.io.DatasetReader,
    classes: rasterio.io.DatasetReader | None,
    grid: list[Window],
    halo: int,
    finishing: Finishing,
) -> Iterator[ScannedBlock]:
    """Every block scanned, in grid order: by a pool of ``options.jobs`` processes,
    or here with the next block read (GDAL, without the GIL) while this one is used.
    """
    options = finishing.options
    if options.jobs > 1 and len(grid) > 1:
        # Imported once here rather than in every worker; and shapely in full before
        # any result arrives, since the pool's thread unpickles the polygons while this
        # one imports (two threads importing one module can see it half-initialised).
        import scipy.ndimage  # noqa: F401
        import shapely  # noqa: F401

        paths = (noise.name, None if classes is None else classes.name)
        tasks = [(*paths, block, halo, finishing) for block in grid]
        yield from ordered_map(_scan_in_worker, tasks, options.jobs, while_waiting=_load_writer)
        return
    for block, data in zip(
        grid, read_blocks_ahead(noise, classes, grid, halo, options), strict=True
    ):
        yield scan_block(data, block, finishing)


#: Rasters opened by this (worker) process, by path: each is opened once per worker.
_OPEN: dict[str, rasterio.io.DatasetReader] = {}


def _scan_in_worker(
    noise_path: str,
    classes_path: str | None,
    block: Window,
    halo: int,
    finishing: Finishing,
) -> ScannedBlock:
    """Scan one block in a worker process, which opens the rasters itself (once each).

    Module-level, so that the pool can send it by name; GDAL handles must not
    cross a fork, hence the paths rather than the datasets.
    """
    for path in (noise_path, classes_path):
        if path is not None and path not in _OPEN:
            _OPEN[path] = io.open_raster(path)
    classes = None if classes_path is None else _OPEN[classes_path]
    data = read_block(_OPEN[noise_path], classes, block, halo, finishing.options.threshold)
    return scan_block(data, block, finishing)


def _load_writer() -> None:
    """Import what the attribute table and the writer need while the workers scan."""
    import geopandas  # noqa: F401
    import shapely  # noqa: F401
