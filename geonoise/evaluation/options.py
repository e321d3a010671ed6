"""What an evaluation is asked to do: the options every level of it reads.

The options live apart from :mod:`geonoise.evaluation.run` because the pixel
scan takes them too, and the runner imports the scan: one home here keeps the
modules free of import cycles.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from geonoise.detection.scores import TILE_STATISTICS
from geonoise.errors import InvalidInputError

#: How a tile's pixel scores make its score: the members of
#: :data:`geonoise.detection.scores.TILE_STATISTICS`, which checks them at run time.
TileStatistic = Literal["mean", "softmin", "fraction"]

#: Histogram bins on [0, 1] for the pixel metrics (see :mod:`geonoise.evaluation`).
DEFAULT_BINS = 2**16


@dataclass(frozen=True)
class EvaluateOptions:
    """How a noise map is scored.

    Attributes:
        threshold: Operating point: a pixel is flagged where its score is ≥ this.
        min_cover: Share of a truth object (polygon) that must be covered for it
            to count as found (correct).
        at_recall: The object recall at which the best precision over cut-offs on
            the polygons' ``mean_score`` is reported (``vectorize --min-score``).
        bins: Histogram bins on [0, 1] for AP, AUROC and best F1.
        window_size: Edge of the blocks read at a time.
        tile_scene: Which scene of a tile directory to use, where several lie
            on the noise map's grid (its ``scene`` path, file name or stem).
        tile_score: How a tile's pixel scores make its score: ``mean``,
            ``softmin`` (weighted towards the worst pixels, as cleanlab) or
            ``fraction`` (share at or above ``threshold``); as ``detect --tiles``.

    Raises:
        InvalidInputError: A value out of range, naming the command-line option
            that sets it (the CLI checks ranges too; library callers rely on this).
    """

    threshold: float = 0.5
    min_cover: float = 0.5
    at_recall: float = 0.8
    bins: int = DEFAULT_BINS
    window_size: int = 2048
    tile_scene: str | None = None
    tile_score: TileStatistic = "softmin"

    def __post_init__(self) -> None:
        if self.tile_score not in TILE_STATISTICS:
            raise InvalidInputError(
                f"{self.tile_score!r} is not one of {', '.join(TILE_STATISTICS)}", "--tile-score"
            )
        if not 0 <= self.threshold <= 1:
            raise InvalidInputError(f"{self.threshold} is outside 0..1", "--threshold")
        if not 0 < self.min_cover <= 1:
            raise InvalidInputError(f"{self.min_cover} is outside (0, 1]", "--min-cover")
        if not 0 <= self.at_recall <= 1:
            raise InvalidInputError(f"{self.at_recall} is outside 0..1", "--at-recall")
        if not 2 <= self.bins <= 2**24:
            raise InvalidInputError(f"{self.bins} is outside 2..{2**24}", "--bins")
        if self.window_size < 1:
            raise InvalidInputError(f"{self.window_size} is not positive", "--window-size")


#: The options of a plain ``geonoise evaluate``: the default of the functions that take options.
DEFAULT_OPTIONS = EvaluateOptions()
