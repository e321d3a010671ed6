"""The window grid shared by tiling, training and detection.

A scene is cut into full-size square windows of ``size`` pixels that step by
``size - overlap``. The last window on each axis is shifted inward so that it
ends at the scene edge instead of hanging over it; every window therefore has
the full size and the grid covers every pixel. A scene smaller than one window
gets a single window at the origin that reaches past the scene; reading it
boundless pads the missing part.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import NamedTuple, overload


class Window(NamedTuple):
    """A pixel window of a scene: column and row offset, width and height."""

    col_off: int
    row_off: int
    width: int
    height: int

    def to_rasterio(self):  # -> rasterio.windows.Window, imported lazily
        """The same window as a :class:`rasterio.windows.Window`."""
        from rasterio.windows import Window as RioWindow

        return RioWindow(self.col_off, self.row_off, self.width, self.height)


def axis_offsets(length: int, size: int, overlap: int) -> list[int]:
    """Start offsets of windows of ``size`` along an axis of ``length`` pixels.

    Args:
        length: Pixels along the axis (> 0).
        size: Window size in pixels (> 0).
        overlap: Pixels shared by neighbouring windows (0 <= overlap < size).

    Returns:
        Increasing offsets; the last window ends exactly at ``length`` unless
        the axis is shorter than one window, in which case the only offset is 0.
    """
    if length <= 0 or size <= 0:
        raise ValueError("length and size must be positive")
    if not 0 <= overlap < size:
        raise ValueError("overlap must be at least 0 and smaller than size")
    if length <= size:
        return [0]
    stride = size - overlap
    offsets = list(range(0, length - size + 1, stride))
    if offsets[-1] + size < length:
        offsets.append(length - size)
    return offsets


class WindowGrid(Sequence[Window]):
    """Full-size windows covering a ``width`` × ``height`` scene, row by row, made on demand.

    Only the offsets along each axis are kept, so memory grows with the scene's
    edges, not with its area: a header that claims 10⁶ × 10⁶ pixels costs a few
    kB here, not the 15 million windows (1.5 GB) a list would hold. Indexing and
    slicing return windows; iteration makes them one at a time.
    """

    def __init__(self, width: int, height: int, size: int, overlap: int = 0) -> None:
        self._args = (width, height, size, overlap)
        self._cols = axis_offsets(width, size, overlap)
        self._rows = axis_offsets(height, size, overlap)
        self._size = size

    def __reduce__(self):  # pickled as its arguments: a task for a worker stays small
        return (type(self), self._args)

    def __len__(self) -> int:
        return len(self._rows) * len(self._cols)

    @overload
    def __getitem__(self, index: int) -> Window: ...

    @overload
    def __getitem__(self, index: slice) -> list[Window]: ...

    def __getitem__(self, index: int | slice) -> Window | list[Window]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if not -len(self) <= index < len(self):
            raise IndexError(f"window {index} of a grid of {len(self)}")
        row, col = divmod(index % len(self), len(self._cols))
        return Window(self._cols[col], self._rows[row], self._size, self._size)

    def __iter__(self) -> Iterator[Window]:
        for row in self._rows:
            for col in self._cols:
                yield Window(col, row, self._size, self._size)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, WindowGrid):
            return self._args == other._args
        return isinstance(other, Sequence) and list(self) == list(other)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        width, height, size, overlap = self._args
        return f"WindowGrid({width=}, {height=}, {size=}, {overlap=}: {len(self)} windows)"


def window_grid(width: int, height: int, size: int, overlap: int = 0) -> WindowGrid:
    """Full-size windows covering a ``width`` × ``height`` scene, row by row (a lazy sequence)."""
    return WindowGrid(width, height, size, overlap)


def block_grid(width: int, height: int, size: int) -> list[Window]:
    """Disjoint blocks covering a raster: the window grid with the edge overlaps trimmed.

    :func:`window_grid` shifts the last window of each axis inward; here each
    window keeps only the part up to the next window's start, so every pixel is
    in exactly one block, row by row (for passes that read a raster once).
    """

    def spans(length: int) -> list[tuple[int, int]]:
        starts = axis_offsets(length, size, 0)
        return list(zip(starts, [*starts[1:], length], strict=True))

    return [Window(c0, r0, c1 - c0, r1 - r0) for r0, r1 in spans(height) for c0, c1 in spans(width)]


def pad_amounts(height: int, width: int, multiple: int) -> tuple[int, int, bool]:
    """Rows and columns to add at the bottom and right to reach multiples of ``multiple``.

    Returns ``(pad_rows, pad_cols, reflect)``: ``reflect`` where each pad is
    smaller than the side it mirrors, so the pad looks like imagery; otherwise
    the edge pixels are to be repeated. Either way predictions near the edge
    stay sane, where a black border would not.
    """
    if multiple < 1:
        raise ValueError(f"multiple must be at least 1, got {multiple}")
    pad_rows, pad_cols = -height % multiple, -width % multiple
    return pad_rows, pad_cols, pad_rows < height and pad_cols < width


def blend_weights(size: int, overlap: int):  # -> np.ndarray, numpy imported lazily
    """Weights of one window's pixels when overlapping predictions are averaged.

    1 in the interior, a raised-cosine (Hann) ramp over the ``overlap`` pixels
    at each edge, never 0 — so a pixel that only one window covers gets that
    window's prediction unchanged, and seams between windows fade smoothly.
    """
    import numpy as np

    ramp = np.ones(size, np.float32)
    if overlap > 0:
        x = (np.arange(overlap, dtype=np.float32) + 0.5) / overlap
        edge = np.sin(0.5 * np.pi * x) ** 2
        ramp[:overlap] = edge
        ramp[size - overlap :] = np.minimum(ramp[size - overlap :], edge[::-1])
    return np.outer(ramp, ramp)
