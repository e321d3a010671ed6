"""Inference backends: raw pixels in, class probabilities out, from a checkpoint or ONNX.

``detect`` runs a model through a :class:`Predictor`, which hides whether the model is a
geonoise checkpoint run by eager PyTorch (:class:`TorchPredictor`) or an exported ``.onnx``
file run by ONNX Runtime (:class:`OnnxPredictor`). Both take a float32 batch of *raw* pixel
values ``(N, bands, H, W)`` (normalisation with the model's band statistics happens
inside) and return softmax probabilities ``(N, classes, H, W)``. ``H`` and ``W`` must be
multiples of :attr:`Predictor.multiple`; callers pad (see
:func:`pad_to_multiple`).

:class:`ProbabilityModel` is the network that both backends compute (normalise → NRN-RSSEG →
softmax, hint dropped); :mod:`geonoise.models.export` writes the same module to ONNX, so the two
backends cannot drift apart.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

from geonoise.errors import InvalidInputError, ReadError
from geonoise.models.checkpoint import ModelMeta, meta_from_file
from geonoise.models.config import ModelConfig
from geonoise.models.validation import MetaError, check_multiple, one_line
from geonoise.windows import pad_amounts

logger = logging.getLogger(__name__)
#: The status ONNX Runtime puts before its messages: ``[ONNXRuntimeError] : 7 : ``.
_ORT_STATUS = re.compile(r"^\[ONNXRuntimeError\] : \d+ : ")
#: The place in its C++ source it names: ``/onnxruntime_src/…/graph.cc:1617 void f() ``.
_ORT_SOURCE = re.compile(r"\S+\.(?:cc|cpp|h):\d+ [^()]*\([^)]*\)\s*")

if TYPE_CHECKING:
    import numpy as np
    import torch

    from geonoise.models.nrn_rsseg import NRNRSSEG

Device = Literal["auto", "cpu", "cuda"]

#: Names of the ONNX graph's input and output.
INPUT_NAME = "image"
OUTPUT_NAME = "probabilities"
#: ``metadata_props`` key holding the full :class:`ModelMeta` as JSON.
META_KEY = "geonoise_meta"
#: ``metadata_props`` key holding :attr:`Predictor.multiple`.
MULTIPLE_KEY = "multiple"


@runtime_checkable
class Predictor(Protocol):
    """A model ready for inference: raw pixels in, class probabilities out."""

    meta: ModelMeta
    multiple: int

    def predict(self, image: np.ndarray) -> np.ndarray:
        """Probabilities ``(N, K, H, W)`` float32 for raw pixels ``(N, bands, H, W)``."""
        ...


@functools.cache
def _probability_model_class() -> type:
    """The ``ProbabilityModel`` class, defined on first use: the ONNX path never imports torch."""
    import torch
    from torch import nn

    from geonoise.models.normalise import BandNormaliser

    class ProbabilityModel(nn.Module):
        """Normalise raw pixels, run NRN-RSSEG, return softmax probabilities (hint dropped)."""

        def __init__(self, model: NRNRSSEG, meta: ModelMeta) -> None:
            super().__init__()
            self.model = model
            self.normalise = BandNormaliser.of(meta)

        def forward(self, image: torch.Tensor) -> torch.Tensor:
            logits, _ = self.model(self.normalise(image))
            return torch.softmax(logits, dim=1)

    return ProbabilityModel


def probability_model(model: NRNRSSEG, meta: ModelMeta) -> torch.nn.Module:
    """``model`` wrapped to take raw pixels and return probabilities, in eval mode."""
    sizes = [len(v) for v in (meta.band_mean, meta.band_std, meta.band_low, meta.band_high) if v]
    if any(size != meta.bands for size in sizes):
        raise ReadError(
            f"the model's normalisation has {len(meta.band_mean)} means and "
            f"{len(meta.band_std)} deviations for {meta.bands} bands"
        )
    return _probability_model_class()(model, meta).eval()


def check_batch(image: np.ndarray, meta: ModelMeta, multiple: int) -> np.ndarray:
    """``image`` as a C-contiguous float32 ``(N, bands, H, W)`` array, or InvalidInputError.

    Pixels without data (NaN) are given the band's mean, which the model maps to 0:
    models exported before they learned to fill NaN themselves would otherwise
    spread it through their convolutions.
    """
    import numpy as np

    batch = np.ascontiguousarray(image, dtype=np.float32)
    if batch.ndim != 4:
        raise InvalidInputError(
            f"expected a batch (N, bands, H, W) of images, got an array of shape {batch.shape}"
        )
    if batch.shape[1] != meta.bands:
        raise InvalidInputError(
            f"the model takes {meta.bands} bands, the images have {batch.shape[1]}; "
            "pick the bands it was trained on"
        )
    height, width = batch.shape[2:]
    if height % multiple or width % multiple:
        raise InvalidInputError(
            f"image height and width must be multiples of {multiple}, got {height}×{width}; "
            "pad them (geonoise.models.inference.pad_to_multiple)"
        )
    missing = np.isnan(batch)
    if missing.any():
        mean = np.asarray(meta.band_mean, np.float32)[None, :, None, None]
        batch = np.where(missing, mean, batch)
    return batch


def resolve_device(device: str, has_cuda: bool, backend: str) -> Literal["cpu", "cuda"]:
    """``auto|cpu|cuda`` → ``cpu`` or ``cuda`` for a backend that ``has_cuda`` or not.

    Raises:
        InvalidInputError: On ``cuda`` without CUDA, or an unknown name (option ``--device``).
    """
    match device:
        case "auto":
            return "cuda" if has_cuda else "cpu"
        case "cpu":
            return "cpu"
        case "cuda" if has_cuda:
            return "cuda"
        case "cuda":
            message = f"CUDA is not available to {backend} here; use --device cpu or auto"
        case _:
            message = f"unknown device {device!r}; choose auto, cpu or cuda"
    raise InvalidInputError(message, option="--device")


def torch_device(device: str) -> str:
    """The torch device for ``auto|cpu|cuda``."""
    import torch

    return resolve_device(device, torch.cuda.is_available(), "PyTorch")


def onnx_providers(device: str) -> list[str]:
    """ONNX Runtime execution providers for ``auto|cpu|cuda`` (CPU always as the fallback)."""
    import onnxruntime as ort

    has_cuda = "CUDAExecutionProvider" in ort.get_available_providers()
    if resolve_device(device, has_cuda, "ONNX Runtime") == "cuda":
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    return ["CPUExecutionProvider"]


class TorchPredictor:
    """Eager PyTorch inference for a loaded NRN-RSSEG.

    The predictor takes ``model`` over: it is put in eval mode and moved to ``device`` and
    the memory format in place (as :meth:`torch.nn.Module.to` does).

    Args:
        model: The network (e.g. from :func:`geonoise.models.checkpoint.load_model`).
        meta: Its metadata (bands, classes, normalisation).
        device: ``auto``, ``cpu``, ``cuda`` or any torch device string.
        channels_last: Run in the channels-last memory format, which lets oneDNN pick faster
            convolution kernels on CPU (faster for the tiny and seed presets: benchmarks/onnx.md).
            ``None``: on CPU only.
    """

    def __init__(
        self,
        model: NRNRSSEG,
        meta: ModelMeta,
        device: str = "cpu",
        channels_last: bool | None = None,
    ) -> None:
        import torch

        self.meta = meta
        self.multiple = int(model.multiple)
        named = device in ("auto", "cpu", "cuda")
        self.device = torch.device(torch_device(device) if named else device)
        self.channels_last = self.device.type == "cpu" if channels_last is None else channels_last
        self.format = torch.channels_last if self.channels_last else torch.contiguous_format
        self.module = probability_model(model, meta).to(self.device, memory_format=self.format)

    def predict(self, image: np.ndarray) -> np.ndarray:
        """Probabilities ``(N, K, H, W)`` float32 for raw pixels ``(N, bands, H, W)``."""
        import torch

        batch = torch.from_numpy(check_batch(image, self.meta, self.multiple))
        with torch.inference_mode():
            x = batch.to(self.device, memory_format=self.format)
            return self.module(x).float().contiguous().cpu().numpy()


class OnnxPredictor:
    """ONNX Runtime inference for a ``.onnx`` file written by ``geonoise export``.

    Args:
        path: The ONNX model; its ``metadata_props`` carry the :class:`ModelMeta`.
        providers: Execution providers; default CUDA where ONNX Runtime has it, else CPU.
        threads: Intra-op threads; ``None`` lets ONNX Runtime use every physical core.
        spin: Whether ONNX Runtime's threads busy-wait for work between and within runs
            (its default, the fastest for back-to-back runs). Callers that work beside
            the model, as ``detect`` does, turn it off so that the idle threads leave
            the cores to them.

    Raises:
        ReadError: If ONNX Runtime cannot load ``path`` or it carries no geonoise metadata.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        providers: list[str] | None = None,
        threads: int | None = None,
        spin: bool = True,
    ) -> None:
        self.path = Path(path)
        self.session = _open_session(self.path, providers or onnx_providers("auto"), threads, spin)
        self.meta, self.multiple = _read_onnx_meta(self.session, self.path)

    @property
    def providers(self) -> list[str]:
        """The providers the session really uses, in priority order."""
        return list(self.session.get_providers())

    def predict(self, image: np.ndarray) -> np.ndarray:
        """Probabilities ``(N, K, H, W)`` float32 for raw pixels ``(N, bands, H, W)``."""
        batch = check_batch(image, self.meta, self.multiple)
        try:
            (probabilities,) = self.session.run([OUTPUT_NAME], {INPUT_NAME: batch})
        except Exception as exc:  # ORT's own exception types, as in _open_session
            reason = _ort_reason(exc, self.path)
            raise ReadError(f"ONNX Runtime cannot run {self.path}: {reason}") from exc
        return probabilities


def _open_session(path: Path, providers: list[str], threads: int | None, spin: bool) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if threads is not None:
        options.intra_op_num_threads = threads
    if not spin:
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3  # errors only: ORT's warnings would go to stderr unasked
    try:
        return _session(path, options, providers)
    except Exception as exc:  # ORT raises its own exception types, none with a common base
        raise ReadError(f"ONNX Runtime cannot load {path}: {_ort_reason(exc, path)}") from exc


def _ort_reason(exc: Exception, path: Path) -> str:
    """ONNX Runtime's message in one line, without its status code, source line and our path."""
    reason = _ORT_STATUS.sub("", str(exc)).replace(f"Load model from {path} failed:", "")
    return one_line(_ORT_SOURCE.sub("", reason) or exc)


def _session(path: Path, options: Any, providers: list[str]) -> Any:
    """A session on ``providers``; if they fail and are not the CPU alone, on the CPU.

    That is ONNX Runtime's own fallback, done here because ONNX Runtime prints
    banners to stdout when it falls back.
    """
    import onnxruntime as ort

    cpu = ["CPUExecutionProvider"]
    try:
        return ort.InferenceSession(str(path), options, providers=providers, enable_fallback=0)
    except Exception as exc:
        if providers == cpu:
            raise
        logger.warning(
            "ONNX Runtime cannot use %s (%s); trying the CPU", providers[0], one_line(exc)
        )
    return ort.InferenceSession(str(path), options, providers=cpu, enable_fallback=0)


def _read_onnx_meta(session: Any, path: Path) -> tuple[ModelMeta, int]:
    """The checked metadata of an export and its size multiple; the graph must fit them."""
    try:
        props = session.get_modelmeta().custom_metadata_map
    except UnicodeDecodeError as exc:
        raise ReadError(f"{path} has unreadable metadata: {exc}") from exc
    if META_KEY not in props or MULTIPLE_KEY not in props:
        raise ReadError(
            f"{path} carries no geonoise metadata (bands, classes, normalisation); "
            "export it with `geonoise export CHECKPOINT -o MODEL.onnx`"
        )
    try:
        values = json.loads(props[META_KEY])
    except ValueError as exc:
        raise ReadError(f"{path} has unreadable geonoise metadata: {exc}") from exc
    meta = meta_from_file(values, path)
    try:
        multiple = check_multiple(props[MULTIPLE_KEY], ModelConfig.from_dict(meta.model))
    except MetaError as exc:
        raise ReadError(f"{path} has unusable geonoise metadata: {exc}") from exc
    _check_graph(session, meta, path)
    return meta, multiple


def _check_graph(session: Any, meta: ModelMeta, path: Path) -> None:
    """Refuse a graph whose input or output is not the one its metadata describes."""
    inputs = {i.name: i.shape for i in session.get_inputs()}
    outputs = {o.name: o.shape for o in session.get_outputs()}
    expected = (
        (inputs, INPUT_NAME, "input", meta.bands, "bands"),
        (outputs, OUTPUT_NAME, "output", meta.num_classes, "classes"),
    )
    for found, name, role, size, what in expected:
        shape = found.get(name)
        if shape is None or len(shape) != 4:
            raise ReadError(
                f"{path} has no 4-dimensional {role} {name!r} (found {', '.join(found)}); "
                "export it with `geonoise export`"
            )
        if isinstance(shape[1], int) and shape[1] != size:
            raise ReadError(
                f"{path}: its graph's {role} has {shape[1]} {what}, its metadata says {size}"
            )


def predict_windows(predictor: Predictor, images: np.ndarray, tta: bool) -> np.ndarray:
    """Probabilities of a batch, optionally averaged over the eight D4 transforms.

    The eight views go through the model one call each: on a CPU, one call of
    eight times the batch ran slower (ONNX Runtime, tiny preset, batch 4 at 256²).
    """
    import numpy as np

    if not tta:
        return predictor.predict(images)
    total = None
    for turns in range(4):
        turned = np.ascontiguousarray(np.rot90(images, turns, axes=(2, 3)))
        for flip in (False, True):
            view = np.ascontiguousarray(turned[..., ::-1]) if flip else turned
            probs = predictor.predict(view)
            probs = np.rot90(probs[..., ::-1] if flip else probs, -turns, axes=(2, 3))
            if total is None:
                total = np.array(probs, dtype=np.float32, order="C")
            else:
                total += probs
    total *= np.float32(1 / 8)
    return total


def label_probability(
    probs: np.ndarray, labels: np.ndarray, weights: np.ndarray | None = None
) -> np.ndarray:
    """``p(label)`` per pixel (NaN where the label is ignored or unknown to the model).

    Args:
        probs: Class probabilities ``(…, K, H, W)``, or weighted sums of them.
        labels: Class ids ``(…, H, W)``; 255 = ignore.
        weights: The sums' weights ``(H, W)``, when ``probs`` are sums (blended
            windows): only the label's class is divided by them.
    """
    import numpy as np

    from geonoise.contracts import IGNORE

    classes = probs.shape[-3]
    known = (labels < classes) & (labels != IGNORE)
    index = np.where(known, labels, 0).astype(np.intp)
    picked = np.squeeze(np.take_along_axis(probs, np.expand_dims(index, -3), axis=-3), -3)
    if weights is not None:
        picked = picked / np.maximum(weights, 1e-12)
    return np.where(known, picked, np.nan).astype(np.float32, copy=False)


def pad_to_multiple(image: np.ndarray, multiple: int) -> np.ndarray:
    """Pad the bottom and right of ``image (C, H, W)`` up to multiples of ``multiple``.

    The pad mirrors the image where it is large enough (:func:`geonoise.windows.pad_amounts`),
    as :func:`geonoise.models.nrn_rsseg.pad_to_multiple` does for tensors.
    """
    import numpy as np

    pad_h, pad_w, reflect = pad_amounts(image.shape[-2], image.shape[-1], multiple)
    widths = ((0, 0),) * (image.ndim - 2) + ((0, pad_h), (0, pad_w))
    return np.pad(image, widths, mode="reflect" if reflect else "edge")


def open_predictor(
    path: str | os.PathLike,
    device: Device = "auto",
    *,
    threads: int | None = None,
    spin: bool = True,
) -> Predictor:
    """The predictor for a model file: ``.onnx`` → ONNX Runtime, anything else → PyTorch.

    Args:
        path: A geonoise checkpoint or an ONNX file from ``geonoise export``.
        device: ``auto`` (CUDA where available, else CPU), ``cpu`` or ``cuda``.
        threads: ONNX Runtime intra-op threads (PyTorch uses its global setting).
        spin: Let ONNX Runtime's idle threads busy-wait (see :class:`OnnxPredictor`).

    Raises:
        ReadError: If the file cannot be read as a geonoise model.
        InvalidInputError: If ``device`` is ``cuda`` and the backend has no CUDA.
    """
    if Path(path).suffix.lower() == ".onnx":
        return OnnxPredictor(path, providers=onnx_providers(device), threads=threads, spin=spin)
    from geonoise.models.checkpoint import load_model

    resolved = torch_device(device)
    model, meta = load_model(path)
    return TorchPredictor(model, meta, device=resolved)
