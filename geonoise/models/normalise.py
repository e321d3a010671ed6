"""Raw pixels to network inputs, inside the model: clip, standardise, fill missing pixels.

Training, PyTorch inference and the exported ONNX graph all normalise through
:class:`BandNormaliser`, so the three cannot drift apart. Each band is clipped to
its robust bounds (:class:`~geonoise.data.stats.BandStats`), standardised, and
pixels without data — NaN, which datasets and ``detect`` put where the scene has
none — become 0, the band's mean.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch
from torch import Tensor, nn

if TYPE_CHECKING:
    from geonoise.models.checkpoint import ModelMeta


class BandNormaliser(nn.Module):
    """``(clip(x, low, high) − mean) / std`` per band, NaN → 0; for ``(N, bands, H, W)``.

    Args:
        mean, std: Per-band mean and standard deviation of the clipped pixels.
        low, high: Per-band bounds; None: no clipping (model files before 0.2).
    """

    def __init__(
        self,
        mean: Sequence[float],
        std: Sequence[float],
        low: Sequence[float] | None = None,
        high: Sequence[float] | None = None,
    ) -> None:
        super().__init__()
        shape = (1, -1, 1, 1)
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(shape), False)
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(shape), False)
        self.clip = low is not None and high is not None
        if self.clip:
            self.register_buffer("low", torch.tensor(low, dtype=torch.float32).view(shape), False)
            self.register_buffer("high", torch.tensor(high, dtype=torch.float32).view(shape), False)

    @classmethod
    def of(cls, meta: ModelMeta) -> BandNormaliser:
        """The normalisation a model file describes."""
        return cls(meta.band_mean, meta.band_std, meta.band_low, meta.band_high)

    def forward(self, x: Tensor) -> Tensor:
        if self.clip:  # maximum/minimum keep NaN, which is filled below
            x = torch.minimum(torch.maximum(x, self.low), self.high)
        x = (x - self.mean) / self.std
        return torch.where(torch.isnan(x), torch.zeros_like(x), x)
