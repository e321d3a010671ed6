"""Segmentation networks: NRN-RSSEG and its configuration presets."""

from geonoise.models.cbam import CBAM, ChannelAttention, SpatialAttention
from geonoise.models.nrn_rsseg import (
    NRNRSSEG,
    PRESETS,
    ModelConfig,
    ModelConfigError,
    model_config,
    pad_to_multiple,
    predict_logits,
)

__all__ = [
    "CBAM",
    "NRNRSSEG",
    "PRESETS",
    "ChannelAttention",
    "ModelConfig",
    "ModelConfigError",
    "SpatialAttention",
    "model_config",
    "pad_to_multiple",
    "predict_logits",
]
