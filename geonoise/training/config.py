"""The training parameters: one dataclass, loaded from YAML (``config.yaml``) and flags.

``config.yaml`` beside this module (installed with the package) lists every key
with its default and a comment; ``--print-config`` prints it and ``--config``
loads such a file, flags override it, and a key the dataclass does not know is
an error wherever it comes from.
"""

from __future__ import annotations

import os
import types
import typing
from dataclasses import dataclass, field, fields
from typing import Any, Literal

from geonoise.errors import InvalidInputError

Role = Literal["teacher", "student"]
Sampler = Literal["windows", "tiles"]
#: What a Noisy Student round does with a label the previous round finds confidently wrong.
RoundMode = Literal["ignore", "relabel"]


@dataclass
class TrainConfig:
    """Every training parameter; :func:`reference_config` holds the same keys, with comments."""

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
    rounds: int = 1
    round_threshold: float = 0.9
    round_mode: RoundMode = "relabel"
    dropout: float = 0.0
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


def reference_config() -> str:
    """The reference ``config.yaml``: every key with its default and what it does."""
    from importlib.resources import files

    return files("geonoise.training").joinpath("config.yaml").read_text(encoding="utf-8")


#: A config file larger than this is no list of training parameters.
MAX_CONFIG_BYTES = 1 << 20


def load_config_file(path: str | os.PathLike) -> dict[str, Any]:
    """The training parameters of a YAML file, as a mapping of known keys of the right types.

    YAML anchors and aliases are refused: a parameter file needs none, and
    nested aliases expand to gigabytes wherever the value is copied or printed.

    Raises:
        InvalidInputError: the file cannot be read, is not a mapping or has an unknown key
            or a value of the wrong type (the message names the file; no option, so the
            caller may attach one).
    """
    import yaml

    try:
        if os.path.getsize(path) > MAX_CONFIG_BYTES:
            raise InvalidInputError(f"{path} is over {MAX_CONFIG_BYTES >> 20} MiB: no config file")
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
        if any(isinstance(event, yaml.AliasEvent) for event in yaml.parse(text)):
            raise InvalidInputError(f"{path} uses YAML aliases (*name); write the values out")
        content = yaml.safe_load(text) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if isinstance(exc, UnicodeDecodeError):
            reason = "not a UTF-8 text file"
        raise InvalidInputError(f"cannot read {path}: {reason}") from exc
    if not isinstance(content, dict):
        raise InvalidInputError(f"{path} must hold a mapping of training parameters")
    unknown = sorted(set(map(str, content)) - TrainConfig.keys())
    if unknown:
        raise InvalidInputError(f"unknown key {unknown[0]!r} in {path}")
    hints = typing.get_type_hints(TrainConfig)
    for key, value in content.items():
        if not _is_a(value, hints[key]):
            raise InvalidInputError(f"{key}: {value!r} in {path} is not {_describe(hints[key])}")
    return content


def _is_a(value: Any, hint: Any) -> bool:
    """Whether a YAML value fits a TrainConfig annotation (no silent int(1.5) or bool("maybe"))."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_is_a(value, arg) for arg in args)
    if origin is Literal:
        return value in args
    if origin is list:  # items as written: class_names: [a, 3] is a slip
        item_type = args[0]
        return isinstance(value, list) and all(
            isinstance(item, str) if item_type is str else _is_a(item, item_type) for item in value
        )
    if hint is type(None):
        return value is None
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is str:  # devices: 2, precision: 16 are written as numbers
        return isinstance(value, (str, int)) and not isinstance(value, bool)
    return isinstance(value, hint)


def _describe(hint: Any) -> str:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_describe(arg) for arg in args)
    if origin is Literal:
        return "one of " + ", ".join(map(str, args))
    if origin is list:
        return f"a list of {_describe(args[0])}"
    names = {int: "a whole number", float: "a number", bool: "true or false", str: "text"}
    return names.get(hint, "null" if hint is type(None) else str(hint))
