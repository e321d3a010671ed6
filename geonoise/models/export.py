"""Export a geonoise model file to a self-describing ONNX model for ONNX Runtime.

The exported graph is :func:`geonoise.models.inference.probability_model`: it takes raw pixels
``image (N, bands, H, W)`` float32 and returns ``probabilities (N, classes, H, W)`` (the
normalisation and the softmax are inside; the distillation hint is dropped), with batch,
height and width dynamic. The checkpoint's :class:`~geonoise.models.checkpoint.ModelMeta` travels in
the model's ``metadata_props`` (``geonoise_meta`` as JSON, plus readable ``bands``,
``classes``, ``tile_size``, ``multiple``, … keys), so ``detect`` needs nothing else.

Exporter choice: the legacy TorchScript-based exporter (``torch.onnx.export(...,
dynamo=False)``), deliberately. The ``torch.export``-based (dynamo) exporter, the default
since PyTorch 2.9, needs the ``onnxscript`` package, which geonoise does not depend on.
NRN-RSSEG's ``forward`` has no data-dependent control flow, so tracing captures it exactly,
and ``dynamic_axes`` marks batch, height and width as symbolic: the traced graph has no
shape-dependent constants (the tests run it at several sizes). The exporter's deprecation
warning is silenced here because the choice is made on purpose. Every export is verified:
``onnx.checker`` validates the graph and, unless ``check=False``, ONNX Runtime and PyTorch
are run on random batches of two different sizes and must agree within
:data:`TOLERANCE`, with no NaN or infinite probability in either (a NaN would
hide in the difference).
"""

from __future__ import annotations

import json
import os
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from geonoise import __version__
from geonoise.errors import GeonoiseError, InvalidInputError
from geonoise.io import atomic_output
from geonoise.models.inference import (
    INPUT_NAME,
    META_KEY,
    MULTIPLE_KEY,
    OUTPUT_NAME,
    OnnxPredictor,
    probability_model,
)

if TYPE_CHECKING:
    import torch

    from geonoise.models.checkpoint import ModelMeta

#: Largest absolute difference of probabilities between ONNX Runtime and PyTorch accepted.
TOLERANCE = 1e-4
#: Opsets the TorchScript exporter writes and that give softmax its per-axis meaning (≥ 13).
OPSETS = range(13, 21)
DEFAULT_OPSET = 17
_DYNAMIC = {0: "batch", 2: "height", 3: "width"}


class ExportMismatchError(GeonoiseError):
    """The exported ONNX model does not compute what the PyTorch model computes."""


@dataclass
class ExportResult:
    """An exported model: its file and size, and how it was checked against PyTorch.

    Attributes:
        max_abs_diff: Largest difference of probabilities from PyTorch (None unchecked).
        sizes_checked: The ``(N, H, W)`` batches compared.
    """

    output: str
    size: int
    opset: int
    max_abs_diff: float | None
    sizes_checked: list[list[int]]
    bands: int
    classes: list[str]
    multiple: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def export_onnx(
    model_path: str | os.PathLike,
    output: str | os.PathLike,
    *,
    opset: int = DEFAULT_OPSET,
    check: bool = True,
    overwrite: bool = False,
) -> ExportResult:
    """Write the model in ``model_path`` to ``output`` as ONNX with its metadata.

    Args:
        model_path: A geonoise model file or Lightning checkpoint.
        output: The ``.onnx`` file to write (atomically).
        opset: ONNX opset, 13 to 20.
        check: Compare ONNX Runtime with PyTorch on random batches of two sizes.
        overwrite: Replace an existing ``output``.

    Returns:
        What was written and how closely it matches PyTorch.

    Raises:
        OutputExistsError: If ``output`` exists and ``overwrite`` is false (before any work).
        ReadError: If ``model_path`` is not a geonoise model.
        InvalidInputError: On an opset out of range or an output not named ``*.onnx``.
        ExportMismatchError: If ONNX Runtime and PyTorch differ by more than :data:`TOLERANCE`,
            or either gives a NaN or infinite probability.
    """
    from geonoise.models.checkpoint import load_model

    _check_arguments(output, opset)
    with atomic_output(output, overwrite) as temporary:
        model, meta = load_model(model_path)
        module = probability_model(model, meta)
        _export_graph(module, meta.bands, model.multiple, temporary, opset)
        _attach_metadata(temporary, meta, model.multiple)
        sizes = check_sizes(model.multiple) if check else []
        max_diff = (
            compare_with_torch(module, temporary, sizes, source=model_path) if check else None
        )
    return ExportResult(
        output=str(output),
        size=Path(output).stat().st_size,
        opset=opset,
        max_abs_diff=max_diff,
        sizes_checked=[list(size) for size in sizes],
        bands=meta.bands,
        classes=meta.class_names,
        multiple=model.multiple,
    )


def _check_arguments(output: str | os.PathLike, opset: int) -> None:
    if Path(output).suffix.lower() != ".onnx":
        raise InvalidInputError(
            f"{output} must end in .onnx (that is how --model recognises ONNX files)",
            option="--output",
        )
    if opset not in OPSETS:
        raise InvalidInputError(
            f"opset {opset} is not supported; choose {OPSETS.start} to {OPSETS.stop - 1}",
            option="--opset",
        )


def _export_graph(
    module: torch.nn.Module, bands: int, multiple: int, path: Path, opset: int
) -> None:
    """Trace ``module`` into an ONNX file with dynamic batch, height and width."""
    import torch

    example = torch.rand(2, bands, 2 * multiple, 3 * multiple)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning)  # the legacy exporter
        torch.onnx.export(
            module,
            (example,),
            str(path),
            input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME],
            dynamic_axes={INPUT_NAME: _DYNAMIC, OUTPUT_NAME: _DYNAMIC},
            opset_version=opset,
            do_constant_folding=True,
            dynamo=False,
        )


def metadata_props(meta: ModelMeta, multiple: int) -> dict[str, str]:
    """The ``metadata_props`` of an exported model: the full meta and readable summaries."""
    return {
        META_KEY: json.dumps(meta.to_dict()),
        MULTIPLE_KEY: str(multiple),
        "bands": str(meta.bands),
        "classes": ",".join(meta.class_names),
        "tile_size": str(meta.tile_size),
        "role": meta.role,
        "geonoise_version": meta.geonoise_version,
        "input": f"{INPUT_NAME}: raw pixels (N, {meta.bands}, H, W) float32, "
        f"H and W multiples of {multiple}",
        "output": f"{OUTPUT_NAME}: softmax (N, {meta.num_classes}, H, W) float32",
    }


def _attach_metadata(path: Path, meta: ModelMeta, multiple: int) -> None:
    """Add the geonoise metadata to the ONNX file at ``path`` and validate it."""
    import onnx

    graph = onnx.load(str(path))
    onnx.helper.set_model_props(graph, metadata_props(meta, multiple))
    graph.producer_name = "geonoise"
    graph.producer_version = __version__
    graph.doc_string = f"geonoise {meta.role} NRN-RSSEG: {', '.join(meta.class_names)}"
    onnx.checker.check_model(graph, full_check=True)
    onnx.save(graph, str(path))


def check_sizes(multiple: int) -> list[tuple[int, int, int]]:
    """Two batches ``(N, H, W)`` of different batch size, height and width, non-square."""
    return [(1, 4 * multiple, 4 * multiple), (3, 3 * multiple, 5 * multiple)]


def compare_with_torch(
    module: torch.nn.Module,
    path: Path,
    sizes: list[tuple[int, int, int]],
    seed: int = 0,
    source: str | os.PathLike = "the model",
) -> float:
    """Largest ``|ONNX Runtime − PyTorch|`` of the probabilities over random raw-pixel batches.

    Args:
        source: The model file ``path`` was exported from, for messages.

    Raises:
        ExportMismatchError: If it exceeds :data:`TOLERANCE`, or either backend gives a
            NaN or infinite probability (which no difference would show).
    """
    import numpy as np
    import torch

    predictor = OnnxPredictor(path, providers=["CPUExecutionProvider"])
    meta = predictor.meta
    rng = np.random.default_rng(seed)
    mean = np.asarray(meta.band_mean, dtype=np.float32)[:, None, None]
    std = np.asarray(meta.band_std, dtype=np.float32)[:, None, None]
    worst = 0.0
    for batch, height, width in sizes:
        noise = rng.standard_normal((batch, meta.bands, height, width), dtype=np.float32)
        image = mean + 2 * std * noise  # raw pixels spread like the training data
        with torch.inference_mode():
            expected = module(torch.from_numpy(image)).numpy()
        actual = predictor.predict(image)
        for backend, probabilities in (("ONNX Runtime", actual), ("PyTorch", expected)):
            if not np.isfinite(probabilities).all():
                raise ExportMismatchError(
                    f"{backend} gives NaN or infinite probabilities for {path} on random "
                    f"pixels: the weights or the normalisation of {source} are broken"
                )
        worst = max(worst, float(np.abs(actual - expected).max()))
    if not worst <= TOLERANCE:
        raise ExportMismatchError(
            f"ONNX Runtime and PyTorch disagree by {worst:.2e} (> {TOLERANCE:g}) on {path}; "
            "try another --opset"
        )
    return worst
