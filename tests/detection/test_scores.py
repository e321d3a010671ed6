"""Noise scores and their accumulators."""

from __future__ import annotations

import numpy as np

from geonoise.detection.scores import ThresholdAccumulator, predicted_class


def test_predicted_class_is_argmax_ties_to_the_lower_class():
    rng = np.random.default_rng(8)
    probs = rng.integers(0, 4, (5, 30, 40)).astype(np.float32)  # many ties
    expected = probs.argmax(0)
    got = predicted_class(probs)
    assert got.dtype == np.uint8
    np.testing.assert_array_equal(got, expected)


def test_threshold_accumulator_fast_path_equals_the_masked_one():
    rng = np.random.default_rng(9)
    probs = rng.dirichlet(np.ones(3), (50, 60)).transpose(2, 0, 1).astype(np.float32)
    labels = rng.integers(0, 3, (50, 60)).astype(np.uint8)
    labels[:5] = 255  # ignored
    labels[5:8] = 7  # a class the model does not know
    fast, masked = ThresholdAccumulator(3), ThresholdAccumulator(3)
    fast.update(probs, labels)
    masked.update(probs, labels.astype(np.int64))  # signed labels take the masked way
    np.testing.assert_allclose(fast.sums, masked.sums, rtol=1e-12)
    np.testing.assert_array_equal(fast.counts, masked.counts)
    # a NaN probability of a labelled pixel is left out, as on the masked way
    label_there = int(labels[20, 20])
    p_there = float(probs[label_there, 20, 20])
    probs[:, 20, 20] = np.nan
    with_nan = ThresholdAccumulator(3)
    with_nan.update(probs, labels)
    counts = masked.counts.copy()
    counts[label_there] -= 1
    np.testing.assert_array_equal(with_nan.counts, counts)
    sums = masked.sums.copy()
    sums[label_there] -= p_there
    np.testing.assert_allclose(with_nan.sums, sums, rtol=1e-9)
