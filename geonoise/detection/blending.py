"""Blending window predictions into finished strips of a scene, top to bottom.

The scene is cut with the shared window grid; windows are batched through the
models, weighted with :func:`~geonoise.windows.blend_weights` and summed.
Windows are visited row by row, so once a row of windows is done every pixel
above the next row is final: that :class:`Strip` is handed on to be scored and
written, and its buffers reused. Memory is therefore bounded by one strip
(scene width × window height), never by the scene height.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from geonoise import io
from geonoise.detection.options import DetectOptions
from geonoise.errors import InvalidInputError
from geonoise.models.inference import Predictor
from geonoise.models.modelset import ModelSet, as_model_set
from geonoise.parallel import read_ahead
from geonoise.windows import Window, blend_weights, window_grid

if TYPE_CHECKING:
    from affine import Affine
    from rasterio.io import DatasetReader

#: A batch of windows scored: the windows, their probabilities (N, K, H, W) and valid masks.
Batch = tuple[list[Window], np.ndarray, list[np.ndarray]]


class StripBlender:
    """Weighted sums of window probabilities over the rows that windows may still reach.

    The buffers hold ``capacity`` rows, allocated once: a strip popped from the
    top moves the rows below it up, so memory stays at one window row of the scene.
    """

    def __init__(self, width: int, num_classes: int, weights: np.ndarray, capacity: int) -> None:
        self.width = width
        self.top = 0
        self.weights = weights
        self.sums = np.zeros((num_classes, capacity, width), np.float32)
        self.weight_sums = np.zeros((capacity, width), np.float32)
        self.valid = np.zeros((capacity, width), bool)

    def add(self, window: Window, probs: np.ndarray, valid: np.ndarray) -> None:
        """Add one window's probabilities ``(K, size, size)`` and its valid-pixel mask."""
        rows = slice(window.row_off - self.top, window.row_off - self.top + window.height)
        if rows.stop > self.weight_sums.shape[0]:
            raise ValueError(f"window {window} reaches past the blender's {rows.stop} rows")
        cols = slice(window.col_off, min(window.col_off + window.width, self.width))
        span = cols.stop - cols.start
        weights = self.weights[:, :span]
        self.sums[:, rows, cols] += probs[:, :, :span] * weights
        self.weight_sums[rows, cols] += weights
        self.valid[rows, cols] |= valid[:, :span]

    def peek(self, rows: int) -> Strip:
        """The next ``rows`` rows, as views of the buffers: valid until :meth:`advance`."""
        weights = self.weight_sums[:rows]
        return Strip(self.top, self.sums[:, :rows], weights, self.valid[:rows] & (weights > 0))

    def advance(self, rows: int) -> None:
        """Forget the next ``rows`` rows (move the rows below them up)."""
        for buffer in (self.sums[:], self.weight_sums[None], self.valid[None]):
            buffer[:, :-rows] = buffer[:, rows:]
            buffer[:, -rows:] = 0
        self.top += rows


@dataclass
class Strip:
    """Finished rows of a scene: window probabilities summed with their blend weights.

    The blended probabilities are ``sums / weights``; they are divided only
    where needed (the class with the largest sum is the most probable one).
    """

    top: int
    sums: np.ndarray  # (K, rows, width) float32
    weights: np.ndarray  # (rows, width) float32, > 0 where valid
    valid: np.ndarray  # (rows, width) bool

    def probabilities(self, cols: slice = slice(None)) -> np.ndarray:
        """Blended probabilities ``(K, rows, n)`` of the columns ``cols``."""
        return self.sums[:, :, cols] / np.maximum(self.weights[:, cols], 1e-12)


def blended_strips(
    scene: DatasetReader,
    predictor: Predictor | ModelSet,
    size: int,
    options: DetectOptions,
    on_window: Callable[[], None] | None = None,
) -> Iterator[Strip]:
    """Yield the scene's :class:`Strip` s from top to bottom.

    A strip's arrays are views of the blender's buffers: use them before asking
    for the next strip. The windows are read and run through the model in
    helper threads, a few batches ahead (:data:`MODEL_LANES` batches side by side
    where the models allow), while this one blends them and the caller scores and
    writes the strips (see :func:`geonoise.parallel.read_ahead`).
    Batches run on across window rows: once a window of the next row arrives,
    every row above it is final.
    """
    models = as_model_set(predictor)
    overlap = options.overlap_for(size)
    windows = window_grid(scene.width, scene.height, size, overlap)
    _check_strip_memory(scene, predictor.meta.num_classes, size)
    blender = StripBlender(
        scene.width, predictor.meta.num_classes, blend_weights(size, overlap), capacity=size
    )
    batches = _predicted_batches(scene, models, windows, options)
    # Batches in memory: the queue, one being handed on, and one being scored per lane.
    ahead = max(1, PREDICT_AHEAD - (models.lanes - 1))
    for batch, probs, valid in read_ahead(batches, depth=ahead):
        for window, p, v in zip(batch, probs, valid, strict=True):
            if window.row_off > blender.top:  # a new window row: the rows above it are final
                rows = window.row_off - blender.top
                yield blender.peek(rows)
                blender.advance(rows)
            blender.add(window, p, v)
            if on_window is not None:
                on_window()
    rows = scene.height - blender.top
    if rows > 0:
        yield blender.peek(rows)


#: Batches scored ahead of blending and waiting for it (each holds its windows'
#: probabilities); with lanes, the ones being scored come on top.
PREDICT_AHEAD = 2


#: Batches scored side by side by ONNX models on the CPU (``modelset.open_models`` sizes
#: the session's thread pool to match): one thread per run needs no synchronisation inside
#: the model, and blending fits between the runs (faster on 2 cores: benchmarks/detect.md).
MODEL_LANES = 2


def _predicted_batches(
    scene: DatasetReader, models: ModelSet, windows: Sequence[Window], options: DetectOptions
) -> Iterator[Batch]:
    """``(windows, probabilities, valid masks)`` of every batch, in grid order."""
    from collections import deque
    from concurrent.futures import ThreadPoolExecutor

    fill = scene.nodata if scene.nodata is not None and scene.nodata == scene.nodata else 0

    def read(batch: list[Window]) -> tuple[np.ndarray, list[np.ndarray], list[Affine]]:
        images = [io.read_window(scene, w.to_rasterio(), fill_value=fill) for w in batch]
        valid = [
            io.read_valid_mask(scene, w.to_rasterio(), data=image)
            for w, image in zip(batch, images, strict=True)
        ]
        transforms = [scene.window_transform(w.to_rasterio()) for w in batch]
        stacked = np.stack(images).astype(np.float32)
        for pixels, usable in zip(stacked, valid, strict=True):
            pixels[:, ~usable] = np.nan  # no data: the model fills in the band mean
        return stacked, valid, transforms

    starts = range(0, len(windows), options.batch_size)
    batches = (windows[start : start + options.batch_size] for start in starts)  # made as read
    if models.lanes == 1:
        for batch in batches:
            stacked, valid, transforms = read(batch)
            yield batch, models.predict_at(stacked, transforms, scene.crs, options.tta), valid
        return
    # Several lanes: batches are read here (one thread per dataset) and scored side by side.
    pending: deque[tuple[list[Window], Future[np.ndarray], list[np.ndarray]]] = deque()
    with ThreadPoolExecutor(models.lanes, thread_name_prefix="geonoise-lane") as lanes:
        for batch in batches:
            stacked, valid, transforms = read(batch)
            scored = lanes.submit(models.predict_at, stacked, transforms, scene.crs, options.tta)
            pending.append((batch, scored, valid))
            if len(pending) >= models.lanes:
                done, scored, valid = pending.popleft()
                yield done, scored.result(), valid
        while pending:
            done, scored, valid = pending.popleft()
            yield done, scored.result(), valid


#: Largest strip buffers detect allocates (class sums, weights, validity: a window tall, the
#: scene wide); beyond it a smaller --window is asked for, before anything is allocated.
MAX_STRIP_BYTES = 1 << 30


def _check_strip_memory(scene: DatasetReader, num_classes: int, size: int) -> None:
    needed = (num_classes + 2) * size * scene.width * 4
    if needed > MAX_STRIP_BYTES:
        largest = MAX_STRIP_BYTES // ((num_classes + 2) * scene.width * 4)
        raise InvalidInputError(
            f"{scene.name} is {scene.width} pixels wide: windows of {size} would need "
            f"{needed / 2**30:.1f} GiB of strip buffers; use --window {max(largest, 16)} or less",
            "--window",
        )


def count_windows(scene: DatasetReader, size: int, overlap: int) -> int:
    """How many windows a scene takes (for progress bars)."""
    return len(window_grid(scene.width, scene.height, size, overlap))
