"""Self-describing model files, loaded without running code from them.

A geonoise model file is a plain dictionary saved with :func:`torch.save`:
``format``, ``meta`` (everything ``detect`` needs besides the weights: model
hyper-parameters, bands, classes, normalisation, tile size, role, geonoise
version) and ``state_dict``. It is read back with ``torch.load(weights_only=True)``,
which refuses anything but tensors and plain containers, so loading a file from
someone else cannot execute code. Lightning checkpoints written by geonoise's
training tasks carry the same ``meta`` under the ``geonoise`` key and load the
same way.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field, fields
from typing import TYPE_CHECKING, Any

from geonoise import __version__
from geonoise.contracts import IGNORE
from geonoise.errors import InvalidInputError, ReadError

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


def read_checkpoint(path: str | os.PathLike) -> tuple[ModelMeta, dict[str, Any]]:
    """The meta and the network weights of a model file or a geonoise Lightning checkpoint."""
    import pickle

    import torch

    try:
        content = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError) as exc:
        raise ReadError(
            f"cannot load {path} as a geonoise model (only weights and plain "
            f"values are accepted): {str(exc).splitlines()[0]}"
        ) from exc
    if not isinstance(content, dict):
        raise ReadError(f"{path} is not a geonoise model file")
    if content.get("format") == FORMAT:
        return ModelMeta.from_dict(content["meta"]), content["state_dict"]
    if "geonoise" in content and "state_dict" in content:
        prefix = "model."
        weights = {
            k[len(prefix) :]: v for k, v in content["state_dict"].items() if k.startswith(prefix)
        }
        return ModelMeta.from_dict(content["geonoise"]), weights
    raise ReadError(f"{path} is not a geonoise model file or checkpoint (no geonoise metadata)")


def load_model(path: str | os.PathLike) -> tuple[NRNRSSEG, ModelMeta]:
    """Build the network described in ``path``, load its weights, return it in eval mode."""
    from geonoise.models.nrn_rsseg import NRNRSSEG, ModelConfig

    meta, weights = read_checkpoint(path)
    try:
        model = NRNRSSEG(ModelConfig.from_dict(meta.model))
        model.load_state_dict(weights)
    except (ValueError, RuntimeError, KeyError) as exc:
        raise ReadError(
            f"{path} does not match its own model description: {str(exc).splitlines()[0]}"
        ) from exc
    return model.eval(), meta


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
