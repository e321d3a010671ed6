"""Merging across block seams: connected groups, and regions and holes that span blocks."""

from __future__ import annotations

import numpy as np
import shapely
from hypothesis import given
from hypothesis import strategies as st

from geonoise.vectorize.merge import connected_groups
from tests.vectorize.conftest import assert_same_layers, run, write_noise


def test_regions_crossing_many_windows_and_holes_across_seams(tmp_path):
    score = np.zeros((100, 100), "float32")
    score[10:90, 10:90] = 0.9  # spans 9 windows of 32 px
    score[25:75, 25:75] = 0  # a hole across four windows
    score[40:60, 40:60] = 0.9  # an island in the hole
    score[0:100, 95] = 0.9  # a thin line through every window row
    noise = write_noise(tmp_path / "n.tif", score)
    whole = run(noise, window_size=4096)
    windowed = run(noise, window_size=32)
    assert_same_layers(whole, windowed)
    assert len(windowed) == 3
    ring = windowed.geometry[windowed["area"].idxmax()]
    assert shapely.get_num_interior_rings(ring) == 1
    np.testing.assert_allclose(sorted(windowed["area"]), sorted([25.0, 100.0, 1600 - 625]))
    filled = run(noise, window_size=32, fill_holes=1000)
    assert len(filled) == 2 and filled["pixels"].max() == 80 * 80 - 50 * 50 + 400


@given(
    count=st.integers(1, 60),
    pairs=st.lists(st.tuples(st.integers(0, 59), st.integers(0, 59)), max_size=80),
)
def test_connected_groups_join_exactly_the_connected_items(count, pairs):
    pairs = np.array([(a % count, b % count) for a, b in pairs], dtype=np.int64).reshape(-1, 2)
    groups = connected_groups(count, pairs)
    # Reference: flood fill over an adjacency list.
    neighbours: dict[int, set[int]] = {i: set() for i in range(count)}
    for a, b in pairs:
        neighbours[a].add(b)
        neighbours[b].add(a)
    expected, seen = np.full(count, -1), 0
    for start in range(count):
        if expected[start] < 0:
            stack = [start]
            while stack:
                item = stack.pop()
                if expected[item] < 0:
                    expected[item] = seen
                    stack.extend(neighbours[item])
            seen += 1
    assert groups.tolist() == expected.tolist()
