"""Hyper-parameters of an NRN-RSSEG network, checked and bounded, without importing torch.

A model file carries its :class:`ModelConfig`; the ONNX inference path reads it
too, so this module needs nothing but the standard library. The bounds keep a
file from someone else from describing a network that would exhaust memory
when it is built: they lie far above any useful network (the ``seed`` preset
is 512 channels wide at its bridge, 4 levels deep).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from geonoise.errors import InvalidInputError

#: Most bands a network may take (hyperspectral sensors have a few hundred).
MAX_BANDS = 1024
#: Most classes: labels are uint8 and 255 means ignore, so values 0..254.
MAX_CLASSES = 255
#: Most encoder stages (inputs are then multiples of 2**8 = 256).
MAX_DEPTH = 8
#: Most channels of any layer (the bridge is the widest).
MAX_WIDTH = 4096
#: Largest CBAM spatial-attention kernel.
MAX_KERNEL = 31


class ModelConfigError(InvalidInputError, ValueError):
    """A model hyper-parameter that cannot build a network (also a :class:`ValueError`)."""


def _check_int(name: str, value: Any, minimum: int, maximum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ModelConfigError(f"{name} must be an integer, got {value!r:.40}")
    if value < minimum:
        raise ModelConfigError(f"{name} must be at least {minimum}, got {value}")
    if value > maximum:
        raise ModelConfigError(f"{name} must be at most {maximum}, got {value}")


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
        dropout: Probability of zeroing a channel of the bridge features on their way
            to the decoder, in training only (the hint itself is not dropped); the
            noise Noisy Student gives its student. 0: none.
    """

    in_channels: int = 3
    num_classes: int = 2
    base_width: int = 32
    depth: int = 4
    bridge_width: int | None = None
    reduction: int = 16
    spatial_kernel: int = 7
    dropout: float = 0.0

    def __post_init__(self) -> None:
        _check_int("in_channels", self.in_channels, 1, MAX_BANDS)
        _check_int("num_classes", self.num_classes, 2, MAX_CLASSES)
        _check_int("base_width", self.base_width, 1, MAX_WIDTH)
        _check_int("depth", self.depth, 1, MAX_DEPTH)
        if self.bridge_width is not None:
            _check_int("bridge_width", self.bridge_width, 1, MAX_WIDTH)
        _check_int("reduction", self.reduction, 1, MAX_WIDTH)
        _check_int("spatial_kernel", self.spatial_kernel, 1, MAX_KERNEL)
        if self.spatial_kernel % 2 == 0:
            raise ModelConfigError(f"spatial_kernel must be odd, got {self.spatial_kernel}")
        if (
            isinstance(self.dropout, bool)
            or not isinstance(self.dropout, int | float)
            or not 0 <= self.dropout < 1
        ):
            raise ModelConfigError(f"dropout must be a number in [0, 1), got {self.dropout!r:.40}")
        widest = max(self.encoder_widths[-1], self.hint_channels)
        if widest > MAX_WIDTH:
            raise ModelConfigError(
                f"base_width {self.base_width} and depth {self.depth} make layers {widest} "
                f"channels wide; at most {MAX_WIDTH}"
            )

    @property
    def encoder_widths(self) -> tuple[int, ...]:
        """Channels of the encoder stages, shallowest first (the skip widths)."""
        return tuple(self.base_width * 2**i for i in range(self.depth))

    @property
    def multiple(self) -> int:
        """Input height and width must be multiples of this (``2**depth``)."""
        return 2**self.depth

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
        if not isinstance(values, Mapping):
            raise ModelConfigError(
                f"a model description maps hyper-parameters to values, got {values!r:.40}"
            )
        known = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known, key=str)
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
