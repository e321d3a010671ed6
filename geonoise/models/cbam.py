"""CBAM: the convolutional block attention module (Woo et al. 2018, ECCV).

NRN-RSSEG passes each encoder skip connection through CBAM before the decoder joins it: channel
attention first (which feature maps matter), then spatial attention (where they matter). The
pooling is written as plain reductions so the module exports to ONNX as ``ReduceMean`` and
``ReduceMax``.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


class ChannelAttention(nn.Module):
    """Reweights channels by a shared MLP over their global average and maximum.

    Args:
        channels: Feature channels ``C``.
        reduction: Hidden width of the MLP is ``C // reduction``, at least 1 so that narrow
            networks (``C < reduction``) still work.
    """

    def __init__(self, channels: int, reduction: int = 16) -> None:
        super().__init__()
        hidden = max(1, channels // reduction)
        self.mlp = nn.Sequential(
            nn.Conv2d(channels, hidden, kernel_size=1, bias=False),
            nn.ReLU(inplace=True),
            nn.Conv2d(hidden, channels, kernel_size=1, bias=False),
        )

    def forward(self, x: Tensor) -> Tensor:
        """Return ``x`` scaled per channel by weights in (0, 1)."""
        avg = self.mlp(x.mean(dim=(2, 3), keepdim=True))
        peak = self.mlp(x.amax(dim=(2, 3), keepdim=True))
        return x * torch.sigmoid(avg + peak)


class SpatialAttention(nn.Module):
    """Reweights pixels by a convolution over the channel mean and maximum.

    Args:
        kernel_size: Odd size of the convolution (7 in CBAM and NRN-RSSEG).
    """

    def __init__(self, kernel_size: int = 7) -> None:
        super().__init__()
        self.conv = nn.Conv2d(2, 1, kernel_size, padding=kernel_size // 2, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        """Return ``x`` scaled per pixel by weights in (0, 1)."""
        pooled = torch.cat([x.mean(dim=1, keepdim=True), x.amax(dim=1, keepdim=True)], dim=1)
        return x * torch.sigmoid(self.conv(pooled))


class CBAM(nn.Module):
    """Channel attention followed by spatial attention; output has the input's shape.

    Args:
        channels: Feature channels of the input.
        reduction: Channel-attention reduction ratio.
        spatial_kernel: Odd kernel size of the spatial attention.
    """

    def __init__(self, channels: int, reduction: int = 16, spatial_kernel: int = 7) -> None:
        super().__init__()
        self.channel = ChannelAttention(channels, reduction)
        self.spatial = SpatialAttention(spatial_kernel)

    def forward(self, x: Tensor) -> Tensor:
        """Return the attended features, shape ``(N, C, H, W)`` like ``x``."""
        return self.spatial(self.channel(x))
