"""Helpers of the evaluation tests: rasters as detect and synth write them, a known truth."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tests.conftest import write_scene

H, W = 20, 30


def write_noise(path: Path, score: np.ndarray, **kwargs) -> Path:
    """A noise map as detect writes it: float32, nodata −1."""
    data = score.astype("float32")[None]
    return write_scene(path, score.shape[1], score.shape[0], data=data, nodata=-1.0, **kwargs)


def write_truth(path: Path, truth: np.ndarray, **kwargs) -> Path:
    """A truth mask as synth writes it: uint8, no nodata unless given."""
    data = truth.astype("uint8")[None]
    return write_scene(path, truth.shape[1], truth.shape[0], data=data, **kwargs)


def truth_mask() -> np.ndarray:
    """60 noisy pixels of 600 (base rate 0.1) in two blocks."""
    truth = np.zeros((H, W), "uint8")
    truth[2:6, 3:13] = 1  # 40
    truth[12:16, 20:25] = 1  # 20
    return truth
