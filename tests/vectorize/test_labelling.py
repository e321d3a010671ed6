"""Labelling a block: the square neighbourhood reduction behind the boundary rule."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from geonoise.vectorize.labelling import square_reduce


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    height=st.integers(1, 40),
    width=st.integers(1, 40),
    radius=st.integers(1, 6),
    share=st.floats(0.05, 0.95),
)
def test_square_reduce_is_scipys_binary_maximum_and_minimum_filter(
    seed, height, width, radius, share
):
    from scipy import ndimage

    mask = np.random.default_rng(seed).random((height, width)) < share
    size = 2 * radius + 1
    dilated = ndimage.maximum_filter(mask, size=size, mode="constant", cval=0)
    eroded = ndimage.minimum_filter(mask, size=size, mode="constant", cval=0)
    np.testing.assert_array_equal(square_reduce(mask, radius, np.logical_or), dilated)
    np.testing.assert_array_equal(square_reduce(mask, radius, np.logical_and), eroded)
