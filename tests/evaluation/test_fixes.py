"""Fix metrics on hand-made label rasters whose corrections and new errors are known."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
from rasterio.transform import from_origin
from shapely import box

from geonoise.contracts import IGNORE
from geonoise.errors import InvalidInputError
from geonoise.evaluation.fixes import fix_metrics
from tests.conftest import CRS

#: 1-m pixels, the top-left corner at (0, 20): column c, row r covers x c..c+1, y 19-r..20-r.
TRANSFORM = from_origin(0, 20, 1, 1)


def rasters() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """20 × 20 labels: a missing building (16 px), a spurious one (9 px), a new error (4 px).

    The fix restores 12 of the missing building's pixels and removes the whole
    spurious one, and it wrongly erases 4 px of a building that was right.
    """
    clean = np.zeros((20, 20), np.uint8)
    clean[2:6, 2:6] = 1  # the missing building
    clean[10:14, 10:14] = 1  # a right building
    noisy = clean.copy()
    noisy[2:6, 2:6] = 0
    noisy[15:18, 15:18] = 1  # the spurious building
    fixed = noisy.copy()
    fixed[2:5, 2:6] = 1  # 12 of 16 restored
    fixed[15:18, 15:18] = 0
    fixed[10:12, 10:12] = 0  # 4 new errors
    return noisy, fixed, clean


def test_pixels_corrected_and_new_errors():
    m = fix_metrics(*rasters())
    assert (m.noisy_pixels, m.corrected, m.new_errors) == (25, 21, 4)
    assert m.errors_after == 4 + 4  # the 4 missed of the building, the 4 new
    assert m.corrected_share == pytest.approx(21 / 25)
    assert m.new_error_ratio == pytest.approx(4 / 21)
    assert m.objects is None and m.by_kind == {}


def test_ignored_truth_pixels_are_not_scored():
    noisy, fixed, clean = rasters()
    clean[15:18, 15:18] = IGNORE  # the spurious building's truth unknown
    m = fix_metrics(noisy, fixed, clean)
    assert (m.noisy_pixels, m.corrected) == (16, 12)


def test_objects_corrected_by_share_of_their_noisy_pixels():
    objects = gpd.GeoDataFrame(
        {"kind": ["missing", "spurious", "missing"]},
        # rows 2:6, cols 2:6 → x 2..6, y 14..18; rows 15:18, cols 15:18 → x 15..18, y 2..5;
        # the third lies off the grid.
        geometry=[box(2, 14, 6, 18), box(15, 2, 18, 5), box(100, 100, 110, 110)],
        crs=CRS,
    )
    m = fix_metrics(*rasters(), objects=objects, transform=TRANSFORM, min_cover=0.5)
    assert (m.objects, m.objects_corrected, m.objects_share) == (2, 2, 1.0)
    assert m.by_kind == {
        "missing": {"objects": 1, "corrected": 1, "share": 1.0},
        "spurious": {"objects": 1, "corrected": 1, "share": 1.0},
    }
    strict = fix_metrics(*rasters(), objects=objects, transform=TRANSFORM, min_cover=0.8)
    assert strict.objects_corrected == 1  # the building is 75 % restored


def test_rasters_off_one_grid_are_refused():
    noisy, fixed, clean = rasters()
    with pytest.raises(InvalidInputError, match="one grid"):
        fix_metrics(noisy, fixed[:10], clean)
