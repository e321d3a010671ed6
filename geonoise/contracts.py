"""Values the file contracts between the steps share (DESIGN.md, "Contracts between the steps").

Every step that reads or writes labels, class rasters or noise maps takes these
from here, so that the files stay readable by each other.
"""

from __future__ import annotations

#: Label and class value for pixels that carry no label (nodata, outside the scene).
IGNORE = 255

#: Nodata of the float rasters ``detect`` writes (outside the [0, 1] of scores and probabilities).
NODATA = -1.0

#: Noise score from which a pixel is a suspect (vectorize, tile fractions, quicklook, evaluate).
SUSPECT_THRESHOLD = 0.5

#: Class ids of two-class (building) labels.
BACKGROUND = 0
BUILDING = 1


def default_class_names(values: list[int]) -> list[str]:
    """``background, building`` for the label values 0 and 1, ``class_<value>`` otherwise."""
    if list(values) == [BACKGROUND, BUILDING]:
        return ["background", "building"]
    return [f"class_{v}" for v in values]
