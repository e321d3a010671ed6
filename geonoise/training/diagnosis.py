"""Did it learn? A trained model's validation scores checked for classes it never learned.

A noise map from a model that learned nothing of a class is a map of that
class's prior, not of label noise: users must hear so from the training command,
not discover it in QGIS. :func:`diagnose` looks at the best epoch's per-class
validation IoU and names the likely causes from what the run knows: how many
optimizer steps ran, how rare the class is in the training labels, how many
training tiles there were, and whether a band had no spread to normalise.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

#: A class whose validation IoU is below this has, in effect, not been learned.
NEAR_ZERO_IOU = 0.05
#: A class below this share of the training pixels counts as rare.
RARE_SHARE = 0.05
#: Fewer optimizer steps than this are unlikely to be enough on real imagery.
FEW_STEPS = 500
#: Fewer training tiles than this give a noisy estimate of anything.
FEW_TILES = 8
#: A band whose standard deviation is at most this carries no information.
FLAT_STD = 1e-6


@dataclass
class ClassCheck:
    """One class: its validation IoU (None where validation has none of it) and its shares."""

    name: str
    value: int
    iou: float | None
    train_share: float
    val_share: float

    @property
    def learned(self) -> bool | None:
        """False where validation holds the class and its IoU is near zero; None unknown."""
        return None if self.iou is None else self.iou >= NEAR_ZERO_IOU


@dataclass
class Diagnosis:
    """Whether every class the validation tiles hold was learned, and why not."""

    classes: list[ClassCheck]
    warnings: list[str] = field(default_factory=list)

    @property
    def learned(self) -> bool:
        return all(c.learned is not False for c in self.classes)

    def to_dict(self) -> dict[str, Any]:
        return {
            "learned": self.learned,
            "classes": [{**asdict(c), "learned": c.learned} for c in self.classes],
            "warnings": self.warnings,
        }


def diagnose(
    metrics: Mapping[str, float],
    class_names: Sequence[str],
    class_values: Sequence[int],
    train_shares: Mapping[int, float],
    val_shares: Mapping[int, float],
    *,
    steps: int,
    train_tiles: int,
    band_std: Sequence[float] = (),
) -> Diagnosis:
    """Check the best epoch's validation IoU per class and explain the classes not learned.

    Args:
        metrics: The best epoch's validation metrics (``val_iou_<name>`` per class).
        class_names, class_values: The model's classes.
        train_shares, val_shares: Share of the labelled pixels per class value.
        steps: Optimizer steps the run made.
        train_tiles: Training samples (tiles) the run had.
        band_std: The normalisation's per-band standard deviation.
    """
    checks = []
    for name, value in zip(class_names, class_values, strict=True):
        val_share = float(val_shares.get(value, 0.0))
        iou = metrics.get(f"val_iou_{name}")
        known = iou is not None and val_share > 0 and iou == iou  # NaN: not measured
        checks.append(
            ClassCheck(
                name,
                int(value),
                float(iou) if known else None,
                float(train_shares.get(value, 0.0)),
                val_share,
            )
        )
    diagnosis = Diagnosis(checks)
    missed = [c for c in checks if c.learned is False]
    if missed:
        diagnosis.warnings = _explain(missed, checks, steps, train_tiles, band_std)
    return diagnosis


def _explain(
    missed: list[ClassCheck],
    checks: list[ClassCheck],
    steps: int,
    train_tiles: int,
    band_std: Sequence[float],
) -> list[str]:
    learned = [c for c in checks if c.learned]
    names = ", ".join(f"{c.name} (IoU {c.iou:.2f})" for c in missed)
    if len(learned) <= 1 and len(missed) >= len(checks) - 1:
        only = f" it predicts little but {learned[0].name}" if learned else ""
        head = f"the model learned nothing of {names}:{only}"
    else:
        head = f"the model learned nothing of {names}"
    causes = []
    if steps < FEW_STEPS:
        causes.append(f"only {steps} optimizer steps ran (give it more with --steps)")
    for check in missed:
        if check.train_share == 0:
            causes.append(f"{check.name} is absent from the training tiles")
        elif check.train_share < RARE_SHARE:
            causes.append(
                f"{check.name} covers {check.train_share:.1%} of the training pixels (imbalance)"
            )
    if train_tiles < FEW_TILES:
        causes.append(f"only {train_tiles} training tiles (tile smaller, or label more)")
    flat = [str(b + 1) for b, s in enumerate(band_std) if s <= FLAT_STD]
    if flat:
        causes.append(f"band {', '.join(flat)} is constant in the training tiles (normalisation)")
    if not causes:
        causes.append("the classes may not be separable in these bands at this resolution")
    return [
        f"{head}; likely causes: {'; '.join(causes)}. "
        "Its noise map would show that class's prior, not label noise."
    ]
