"""How long a run trains: a budget of optimizer steps, and the learning rate along it.

Epochs over a handful of tiles give small data a few dozen updates; a budget
counted in optimizer steps does not depend on how the data is cut. The default
grows with the training area (in windows of the crop size) between a floor that
lets small scenes learn and a ceiling that keeps large ones affordable; ``--steps``
sets it, and ``--epochs`` (passes over the training tiles) is still understood.
Validation runs a fixed number of times over the budget, and the learning rate
warms up linearly, then follows a cosine down to zero, step by step.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

#: The default budget: ``STEPS_PER_WINDOW`` steps per training window, within these bounds
#: (measured in ``benchmarks/training_choices.md``).
MIN_STEPS = 500
MAX_STEPS = 20000
STEPS_PER_WINDOW = 4
#: Validations over a run whose budget is in steps.
VALIDATIONS = 20


@dataclass(frozen=True)
class Budget:
    """Optimizer steps of a run, steps between validations, and the rule that chose them."""

    steps: int
    val_every: int
    rule: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def plan_budget(
    *,
    steps: int | None,
    epochs: int | None,
    batch_size: int,
    train_tiles: int,
    windows: int,
) -> Budget:
    """The budget from ``steps``, else ``epochs``, else the default rule.

    Args:
        steps: Optimizer steps asked for (``--steps``).
        epochs: Passes over the training tiles asked for (``--epochs``): that many times
            ``ceil(train_tiles / batch_size)`` steps, validating after each pass.
        batch_size: Samples per step.
        train_tiles: Training tiles.
        windows: The training area in windows of the crop size (labelled pixels / crop²).
    """
    per_pass = max(math.ceil(train_tiles / batch_size), 1)
    if steps is not None:
        total, rule = int(steps), "--steps"
    elif epochs is not None:
        return Budget(epochs * per_pass, per_pass, f"--epochs {epochs} × {per_pass} steps")
    else:
        total = min(max(STEPS_PER_WINDOW * windows, MIN_STEPS), MAX_STEPS)
        rule = (
            f"{STEPS_PER_WINDOW} per training window ({windows}), within {MIN_STEPS}..{MAX_STEPS}"
        )
    every = max(math.ceil(total / VALIDATIONS), 1)
    return Budget(math.ceil(total / every) * every, every, rule)  # ends on a validation


def lr_factor(step: int, total: int, warmup: float) -> float:
    """Learning-rate factor at ``step`` of ``total``: linear warm-up, then cosine to 0."""
    warm = max(round(warmup * total), 1)
    if step < warm:
        return (step + 1) / warm
    progress = min((step - warm) / max(total - warm, 1), 1.0)
    return 0.5 * (1.0 + math.cos(math.pi * progress))
