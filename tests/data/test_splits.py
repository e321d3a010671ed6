"""Spatially blocked splits and cross-fitting folds."""

from __future__ import annotations

import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyproj import CRS as CRS_
from shapely import box

from geonoise.data.splits import blocked_split, folder_split, holdout_region, spatial_folds
from geonoise.data.tiledir import read_tile_index
from geonoise.errors import InvalidInputError
from tests.conftest import CRS, ORIGIN
from tests.data.conftest import assert_clean_split, grid_index, make_tiles


def test_blocked_split_keeps_overlapping_neighbours_out_of_training():
    index = grid_index(12, 12)  # tiles overlap their neighbours by 4 units
    split = blocked_split(index, val_fraction=0.2, seed=3)
    assert_clean_split(index, split)
    assert abs(len(split.val) / len(index) - 0.2) <= 0.05
    assert split.dropped  # the ring around validation blocks is left out
    assert blocked_split(index, val_fraction=0.2, seed=3) == split
    assert blocked_split(index, val_fraction=0.2, seed=4).val != split.val
    assert list(index.tile_id[index.tile_id.isin(split.val)]) == split.val  # index order
    assert "in spatially blocked validation" in split.describe()
    assert f"{len(split.dropped)} left out for overlapping" in split.describe()


def test_blocked_split_of_touching_tiles_keeps_all_of_them():
    index = grid_index(8, 8, step=16.0)
    split = blocked_split(index, val_fraction=0.25, block_size=32.0)
    assert_clean_split(index, split)
    assert len(split.train) + len(split.val) == 64 and len(split.val) == 16
    assert not split.dropped


def test_blocked_split_leaves_few_overlapping_tiles_out():
    """Of 25 overlapping tiles, a single draw of 5 scattered validation tiles often leaves
    only 5-8 to train on; the best of the draws keeps at least 11."""
    index = grid_index(5, 5)
    for seed in range(20):
        split = blocked_split(index, val_fraction=0.2, seed=seed)
        assert_clean_split(index, split)
        assert len(split.train) >= 11 and 4 <= len(split.val) <= 6, (seed, split.describe())


def test_blocked_split_keeps_every_class_on_the_side_that_needs_it():
    """A rare class on one tile trains; one on two distant tiles trains and validates."""
    index = grid_index(8, 8, step=16.0)
    index["frac_0"] = 1.0
    index["frac_1"] = 0.0
    index["frac_7"] = 0.0
    rare = "s_r5_c2"
    index.loc[index.tile_id == rare, ["frac_0", "frac_1"]] = [0.9, 0.1]
    index.loc[index.tile_id.isin(["s_r0_c0", "s_r7_c7"]), ["frac_0", "frac_7"]] = [0.5, 0.5]
    twice = {"s_r0_c0", "s_r7_c7"}
    for seed in range(20):
        split = blocked_split(index, val_fraction=0.2, block_size=32.0, seed=seed)
        assert_clean_split(index, split)
        assert rare in split.train, seed
        assert twice & set(split.train) and twice & set(split.val), seed
    # Without the class columns the first draw with training tiles is kept, and many miss.
    plain = index.drop(columns=["frac_0", "frac_1", "frac_7"])
    splits = [blocked_split(plain, val_fraction=0.2, block_size=32.0, seed=s) for s in range(20)]
    assert sum(rare not in s.train or not twice & set(s.val) for s in splits) >= 5


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    cols=st.integers(1, 9),
    rows=st.integers(1, 9),
    overlap=st.sampled_from([0.0, 2.0, 8.0]),
    val_fraction=st.floats(0.05, 0.6),
    seed=st.integers(0, 1000),
)
def test_blocked_split_properties(cols, rows, overlap, val_fraction, seed):
    index = grid_index(cols, rows, step=16.0 - overlap)
    if len(index) < 2:
        with pytest.raises(InvalidInputError, match="cannot be split"):
            blocked_split(index, val_fraction, seed=seed)
        return
    try:
        split = blocked_split(index, val_fraction, seed=seed)
    except InvalidInputError:
        assert overlap > 0  # only overlapping neighbours can leave no training tile
        return
    assert_clean_split(index, split)
    assert split == blocked_split(index, val_fraction, seed=seed)


def test_blocked_split_across_scenes_on_the_same_ground(tmp_path):
    root = make_tiles(tmp_path, scenes=2, origin=ORIGIN)  # two dates of one place
    index = read_tile_index(root)
    split = blocked_split(index, val_fraction=0.3, seed=1)
    assert_clean_split(index, split)
    assert {t.split("_r")[0] for t in split.train} == {"s0", "s1"}


def test_blocked_split_of_scenes_far_apart(tmp_path):
    index = read_tile_index(make_tiles(tmp_path, scenes=3, overlap=0))
    split = blocked_split(index, val_fraction=0.3, seed=0)
    assert_clean_split(index, split)
    assert len(split.train) + len(split.val) == len(index) == 18


@pytest.mark.parametrize(("cols", "rows"), [(5, 2), (10, 5), (2, 5), (25, 20), (50, 10), (1, 10)])
@pytest.mark.parametrize("step", [16.0, 12.0, 8.0])  # touching, 4 overlap, half overlapping
@pytest.mark.parametrize("fraction", [0.1, 0.2, 0.3])
def test_blocked_split_honours_the_validation_share_from_10_to_500_tiles(
    cols, rows, step, fraction
):
    index = grid_index(cols, rows, step=step)
    for seed in range(3):
        split = blocked_split(index, fraction, seed=seed)
        assert_clean_split(index, split)
        assert abs(len(split.val) / len(index) - fraction) <= 0.1, (seed, split.describe())
        assert len(split.train) >= (1 - fraction - 0.1) * len(index) - len(split.dropped)


def test_blocked_split_refuses_what_cannot_be_split():
    with pytest.raises(InvalidInputError, match="cannot be split"):
        blocked_split(grid_index(1, 1))
    with pytest.raises(InvalidInputError, match="val-fraction"):
        blocked_split(grid_index(3, 3), val_fraction=1.0)
    with pytest.raises(InvalidInputError, match="one spatial block"):
        blocked_split(grid_index(3, 3), block_size=1000.0)


def test_folder_split_is_random_by_name_and_repeatable():
    names = [f"p{i:03d}" for i in range(50)]
    train, val = folder_split(names, 0.2, seed=7)
    assert len(val) == 10 and sorted(train + val) == names and not set(train) & set(val)
    assert folder_split(list(reversed(names)), 0.2, seed=7) == (train, val)
    assert folder_split(names, 0.2, seed=8) != (train, val)
    assert [len(side) for side in folder_split(["a", "b"], 0.01)] == [1, 1]
    with pytest.raises(InvalidInputError, match="cannot be split"):
        folder_split(["only"])


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    cols=st.integers(3, 9),
    rows=st.integers(2, 9),
    overlap=st.sampled_from([0.0, 4.0]),
    folds=st.integers(2, 4),
)
def test_spatial_folds_hold_out_every_tile_once(cols, rows, overlap, folds):
    index = grid_index(cols, rows, step=16.0 - overlap)
    try:
        plan = spatial_folds(index, folds, block_size=32.0)
    except InvalidInputError as exc:
        assert "block" in str(exc) or "holds out no tile" in str(exc)
        return
    assert len(plan) == folds
    held = [t for fold in plan for t in fold.held_out]
    assert sorted(held) == sorted(index.tile_id)  # each tile held out by exactly one fold
    for fold in plan:
        assert fold.held_out and sorted(fold.train + fold.held_out) == sorted(index.tile_id)
    assert spatial_folds(index, folds, block_size=32.0) == plan


def test_spatial_folds_balance_tiles_and_explain_too_few_blocks():
    index = grid_index(8, 8, step=16.0)
    plan = spatial_folds(index, 4, block_size=32.0)
    assert [len(f.held_out) for f in plan] == [16, 16, 16, 16]
    assert all(len(f.train) == 48 for f in plan)  # touching tiles share no area
    with pytest.raises(InvalidInputError, match="4 spatial blocks, too few for 5 folds"):
        spatial_folds(index, 5, block_size=64.0)
    with pytest.raises(InvalidInputError, match="at least 2"):
        spatial_folds(index, 1)


def test_holdout_region_is_the_union_of_the_held_out_footprints():
    index = grid_index(4, 1, step=16.0)
    region = holdout_region(index, ["s_r0_c1", "s_r0_c2"])
    geometry = shapely.from_wkt(region["wkt"])
    assert geometry.equals(box(16, -16, 48, 0))
    assert CRS_.from_wkt(region["crs"]) == CRS_.from_user_input(CRS)
