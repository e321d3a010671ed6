"""The training parameters: one dataclass, loaded from YAML (``config.yaml``) and flags.

``config.yaml`` in the repository lists every key with its default and a
comment; ``--config`` loads such a file and flags override it, so a key the
dataclass does not know is an error wherever it comes from.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from typing import Any, Literal

from geonoise.errors import InvalidInputError

Role = Literal["teacher", "student"]
Sampler = Literal["windows", "tiles"]


@dataclass
class TrainConfig:
    """Every training parameter; ``config.yaml`` holds the same keys, with comments."""

    preset: str = "tiny"
    base_width: int | None = None
    depth: int | None = None
    class_names: list[str] | None = None
    class_values: list[int] | None = None
    steps: int | None = None
    epochs: int | None = None
    batch_size: int = 8
    lr: float = 2e-3
    warmup: float = 0.05
    weight_decay: float = 1e-4
    sce_alpha: float = 0.5
    sce_beta: float = 0.5
    distill_weight: float = 0.1
    augment: bool = True
    sampler: Sampler = "windows"
    window: int | None = None
    rare_share: float = 0.0
    binary_255: bool = False
    val_fraction: float = 0.2
    block_size: float | None = None
    folds: int = 1
    patience: int | None = None
    cache: bool = True
    num_workers: int = 0
    seed: int = 0
    precision: str = "32-true"
    accelerator: str = "auto"
    devices: str = "auto"
    strategy: str = "auto"
    loggers: list[str] = field(default_factory=lambda: ["csv"])

    @classmethod
    def keys(cls) -> set[str]:
        return {f.name for f in fields(cls)}

    @classmethod
    def from_mapping(cls, values: dict[str, Any], source: str = "config") -> TrainConfig:
        unknown = sorted(set(values) - cls.keys())
        if unknown:
            raise InvalidInputError(
                f"unknown key {unknown[0]!r} in {source} (known: {', '.join(sorted(cls.keys()))})",
                option="--config",
            )
        return cls(**values)


def load_config_file(path: str | os.PathLike) -> dict[str, Any]:
    """The training parameters of a YAML file, as a mapping of known keys.

    Raises:
        InvalidInputError: the file cannot be read, is not a mapping or has an unknown key
            (the message names the file; no option, so the caller may attach one).
    """
    import yaml

    try:
        with open(path, encoding="utf-8") as handle:
            content = yaml.safe_load(handle) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise InvalidInputError(f"cannot read {path}: {str(exc).splitlines()[0]}") from exc
    if not isinstance(content, dict):
        raise InvalidInputError(f"{path} must hold a mapping of training parameters")
    unknown = sorted(set(content) - TrainConfig.keys())
    if unknown:
        raise InvalidInputError(f"unknown key {unknown[0]!r} in {path}")
    return content
