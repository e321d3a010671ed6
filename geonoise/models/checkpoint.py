"""Self-describing model files, loaded without running code from them.

A geonoise model file is a plain dictionary saved with :func:`torch.save`:
``format``, ``meta`` (everything ``detect`` needs besides the weights: model
hyper-parameters, bands, classes, normalisation, tile size, role, geonoise
version) and ``state_dict``. It is read back with ``torch.load(weights_only=True)``,
which refuses anything but tensors and plain containers, so loading a file from
someone else cannot execute code. Lightning checkpoints written by geonoise's
training tasks carry the same ``meta`` under the ``geonoise`` key and load the
same way. A file may come from anyone: its ``meta`` is checked field by field
before use (:mod:`geonoise.models.validation`), and its weights are compared
with the network that ``meta`` describes before that network is built.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field, fields
from typing import TYPE_CHECKING, Any

from geonoise import __version__
from geonoise.contracts import IGNORE
from geonoise.errors import InvalidInputError, ReadError
from geonoise.models.validation import MetaError, check_meta, one_line

if TYPE_CHECKING:
    import numpy as np
    import torch

    from geonoise.models.nrn_rsseg import NRNRSSEG

FORMAT = "geonoise-model/1"


@dataclass
class ModelMeta:
    """What a trained model needs to be used on new data."""

    model: dict[str, Any]
    class_names: list[str]
    band_mean: list[float]
    band_std: list[float]
    tile_size: int
    role: str = "teacher"
    geonoise_version: str = __version__
    training: dict[str, Any] = field(default_factory=dict)
    #: Where this model never saw a label (cross-fitting): ``{"crs": WKT, "wkt": geometry}``.
    #: None for a model that may score anywhere. See :mod:`geonoise.models.modelset`.
    holdout: dict[str, str] | None = None
    #: Robust per-band bounds the pixels are clipped to before standardising (None: none,
    #: as in files before 0.2). See :class:`~geonoise.data.stats.BandStats`.
    band_low: list[float] | None = None
    band_high: list[float] | None = None
    #: The label value of each class the model outputs, in output order (e.g. ``[1, …, 7]``
    #: for land cover labelled 1..7). None: ``0 .. num_classes - 1`` (files before 0.2).
    class_values: list[int] | None = None

    @property
    def bands(self) -> int:
        return int(self.model["in_channels"])

    @property
    def num_classes(self) -> int:
        return int(self.model["num_classes"])

    @property
    def values(self) -> list[int]:
        """The label value of each output class, in output order."""
        if self.class_values is None:
            return list(range(self.num_classes))
        return [int(v) for v in self.class_values]

    @property
    def unlearned(self) -> list[str]:
        """Classes its training found it did not learn (validation IoU near zero)."""
        diagnosis = (self.training or {}).get("diagnosis") or {}
        return [c["name"] for c in diagnosis.get("classes", []) if c.get("learned") is False]

    def label_lut(self) -> np.ndarray:
        """256 entries: label value → output class; 255 for values the model does not know."""
        import numpy as np

        lut = np.full(256, IGNORE, np.uint8)
        lut[self.values] = np.arange(self.num_classes, dtype=np.uint8)
        return lut

    def value_lut(self) -> np.ndarray:
        """Output class → label value (uint8), to write predictions as labels are written."""
        import numpy as np

        return np.asarray(self.values, np.uint8)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> ModelMeta:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})


def save_model(path: str | os.PathLike, model: torch.nn.Module, meta: ModelMeta) -> None:
    """Write ``model``'s weights and ``meta`` to ``path`` (no optimizer state)."""
    import torch

    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    torch.save({"format": FORMAT, "meta": meta.to_dict(), "state_dict": state}, path)


def read_checkpoint(path: str | os.PathLike) -> tuple[ModelMeta, dict[str, torch.Tensor]]:
    """The meta and the network weights of a model file or a geonoise Lightning checkpoint.

    Raises:
        ReadError: If ``path`` cannot be loaded, holds anything but plain values and
            tensors, or its metadata or weights are missing or unusable (see
            :mod:`geonoise.models.validation`).
    """
    content = _load(path)
    if not isinstance(content, dict):
        raise ReadError(f"{path} is not a geonoise model file")
    if isinstance(content.get("format"), str) and content["format"] == FORMAT:
        meta, weights = content.get("meta"), content.get("state_dict")
    elif "geonoise" in content and "state_dict" in content:
        meta, weights = content["geonoise"], _network_weights(content["state_dict"])
    else:
        raise ReadError(f"{path} is not a geonoise model file or checkpoint (no geonoise metadata)")
    return meta_from_file(meta, path), _checked_weights(weights, path)


def meta_from_file(values: Any, path: str | os.PathLike) -> ModelMeta:
    """The :class:`ModelMeta` stored in the model file ``path``, checked before any use.

    Raises:
        ReadError: Naming ``path`` and the first field that is missing or out of bounds.
    """
    try:
        check_meta(values)
    except MetaError as exc:
        raise ReadError(f"{path} has unusable geonoise metadata: {exc}") from exc
    return ModelMeta.from_dict(values)


def _load(path: str | os.PathLike) -> Any:
    """The content of a file saved with :func:`torch.save`, plain values and tensors only."""
    import torch

    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # damaged files fail in many ways inside torch.load
        raise ReadError(f"cannot load {path} as a geonoise model: {_why(exc)}") from exc


#: Where torch.load's refusal of a file says what it found.
_UNPICKLER = "WeightsUnpickler error:"


def _why(exc: Exception) -> str:
    """Why :func:`torch.load` (``weights_only=True``) could not load a file, in one clause."""
    if isinstance(exc, FileNotFoundError | PermissionError | IsADirectoryError):
        return exc.strerror or one_line(exc)
    # torch's refusals give a page of advice on trusting the file before what it found
    found = str(exc).partition(_UNPICKLER)[2].split("Check the documentation")[0]
    reason = one_line(found.strip() or exc).split(". ")[0]
    if "Unsupported global" in reason:
        return f"it holds more than weights and plain values; loading it could run code ({reason})"
    return f"the file is damaged or not a model file ({reason})"


def _network_weights(state: Any) -> Any:
    """The network's weights in a Lightning checkpoint's state (keys ``model.*``)."""
    if not isinstance(state, dict):
        return state  # refused by _checked_weights
    prefix = "model."
    return {
        k[len(prefix) :]: v for k, v in state.items() if isinstance(k, str) and k.startswith(prefix)
    }


def _checked_weights(weights: Any, path: str | os.PathLike) -> dict[str, torch.Tensor]:
    import torch

    if not isinstance(weights, dict) or not weights:
        raise ReadError(f"{path} holds no network weights (state_dict)")
    for name, tensor in weights.items():
        if not isinstance(name, str) or not isinstance(tensor, torch.Tensor):
            raise ReadError(f"{path} has a weight {name!r:.40} that is not a tensor")
    return weights


def load_model(path: str | os.PathLike) -> tuple[NRNRSSEG, ModelMeta]:
    """Build the network described in ``path``, load its weights, return it in eval mode.

    The weights' names and shapes are compared with the network's before it is
    built, so a file cannot make it allocate more than its weights hold.

    Raises:
        ReadError: If ``path`` is not a usable geonoise model (see :func:`read_checkpoint`),
            its weights do not fit its network, or some are NaN or infinite.
    """
    import torch

    from geonoise.models.nrn_rsseg import NRNRSSEG, ModelConfig

    meta, weights = read_checkpoint(path)
    with torch.device("meta"):  # shapes only, no memory
        model = NRNRSSEG(ModelConfig.from_dict(meta.model))
    _check_fit(model.state_dict(), weights, path)
    model = model.to_empty(device="cpu")
    try:
        model.load_state_dict(weights)
    except (RuntimeError, TypeError) as exc:  # e.g. weights of a type that cannot be copied
        raise ReadError(f"{path} has weights that cannot be loaded: {one_line(exc)}") from exc
    return model.eval(), meta


def _check_fit(
    expected: dict[str, torch.Tensor], weights: dict[str, torch.Tensor], path: str | os.PathLike
) -> None:
    """Refuse weights that are not exactly the network's, or that are not finite."""
    problems = [f"no weight {name}" for name in expected if name not in weights]
    problems += [f"an unknown weight {name}" for name in weights if name not in expected]
    problems += [
        f"{name} is {list(weights[name].shape)}, the network needs {list(tensor.shape)}"
        for name, tensor in expected.items()
        if name in weights and weights[name].shape != tensor.shape
    ]
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise ReadError(f"{path} does not match its own model description: {problems[0]}{more}")
    for name, tensor in weights.items():
        if tensor.is_floating_point() and not tensor.isfinite().all():
            raise ReadError(f"{path} has NaN or infinite weights in {name}")


def check_compatible(
    meta: ModelMeta, bands: int, values: list[int], what: str, option: str
) -> None:
    """Refuse a model whose bands or class values do not fit data with ``bands`` and ``values``."""
    problems = []
    if meta.bands != bands:
        problems.append(f"it takes {meta.bands} bands, the data has {bands}")
    if meta.values != list(values):
        problems.append(
            f"it knows the classes {_listed(meta.values)}, the data needs {_listed(values)}"
        )
    if problems:
        raise InvalidInputError(f"{what} does not fit: " + "; ".join(problems), option=option)


def _listed(values: list[int]) -> str:
    return ", ".join(str(v) for v in values)
