"""Random fields that give a synthetic scene its texture."""

from __future__ import annotations

import numpy as np


def noise_field(
    shape: tuple[int, int], rng: np.random.Generator, beta: float = 2.0, scale: float = 0.0
) -> np.ndarray:
    """Multi-octave (1/f^beta) noise with zero mean and unit standard deviation.

    Spectral synthesis covers all octaves in one FFT, which keeps a 1024² field
    at tens of milliseconds. Larger ``beta`` gives smoother, blotchier fields.

    Args:
        shape: ``(rows, cols)``.
        rng: The random generator; same state, same field.
        beta: Spectral exponent (0 white, 2 natural terrain-like, 3 very smooth).
        scale: Features smaller than about this many pixels are filtered out.

    Returns:
        A float32 array of ``shape``.
    """
    rows, cols = shape
    fy = np.fft.fftfreq(rows)[:, None]
    fx = np.fft.rfftfreq(cols)[None, :]
    freq = np.hypot(fx, fy)
    freq[0, 0] = 1.0
    amplitude = freq ** (-beta / 2)
    if scale > 0:
        amplitude *= np.exp(-((freq * scale) ** 2))
    amplitude[0, 0] = 0.0
    half = (rows, cols // 2 + 1)
    spectrum = (rng.standard_normal(half) + 1j * rng.standard_normal(half)) * amplitude
    field = np.fft.irfft2(spectrum, s=shape)
    std = field.std()
    return (field / std if std > 0 else field).astype(np.float32)
