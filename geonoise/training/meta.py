"""What a model file says of itself: its classes, bands, normalisation and training.

:func:`build_meta` describes the model a run trains from its training tiles and
configuration; :func:`class_values` picks the label values it learns.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from geonoise.contracts import BACKGROUND, BUILDING, IGNORE, default_class_names
from geonoise.errors import InvalidInputError
from geonoise.training.config import Role, TrainConfig

if TYPE_CHECKING:
    from geonoise.data.datasets import PairDataset


def class_values(present: list[int], declared: list[int] | None) -> list[int]:
    """The label values a model learns: those declared, else those present in the labels.

    A model needs two classes at least: a single value present gets 0 (or 1) beside it.

    Raises:
        InvalidInputError: a declared value outside 0..254, or one declared twice, or a
            value present in the labels that the declaration leaves out.
    """
    if declared is not None:
        values = sorted(set(int(v) for v in declared))
        if len(values) != len(declared) or not all(0 <= v < IGNORE for v in values):
            raise InvalidInputError(
                f"{declared} must be distinct class ids 0..254", option="--class-values"
            )
        missing = sorted(set(present) - set(values))
        if missing:
            raise InvalidInputError(
                f"the labels hold the classes {', '.join(map(str, missing))} too; declare them",
                option="--class-values",
            )
        return values
    values = sorted(set(int(v) for v in present))
    if not values:
        return [BACKGROUND, BUILDING]
    if len(values) == 1:
        other = BUILDING if values[0] == BACKGROUND else BACKGROUND
        values = sorted({values[0], other})
    return values


def build_meta(train_set: PairDataset, config: TrainConfig, role: Role) -> dict[str, Any]:
    """The model description: preset plus overrides, bands, classes, normalisation."""
    from geonoise.data.stats import compute_band_stats
    from geonoise.models.checkpoint import ModelMeta
    from geonoise.models.nrn_rsseg import model_config

    values = class_values(train_set.class_ids, config.class_values)
    names = config.class_names or default_class_names(values)
    if len(names) != len(values):
        raise InvalidInputError(
            f"{len(names)} class names for the {len(values)} classes "
            f"{', '.join(map(str, values))} of the labels",
            option="--class-names",
        )
    num_classes = len(values)
    overrides = {
        k: v
        for k, v in (("base_width", config.base_width), ("depth", config.depth))
        if v is not None
    }
    model = model_config(
        config.preset,
        in_channels=train_set.band_count,
        num_classes=num_classes,
        dropout=config.dropout,
        **overrides,
    )
    stats = compute_band_stats(train_set)
    return ModelMeta(
        model=model.to_dict(),
        class_names=list(names),
        class_values=values,
        band_mean=stats.mean,
        band_std=stats.std,
        band_low=stats.low,
        band_high=stats.high,
        tile_size=train_set.tile_size,
        role=role,
        training=asdict(config),
    ).to_dict()
