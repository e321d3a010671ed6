"""Suspect regions as parallel per-region arrays: one polygon and its pixel statistics each.

Every step of the pass (labelling a block, merging across seams, finishing,
the attribute table) works on whole :class:`Regions` collections, one numpy
array per statistic, so that a selection, a merge or a concatenation acts on
all of a region's values at once, and a block's regions pickle cheaply
between the scanning processes and this one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

#: The per-region arrays of :class:`Regions` (the class counts aside).
PER_REGION = (
    "geoms", "pixels", "score_sum", "score_max", "near", "deep", "missing", "spurious",
    "changed", "area", "planar_area",
)  # fmt: skip
#: The per-region counts of pixels that label and model class differently: ``missing``
#: (label background, model building), ``spurious`` (the reverse), ``changed`` (any two
#: classes that differ).
CHANGES = ("missing", "spurious", "changed")
#: The per-region pixel counts, which a merge sums.
COUNTS = ("pixels", "near", "deep", *CHANGES)


@dataclass
class Regions:
    """Suspect regions and the pixel statistics they are summarised from.

    ``geoms`` are polygons (pixel or map coordinates); the other arrays are per
    region. Class counts are sparse triples ``(region, class, count)``. The
    areas are NaN until :func:`geonoise.vectorize.finishing.finish` computes them.

    Attributes:
        geoms: Polygons (object array of shapely geometries).
        pixels: Pixels per region.
        score_sum: Sum of the noise scores of its pixels (for the mean).
        score_max: Largest noise score of its pixels.
        near: Pixels within ``boundary_width`` of a pixel label and model both call building.
        deep: Pixels farther than ``boundary_width`` from the region's outline.
        missing: Pixels labelled background that the model calls building.
        spurious: Pixels labelled building that the model calls background.
        changed: Pixels whose label and predicted class differ (both classes, not 255).
        label_counts: ``(n, 3)`` int64 triples ``(region, label class, pixels)``.
        predicted_counts: The same for the predicted class.
        area: Area in m² of the polygon as written (after simplification), NaN
            until finished.
        planar_area: Area in map units² of the exact pixel outline (before
            simplification), NaN until finished: what ``--min-area`` compares.
    """

    geoms: np.ndarray
    pixels: np.ndarray
    score_sum: np.ndarray
    score_max: np.ndarray
    near: np.ndarray
    deep: np.ndarray
    missing: np.ndarray
    spurious: np.ndarray
    changed: np.ndarray
    label_counts: np.ndarray  # (n, 3) int64: region, class, count
    predicted_counts: np.ndarray
    area: np.ndarray = field(default_factory=lambda: np.empty(0))  # m²
    planar_area: np.ndarray = field(default_factory=lambda: np.empty(0))  # map units²

    def __post_init__(self) -> None:
        for name in ("area", "planar_area"):
            if len(getattr(self, name)) != len(self.geoms):
                setattr(self, name, np.full(len(self.geoms), np.nan))

    def __len__(self) -> int:
        return len(self.geoms)

    @classmethod
    def empty(cls) -> Regions:
        """No region (what a raster without suspect pixels, or an empty list, gives)."""
        empty = np.empty(0, dtype=np.int64)
        none = np.empty((0, 3), dtype=np.int64)
        return cls(
            geoms=np.empty(0, object),
            score_sum=empty * 0.0,
            score_max=empty * 0.0,
            label_counts=none,
            predicted_counts=none,
            **dict.fromkeys(COUNTS, empty),
        )

    @classmethod
    def concat(cls, parts: list[Regions]) -> Regions:
        """One collection from several; class-count region indices are shifted to match."""
        offsets = np.cumsum([0, *(len(p) for p in parts)])[:-1]

        def counts(name: str) -> np.ndarray:
            shift = [np.array([[o, 0, 0]]) for o in offsets]
            arrays = [getattr(p, name) + d for p, d in zip(parts, shift, strict=True)]
            return np.concatenate([np.empty((0, 3), np.int64), *arrays])

        stack = {name: np.concatenate([getattr(p, name) for p in parts]) for name in PER_REGION}
        return cls(
            **stack,
            label_counts=counts("label_counts"),
            predicted_counts=counts("predicted_counts"),
        )

    def take(self, order: np.ndarray) -> Regions:
        """The regions at the indices ``order`` (a permutation or a subset), in that order."""
        rank = np.full(len(self), -1, dtype=np.int64)
        rank[order] = np.arange(len(order))

        def remap(counts: np.ndarray) -> np.ndarray:
            out = counts[rank[counts[:, 0]] >= 0]
            out[:, 0] = rank[out[:, 0]]
            return out

        return Regions(
            **{name: getattr(self, name)[order] for name in PER_REGION},
            label_counts=remap(self.label_counts),
            predicted_counts=remap(self.predicted_counts),
        )
