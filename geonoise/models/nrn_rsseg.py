"""NRN-RSSEG: a U-Net with CBAM-attended skip connections (Xi et al. 2023).

Reference: Xi et al. (2023), NRN-RSSEG, Remote Sensing 15(1):108. The CBAM attention is in
:mod:`geonoise.models.cbam`.

The encoder has ``depth`` stages of widths ``base_width * 2**i``; each ends in a 2×2 max-pool,
so the bridge sits at ``H / 2**depth``. The bridge output is returned beside the logits as the
distillation *hint*; in training, ``dropout`` zeroes whole channels of it on the way to the
decoder (the hint itself is left whole). Each decoder stage upsamples by a 2×2 transposed
convolution, concatenates the CBAM-attended skip of the same scale and applies a conv block.
The network therefore accepts any input whose height and width are multiples of
``2**depth`` (:attr:`NRNRSSEG.multiple`); :func:`predict_logits` pads other sizes.
``forward`` has no data-dependent Python branches, so the model exports with
:func:`torch.onnx.export`. Its hyper-parameters (:class:`~geonoise.models.config.ModelConfig`,
:func:`model_config`) live in :mod:`geonoise.models.config`, which needs no torch, and are
re-exported here.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from geonoise.models.cbam import CBAM
from geonoise.models.config import PRESETS, ModelConfig, ModelConfigError, model_config
from geonoise.windows import pad_amounts

__all__ = [
    "NRNRSSEG",
    "PRESETS",
    "ModelConfig",
    "ModelConfigError",
    "model_config",
    "pad_to_multiple",
    "predict_logits",
]


class ConvBlock(nn.Sequential):
    """Two 3×3 convolution, batch-norm, ReLU layers; keeps the spatial size."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__(
            nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
        )


class UpBlock(nn.Module):
    """Doubles the size, joins the CBAM-attended skip and mixes them with a :class:`ConvBlock`."""

    def __init__(self, in_channels: int, skip_channels: int, config: ModelConfig) -> None:
        super().__init__()
        self.up = nn.ConvTranspose2d(in_channels, skip_channels, kernel_size=2, stride=2)
        self.attention = CBAM(skip_channels, config.reduction, config.spatial_kernel)
        self.conv = ConvBlock(2 * skip_channels, skip_channels)

    def forward(self, x: Tensor, skip: Tensor) -> Tensor:
        """Return features at the skip's size with ``skip_channels`` channels."""
        return self.conv(torch.cat([self.up(x), self.attention(skip)], dim=1))


class NRNRSSEG(nn.Module):
    """The NRN-RSSEG segmentation network.

    Args:
        config: Hyper-parameters; see :class:`ModelConfig` and :func:`model_config`.

    ``forward(x)`` takes images ``(N, in_channels, H, W)`` with ``H`` and ``W`` multiples of
    :attr:`multiple` and returns ``(logits, hint)``: logits ``(N, K, H, W)`` (before softmax)
    and the bridge features ``(N, hint_channels, H / multiple, W / multiple)``.
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        widths = config.encoder_widths
        self.encoders = nn.ModuleList(
            ConvBlock(c_in, c_out)
            for c_in, c_out in zip((config.in_channels, *widths[:-1]), widths, strict=True)
        )
        self.pool = nn.MaxPool2d(kernel_size=2, stride=2)
        self.bridge = ConvBlock(widths[-1], config.hint_channels)
        self.dropout = nn.Dropout2d(config.dropout)
        self.decoders = nn.ModuleList(
            UpBlock(c_in, c_skip, config)
            for c_in, c_skip in zip(
                (config.hint_channels, *widths[:0:-1]), widths[::-1], strict=True
            )
        )
        self.head = nn.Conv2d(widths[0], config.num_classes, kernel_size=1)

    @property
    def hint_channels(self) -> int:
        """Channels of the hint (the bridge output)."""
        return self.config.hint_channels

    @property
    def multiple(self) -> int:
        """Input height and width must be multiples of this (``2**depth``)."""
        return self.config.multiple

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Return ``(logits, hint)`` for a batch of images; see the class docstring."""
        skips = []
        for encoder in self.encoders:
            x = encoder(x)
            skips.append(x)
            x = self.pool(x)
        hint = self.bridge(x)
        x = self.dropout(hint)  # identity in eval mode, and in exported models
        for decoder, skip in zip(self.decoders, reversed(skips), strict=True):
            x = decoder(x, skip)
        return self.head(x), hint


def pad_to_multiple(x: Tensor, multiple: int) -> tuple[Tensor, tuple[int, int]]:
    """Pad the bottom and right of ``x (N, C, H, W)`` up to multiples of ``multiple``.

    Mirrored where the image is large enough, else edge pixels repeated
    (:func:`geonoise.windows.pad_amounts`).

    Returns:
        The padded tensor and the original ``(height, width)``, to crop results back with
        ``y[..., :height, :width]``.
    """
    height, width = x.shape[-2:]
    pad_h, pad_w, reflect = pad_amounts(height, width, multiple)
    if pad_h or pad_w:
        x = F.pad(x, (0, pad_w, 0, pad_h), mode="reflect" if reflect else "replicate")
    return x, (height, width)


def predict_logits(model: NRNRSSEG, x: Tensor) -> Tensor:
    """Logits ``(N, K, H, W)`` for images of any size ``H × W`` (padded, run and cropped).

    Runs in the model's current mode and autograd state; wrap it in ``torch.no_grad()`` and
    call ``model.eval()`` for inference.
    """
    padded, (height, width) = pad_to_multiple(x, model.multiple)
    logits, _ = model(padded)
    return logits[..., :height, :width]
