"""The shared window grid: full-size windows that cover every pixel."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from geonoise.windows import axis_offsets, block_grid, window_grid


@st.composite
def grids(draw):
    size = draw(st.integers(1, 64))
    overlap = draw(st.integers(0, size - 1))
    width = draw(st.integers(1, 300))
    height = draw(st.integers(1, 300))
    return width, height, size, overlap


@given(grids())
def test_windows_are_full_size_and_cover_every_pixel(grid):
    width, height, size, overlap = grid
    covered = np.zeros((height, width), dtype=int)
    for w in window_grid(width, height, size, overlap):
        assert (w.width, w.height) == (size, size)
        assert w.col_off >= 0 and w.row_off >= 0
        covered[w.row_off : w.row_off + size, w.col_off : w.col_off + size] += 1
    assert covered.min() >= 1


@given(grids())
def test_windows_stay_inside_and_step_no_more_than_the_stride(grid):
    width, _, size, overlap = grid
    offsets = axis_offsets(width, size, overlap)
    assert offsets[0] == 0
    if width >= size:
        assert offsets[-1] + size == width  # the edge window is shifted inward
    steps = np.diff(offsets)
    assert np.all(steps > 0) and np.all(steps <= size - overlap)


def test_scene_smaller_than_window_gets_one_window_at_the_origin():
    assert list(window_grid(10, 7, 32)) == [(0, 0, 32, 32)]


@pytest.mark.parametrize(
    ("length", "size", "overlap", "expected"),
    [
        (100, 40, 0, [0, 40, 60]),
        (100, 40, 10, [0, 30, 60]),
        (80, 40, 0, [0, 40]),
    ],
)
def test_known_offsets(length, size, overlap, expected):
    assert axis_offsets(length, size, overlap) == expected


@pytest.mark.parametrize(("size", "overlap"), [(0, 0), (8, 8), (8, -1)])
def test_bad_grid_arguments_raise(size, overlap):
    with pytest.raises(ValueError):
        axis_offsets(10, size, overlap)


@given(
    width=st.integers(1, 200),
    height=st.integers(1, 200),
    size=st.integers(16, 96),
)
def test_block_grid_partitions_the_raster_along_the_window_grid(width, height, size):
    cover = np.zeros((height, width), dtype=int)
    for block in block_grid(width, height, size):
        assert block.width > 0 and block.height > 0
        cover[
            block.row_off : block.row_off + block.height,
            block.col_off : block.col_off + block.width,
        ] += 1
    assert (cover == 1).all()
    starts = {(w.col_off, w.row_off) for w in window_grid(width, height, size)}
    assert {(b.col_off, b.row_off) for b in block_grid(width, height, size)} == starts


def test_window_grid_is_lazy_and_small_for_huge_scenes():
    """A header claiming 10⁶ × 10⁶ pixels must not make 15 million windows up front."""
    import pickle
    import tracemalloc

    tracemalloc.start()
    grid = window_grid(1_000_000, 1_000_000, 256)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert len(grid) == 3907**2 and peak < 1_000_000
    assert grid[-1] == (1_000_000 - 256, 1_000_000 - 256, 256, 256)
    assert len(pickle.dumps(grid)) < 200


@given(grids())
def test_window_grid_indexes_slices_and_iterates_alike(grid):
    windows = window_grid(*grid)
    listed = list(windows)
    assert len(windows) == len(listed) and windows == listed
    assert [windows[i] for i in range(len(listed))] == listed
    assert windows[1:5] == listed[1:5] and windows[-1] == listed[-1]
    with pytest.raises(IndexError):
        windows[len(listed)]
