"""What ``geonoise fix`` proposes: the thresholds per kind of change, checked once."""

from __future__ import annotations

from dataclasses import dataclass

from geonoise.contracts import SUSPECT_THRESHOLD
from geonoise.errors import InvalidInputError

#: Kinds of change ``fix`` proposes (the kinds of :mod:`geonoise.vectorize` where label
#: and model disagree); ``uncertain`` and ``unknown`` regions never change.
FIX_KINDS = ("missing", "spurious", "boundary", "class_change")


@dataclass(frozen=True)
class FixOptions:
    """Where the model is confident enough for a change to be proposed.

    Defaults measured on the demo (``benchmarks/RESULTS_fix.md``).

    Attributes:
        threshold: A pixel can change where its noise score is at least this.
        min_score_missing: Least mean score of a ``missing`` change.
        min_score_spurious: Least mean score of a ``spurious`` change.
        min_score_boundary: Least mean score of a ``boundary`` change.
        min_score_class_change: Least mean score of a ``class_change`` change.
        min_area: Least area of a change (map units², of its pixel outline).
        simplify: Simplification tolerance of the changes' outlines (map units); 0:
            exact pixel edges (what raster labels need).
        class_field: The vector labels' class field (None: every feature is class 1).

    Raises:
        InvalidInputError: A value is out of range (naming its command-line option).
    """

    threshold: float = SUSPECT_THRESHOLD
    min_score_missing: float = 0.8
    min_score_spurious: float = 0.95
    min_score_boundary: float = 0.85
    min_score_class_change: float = 0.9
    min_area: float = 0.0
    simplify: float = 0.0
    class_field: str | None = None

    def __post_init__(self) -> None:
        checks = {
            "--threshold": 0.0 <= self.threshold <= 1.0,
            "--min-area": self.min_area >= 0,
            "--simplify": self.simplify >= 0,
        }
        checks |= {
            f"--min-score-{k.replace('_', '-')}": 0 <= self.min_score(k) <= 1 for k in FIX_KINDS
        }
        for option, ok in checks.items():
            if not ok:
                raise InvalidInputError("out of range", option=option)

    def min_score(self, kind: str) -> float:
        """The least mean score of a change of ``kind`` (above 1 for kinds never changed)."""
        return float(getattr(self, f"min_score_{kind}", 2.0))


#: The defaults (frozen, so one shared instance serves as every default argument).
DEFAULT_OPTIONS = FixOptions()
