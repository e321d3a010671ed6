"""NRN-RSSEG: a U-Net with CBAM-attended skip connections (Xi et al. 2023).

Reference: Xi et al. (2023), NRN-RSSEG, Remote Sensing 15(1):108. The CBAM attention is in
:mod:`geonoise.models.cbam`.

The encoder has ``depth`` stages of widths ``base_width * 2**i``; each ends in a 2×2 max-pool,
so the bridge sits at ``H / 2**depth``. The bridge output is returned beside the logits as the
distillation *hint*. Each decoder stage upsamples by a 2×2 transposed convolution, concatenates
the CBAM-attended skip of the same scale and applies a conv block. The network therefore accepts
any input whose height and width are multiples of ``2**depth`` (:attr:`NRNRSSEG.multiple`);
:func:`predict_logits` pads other sizes. ``forward`` has no data-dependent Python branches, so
the model exports with :func:`torch.onnx.export`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from geonoise.errors import InvalidInputError
from geonoise.models.cbam import CBAM
from geonoise.windows import pad_amounts


class ModelConfigError(InvalidInputError, ValueError):
    """A model hyper-parameter that cannot build a network (also a :class:`ValueError`)."""


def _check_int(name: str, value: Any, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ModelConfigError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise ModelConfigError(f"{name} must be at least {minimum}, got {value}")


@dataclass(frozen=True)
class ModelConfig:
    """Hyper-parameters of an NRN-RSSEG network; stored in checkpoints via :meth:`to_dict`.

    Attributes:
        in_channels: Image bands fed to the network.
        num_classes: Classes ``K >= 2`` (softmax logits; binary buildings are ``K = 2``).
        base_width: Channels of the first encoder stage; stage ``i`` has ``base_width * 2**i``.
        depth: Encoder stages (= max-pools); inputs must be multiples of ``2**depth``.
        bridge_width: Channels of the bridge, i.e. of the hint; ``None`` means
            ``base_width * 2**depth``.
        reduction: CBAM channel-attention reduction ratio.
        spatial_kernel: Odd kernel size of CBAM's spatial attention.
    """

    in_channels: int = 3
    num_classes: int = 2
    base_width: int = 32
    depth: int = 4
    bridge_width: int | None = None
    reduction: int = 16
    spatial_kernel: int = 7

    def __post_init__(self) -> None:
        _check_int("in_channels", self.in_channels, 1)
        _check_int("num_classes", self.num_classes, 2)
        _check_int("base_width", self.base_width, 1)
        _check_int("depth", self.depth, 1)
        if self.bridge_width is not None:
            _check_int("bridge_width", self.bridge_width, 1)
        _check_int("reduction", self.reduction, 1)
        _check_int("spatial_kernel", self.spatial_kernel, 1)
        if self.spatial_kernel % 2 == 0:
            raise ModelConfigError(f"spatial_kernel must be odd, got {self.spatial_kernel}")

    @property
    def encoder_widths(self) -> tuple[int, ...]:
        """Channels of the encoder stages, shallowest first (the skip widths)."""
        return tuple(self.base_width * 2**i for i in range(self.depth))

    @property
    def hint_channels(self) -> int:
        """Channels of the bridge output (the hint), with the default resolved."""
        if self.bridge_width is None:
            return self.base_width * 2**self.depth
        return self.bridge_width

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able values; ``bridge_width`` stays ``None`` when it was defaulted."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> ModelConfig:
        """Build a config from :meth:`to_dict` output; missing keys take their defaults.

        Raises:
            ModelConfigError: On an unknown key (e.g. from a newer geonoise) or a bad value.
        """
        known = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ModelConfigError(
                f"unknown model config key {unknown[0]!r} (known: {', '.join(sorted(known))})"
            )
        return cls(**values)


#: Named configurations. ``seed`` is the seed project's network (encoder 32-64-128-256, bridge
#: 512 at H/16); ``small`` halves its widths; ``tiny`` (encoder 8-16-32, bridge 64 at H/8) is
#: for CPU demos and tests and still learns building footprints on 256² tiles.
PRESETS: dict[str, ModelConfig] = {
    "seed": ModelConfig(base_width=32, depth=4),
    "small": ModelConfig(base_width=16, depth=4),
    "tiny": ModelConfig(base_width=8, depth=3),
}


def model_config(preset: str, **overrides: Any) -> ModelConfig:
    """A preset from :data:`PRESETS` with some fields replaced.

    Example: ``model_config("tiny", in_channels=4, num_classes=5)``. A defaulted
    ``bridge_width`` follows an overridden ``base_width`` or ``depth``.

    Raises:
        ModelConfigError: On an unknown preset name, unknown field or bad value.
    """
    if preset not in PRESETS:
        raise ModelConfigError(
            f"unknown model preset {preset!r}; choose one of: {', '.join(PRESETS)}"
        )
    return ModelConfig.from_dict({**PRESETS[preset].to_dict(), **overrides})


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
        return 2**self.config.depth

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Return ``(logits, hint)`` for a batch of images; see the class docstring."""
        skips = []
        for encoder in self.encoders:
            x = encoder(x)
            skips.append(x)
            x = self.pool(x)
        hint = self.bridge(x)
        x = hint
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
