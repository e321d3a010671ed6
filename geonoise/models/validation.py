"""Checks of the geonoise metadata in a model file, made before anything is built from it.

A model file may come from anyone: a truncated download, a hand-edited
export, a file crafted to break the tool. Every field that ``detect`` and
``export`` use is therefore checked for its type and its bounds as the file
is opened, before any array is sized from it: a missing key, a tile size of
10⁹, a band deviation of 0 or a class value of 300 is refused with a message
that names the field (and the band); the caller adds the file. Keys this
version does not know are left alone (files from newer versions).

No torch here: the ONNX inference path checks its metadata too.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from geonoise.contracts import IGNORE
from geonoise.models.config import MAX_DEPTH, ModelConfig, ModelConfigError

#: Largest tile size a model may carry: that of ``geonoise tile --size`` and ``detect --window``
#: (the smallest is the network's size multiple).
MAX_TILE_SIZE = 8192
#: The keys a model's metadata cannot do without.
REQUIRED = ("model", "class_names", "band_mean", "band_std", "tile_size")
#: Normalisation statistics are float32 inside the model: they must stay finite there, and
#: a deviation must stay a normal (non-zero after rounding) float32.
FLOAT32_MAX = 3.4028234663852886e38
FLOAT32_TINY = 1.1754943508222875e-38
#: Longest error message folded from a library's own (see :func:`one_line`).
MAX_REASON = 300
_ESCAPES = re.compile(r"\x1b\[[0-9;]*m")


class MetaError(ValueError):
    """What is wrong with a model's metadata; the caller names the file."""


def check_meta(values: Any) -> ModelConfig:
    """Check a model's metadata (a :class:`~geonoise.models.checkpoint.ModelMeta` as a dict).

    Returns:
        The network's hyper-parameters, checked.

    Raises:
        MetaError: On the first field that is missing, of the wrong type or out of bounds.
    """
    if not isinstance(values, Mapping):
        raise MetaError(f"the metadata is {_shown(values)}, not a mapping of fields")
    missing = [key for key in REQUIRED if key not in values]
    if missing:
        raise MetaError(f"the metadata has no {', '.join(missing)}")
    try:
        config = ModelConfig.from_dict(values["model"])
    except ModelConfigError as exc:
        raise MetaError(f"model: {exc}") from exc
    check_integer("tile_size", values["tile_size"], config.multiple, MAX_TILE_SIZE)
    _check_classes(values, config.num_classes)
    _check_normalisation(values, config.in_channels)
    for key in ("role", "geonoise_version"):
        if key in values and not isinstance(values[key], str):
            raise MetaError(f"{key} must be text, got {_shown(values[key])}")
    _check_training(values.get("training"))
    _check_holdout(values.get("holdout"))
    return config


def check_multiple(value: Any, config: ModelConfig) -> int:
    """The size multiple an ONNX export states (as text), checked against its network."""
    try:
        multiple = int(value)
    except (TypeError, ValueError):
        raise MetaError(f"multiple must be an integer, got {_shown(value)}") from None
    check_integer("multiple", multiple, 2, 2**MAX_DEPTH)
    if multiple != config.multiple:
        raise MetaError(
            f"multiple is {multiple} but its network (depth {config.depth}) needs {config.multiple}"
        )
    return multiple


def check_integer(name: str, value: Any, minimum: int, maximum: int) -> None:
    """Refuse a ``value`` that is not an integer (bools neither) from minimum to maximum."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise MetaError(f"{name} must be an integer, got {_shown(value)}")
    if not minimum <= value <= maximum:
        raise MetaError(f"{name} must be from {minimum} to {maximum}, got {value}")


def _check_classes(values: Mapping[str, Any], classes: int) -> None:
    names = values["class_names"]
    if not isinstance(names, list) or not all(
        isinstance(n, str) and n.isprintable() for n in names
    ):
        raise MetaError(f"class_names must be a list of one-line names, got {_shown(names)}")
    if len(names) != classes:
        raise MetaError(f"class_names has {len(names)} names for the network's {classes} classes")
    labels = values.get("class_values")
    if labels is None:
        return
    if not isinstance(labels, list) or len(labels) != classes:
        raise MetaError(
            f"class_values must list one label value per class ({classes}), got {_shown(labels)}"
        )
    for label in labels:
        check_integer("each of class_values", label, 0, IGNORE - 1)
    if len(set(labels)) != len(labels):
        raise MetaError(f"class_values repeats a label value: {labels}")


def _check_normalisation(values: Mapping[str, Any], bands: int) -> None:
    """Means and bounds finite, deviations positive and finite, one of each per band."""
    stats = {key: _band_values(values, key, bands) for key in ("band_mean", "band_std")}
    for key in ("band_low", "band_high"):
        if values.get(key) is not None:
            stats[key] = _band_values(values, key, bands)
    for band, std in enumerate(stats["band_std"], 1):
        if std < FLOAT32_TINY:
            raise MetaError(f"band_std of band {band} is {std}: a deviation must be positive")
    if "band_low" in stats and "band_high" in stats:
        pairs = zip(stats["band_low"], stats["band_high"], strict=True)
        for band, (low, high) in enumerate(pairs, 1):
            if low > high:
                raise MetaError(f"band_low of band {band} ({low}) is above its band_high ({high})")


def _band_values(values: Mapping[str, Any], key: str, bands: int) -> list[float]:
    """One finite float32 number per band from ``values[key]``."""
    numbers = values[key]
    if not isinstance(numbers, list) or not all(_is_number(v) for v in numbers):
        raise MetaError(f"{key} must be a list of numbers, one per band, got {_shown(numbers)}")
    if len(numbers) != bands:
        raise MetaError(f"{key} has {len(numbers)} values for the network's {bands} bands")
    for band, number in enumerate(numbers, 1):
        if not (math.isfinite(number) and abs(number) <= FLOAT32_MAX):
            raise MetaError(f"{key} of band {band} is {number}: it must be a finite number")
    return [float(v) for v in numbers]


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_training(training: Any) -> None:
    """The training record: a mapping; its diagnosis, if any, a list of classes."""
    if training is None:
        return
    if not isinstance(training, Mapping):
        raise MetaError(f"training must be a mapping, got {_shown(training)}")
    diagnosis = training.get("diagnosis")
    if diagnosis is None:
        return
    classes = diagnosis.get("classes", []) if isinstance(diagnosis, Mapping) else None
    if not isinstance(classes, list) or not all(
        isinstance(c, Mapping) and isinstance(c.get("name"), str) for c in classes
    ):
        raise MetaError("training.diagnosis must list its classes as mappings with a name")


def _check_holdout(holdout: Any) -> None:
    """The held-out region of a cross-fitted model: a WKT geometry and its CRS."""
    if not holdout:
        return
    if not (
        isinstance(holdout, Mapping)
        and isinstance(holdout.get("crs"), str)
        and isinstance(holdout.get("wkt"), str)
    ):
        raise MetaError(f"holdout must map crs and wkt to text, got {_shown(holdout)}")
    import shapely
    from pyproj import CRS
    from pyproj.exceptions import CRSError

    try:
        shapely.from_wkt(holdout["wkt"])
        CRS.from_wkt(holdout["crs"])
    except (shapely.errors.ShapelyError, CRSError) as exc:
        raise MetaError(f"holdout is not a readable region: {one_line(exc)}") from exc


def _shown(value: Any) -> str:
    """A short, one-line rendering of a bad value for a message."""
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:39]}…"


def one_line(error: BaseException | str) -> str:
    """The message of a library's exception (torch, ONNX Runtime) folded into one line.

    ONNX Runtime's messages span several lines (the error, then the node or
    file it concerns); each line is kept, joined, and the whole shortened to
    :data:`MAX_REASON` characters. Terminal escapes (bold text) are dropped.
    """
    lines = _ESCAPES.sub("", str(error)).splitlines()
    text = " ".join(line.strip() for line in lines if line.strip())
    text = text or type(error).__name__
    return text if len(text) <= MAX_REASON else f"{text[: MAX_REASON - 1]}…"
