"""Regions joined across block edges: seams between blocks, connected groups, and the merge.

A region cut by a block edge is labelled in each block it touches. Two
pieces belong together where their pixels meet across the edge, so the
blocks' edge ids (:class:`Edges`) are paired along each seam (:class:`Seams`),
the pairs joined into connected groups (:func:`connected_groups`), and each
group merged into one region (:func:`merge`): statistics summed, polygons
unioned. Pixel coordinates are integers, so the union is exact and the result
is exactly the polygon of a whole-raster polygonization.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from geonoise.vectorize.regions import COUNTS, Regions
from geonoise.windows import Window


@dataclass
class Edges:
    """The region ids (1-based within a block, 0: none) along a block's four edges."""

    top: np.ndarray
    bottom: np.ndarray
    left: np.ndarray
    right: np.ndarray

    @classmethod
    def of(cls, labelled: np.ndarray) -> Edges:
        """The edges of a block's labelled image (copies, so the image can be freed)."""
        return cls(
            labelled[0].copy(), labelled[-1].copy(), labelled[:, 0].copy(), labelled[:, -1].copy()
        )


class Seams:
    """Pairs of regions that touch across block edges, found with O(width) memory.

    Blocks arrive row by row; it keeps the bottom row of region ids of the
    previous block row and the right column of the previous block. Once a row
    of blocks is merged, the ids still held are renumbered (:meth:`restart`).
    """

    def __init__(self) -> None:
        self.pairs: list[np.ndarray] = []
        self._above: dict[int, np.ndarray] = {}
        self._left: tuple[int, np.ndarray] | None = None

    def add(self, block: Window, edges: Edges, offset: int) -> None:
        """Record a block's edge ids (1-based) whose regions start at global ``offset``."""

        def ids(edge: np.ndarray) -> np.ndarray:
            return np.where(edge > 0, edge.astype(np.int64) - 1 + offset, -1)

        if self._left is not None and self._left[0] == block.row_off:
            self._join(self._left[1], ids(edges.left))
        above = self._above.get(block.col_off)
        if above is not None:
            self._join(above, ids(edges.top))
        self._left = (block.row_off, ids(edges.right))
        self._above[block.col_off] = ids(edges.bottom)

    def _join(self, a: np.ndarray, b: np.ndarray) -> None:
        both = (a >= 0) & (b >= 0)
        if both.any():
            self.pairs.append(np.unique(np.column_stack([a[both], b[both]]), axis=0))

    def below(self) -> np.ndarray:
        """The ids of the regions on the bottom edges of the last row of blocks (unique)."""
        edges = [ids[ids >= 0] for ids in self._above.values()]
        return np.unique(np.concatenate([np.empty(0, np.int64), *edges]))

    def restart(self, renumber: np.ndarray, pairs: np.ndarray) -> None:
        """Keep only the regions still held, renumbered (``renumber[old]``: new id, -1: gone),
        joined by ``pairs`` of new ids; the ids below the last row are all held."""

        def held(ids: np.ndarray) -> np.ndarray:
            out = np.full_like(ids, -1)
            out[ids >= 0] = renumber[ids[ids >= 0]]
            return out

        self._above = {col: held(ids) for col, ids in self._above.items()}
        self._left = None
        self.pairs = [pairs]

    def groups(self, count: int) -> np.ndarray:
        """Group index of every region (regions joined through seams share one)."""
        pairs = np.concatenate([np.empty((0, 2), np.int64), *self.pairs])
        return connected_groups(count, pairs)


class Frontier:
    """Regions cut by block edges, merged one row of blocks at a time.

    Blocks are added in grid order with their waiting regions (pixel
    coordinates) and edge ids; :meth:`close_row` then merges the regions that
    the row closed off and keeps the pieces of the others, those that reach
    the row's bottom edge.
    """

    def __init__(self) -> None:
        self.seams = Seams()
        self._held = Regions.empty()
        self._row: list[Regions] = []
        self._count = 0

    @property
    def held(self) -> int:
        """Pieces held for regions still open (after the last :meth:`close_row`)."""
        return len(self._held)

    def add(self, block: Window, waiting: Regions, edges: Edges) -> None:
        """Add a block's regions on its edges and their ids along the edges (1-based)."""
        self.seams.add(block, edges, self._count)
        self._row.append(waiting)
        self._count += len(waiting)

    def close_row(self, last: bool = False) -> Regions:
        """The regions that the row of blocks just added closed off, merged (pixel coordinates).

        Args:
            last: It was the raster's last row: every region is closed.
        """
        pieces = Regions.concat([self._held, *self._row])
        groups = self.seams.groups(len(pieces))
        open_group = np.zeros(int(groups.max()) + 1 if len(groups) else 0, dtype=bool)
        if not last:
            open_group[groups[self.seams.below()]] = True
        held = open_group[groups]
        closed = np.flatnonzero(~held)
        merged = merge(pieces.take(closed), np.unique(groups[closed], return_inverse=True)[1])
        keep = np.flatnonzero(held)
        renumber = np.full(len(pieces), -1, dtype=np.int64)
        renumber[keep] = np.arange(len(keep))
        _, first, same = np.unique(groups[keep], return_index=True, return_inverse=True)
        self.seams.restart(renumber, np.column_stack([first[same], np.arange(len(keep))]))
        self._held, self._row, self._count = pieces.take(keep), [], len(keep)
        return merged


def connected_groups(count: int, pairs: np.ndarray) -> np.ndarray:
    """Group ids 0..G-1 of ``count`` items joined by ``pairs``, numbered by first member.

    A vectorised union-find: every pair hooks the larger of its two roots onto
    the smaller, then paths are compressed, until each pair shares one root.
    """
    parent = np.arange(count)
    a, b = (pairs[:, 0], pairs[:, 1]) if len(pairs) else (parent[:0], parent[:0])
    while True:
        root_a, root_b = parent[a], parent[b]
        if np.array_equal(root_a, root_b):
            break
        low = np.minimum(root_a, root_b)
        np.minimum.at(parent, root_a, low)
        np.minimum.at(parent, root_b, low)
        while not np.array_equal(jumped := parent[parent], parent):
            parent = jumped
    _, groups = np.unique(parent, return_inverse=True)  # roots are their groups' first members
    return groups


def merge(regions: Regions, groups: np.ndarray) -> Regions:
    """Regions that share a group become one: statistics summed, polygons unioned.

    Args:
        regions: The regions to merge (pixel or map coordinates).
        groups: The group id (0..G-1) of every region, e.g. from :func:`connected_groups`.

    Returns:
        One region per group, in group order.
    """
    count = int(groups.max()) + 1 if len(groups) else 0
    if count == len(regions):
        order = np.argsort(groups)
        return regions.take(order)
    score_max = np.full(count, -np.inf)
    np.maximum.at(score_max, groups, regions.score_max)

    def summed(name: str) -> np.ndarray:
        return np.bincount(groups, weights=getattr(regions, name), minlength=count)

    return Regions(
        geoms=_unions(regions.geoms, groups, count),
        score_sum=summed("score_sum"),
        score_max=score_max,
        label_counts=_merge_counts(regions.label_counts, groups),
        predicted_counts=_merge_counts(regions.predicted_counts, groups),
        **{name: summed(name).astype(np.int64) for name in COUNTS},
    )


def _unions(geoms: np.ndarray, groups: np.ndarray, count: int) -> np.ndarray:
    """One polygon per group: the group's polygons unioned (a single one kept as it is)."""
    import shapely

    sizes = np.bincount(groups, minlength=count)
    out = np.empty(count, dtype=object)
    single = sizes[groups] == 1
    out[groups[single]] = geoms[single]
    for group in np.flatnonzero(sizes > 1):
        union = shapely.union_all(geoms[groups == group])
        # Drop the collinear vertices left on seams (tolerance 0 moves nothing).
        out[group] = shapely.simplify(union, 0, preserve_topology=False)
    return out


def _merge_counts(counts: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Sparse ``(region, class, count)`` triples re-keyed to groups, counts summed."""
    if not len(counts):
        return counts
    keys = groups[counts[:, 0]] * 256 + counts[:, 1]
    unique, inverse = np.unique(keys, return_inverse=True)
    summed = np.bincount(inverse, weights=counts[:, 2]).astype(np.int64)
    return np.column_stack([unique // 256, unique % 256, summed]).astype(np.int64)
