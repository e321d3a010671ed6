"""How a noise map becomes polygons: the options of ``geonoise vectorize``, checked once."""

from __future__ import annotations

from dataclasses import dataclass

from geonoise.contracts import SUSPECT_THRESHOLD
from geonoise.errors import InvalidInputError


@dataclass(frozen=True)
class VectorizeOptions:
    """How a noise map becomes polygons.

    Frozen and made of plain values, so that it is sent as is to the processes
    that scan blocks.

    Attributes:
        threshold: A pixel is suspect where its score is at least this.
        min_area: Drop polygons smaller than this (map units², after hole filling).
        min_score: Drop polygons whose mean noise score is below this (the cut-off
            ``evaluate`` reports as the best at its ``--at-recall``).
        fill_holes: Fill holes smaller than this (map units²); 0 keeps all holes.
        simplify: Topology-preserving simplification tolerance (map units); 0: none.
        boundary_width: Pixels from an agreed outline within which a sliver is "boundary".
        window_size: Pixels per side of the blocks read at a time.
        jobs: Processes that scan blocks (1: this process, reading ahead in a thread).

    Raises:
        InvalidInputError: A value is out of range (naming its command-line option).
    """

    threshold: float = SUSPECT_THRESHOLD
    min_area: float = 0.0
    min_score: float = 0.0
    fill_holes: float = 0.0
    simplify: float = 0.0
    boundary_width: int = 3
    window_size: int = 2048
    jobs: int = 1

    def __post_init__(self) -> None:
        checks = {
            "--threshold": 0.0 <= self.threshold <= 1.0,
            "--min-area": self.min_area >= 0,
            "--min-score": 0.0 <= self.min_score <= 1.0,
            "--fill-holes": self.fill_holes >= 0,
            "--simplify": self.simplify >= 0,
            "--boundary-width": self.boundary_width >= 1,
            "--window-size": self.window_size >= 16,
            "--jobs": self.jobs >= 1,
        }
        for option, ok in checks.items():
            if not ok:
                raise InvalidInputError("out of range", option=option)


#: The defaults (frozen, so one shared instance serves as every default argument).
DEFAULT_OPTIONS = VectorizeOptions()
