"""Random training windows anywhere in the training area, as torchgeo's random geo sampler.

Fixed tiles give a small scene a handful of distinct samples. :class:`RandomWindows`
draws windows of ``size`` pixels at random places of each scene's training area
and assembles each from the (cached) tiles that cover it, so a 200 × 400 pixel
half of a scene yields thousands of distinct windows, and no scene-sized canvas
is ever held in memory. Pixels that no training tile covers (validation tiles,
gaps) read as no data: NaN in the image, ignore in the labels; labels hidden in a
tile (overlaps with validation, cross-fitting) stay hidden.

With ``rare_share`` > 0 that share of the windows is placed around a random
pixel of a class other than the most frequent one, so a rare foreground is seen
more often. Tile folders without footprints are each their own scene.

Draws use torch's global generator (seeded by ``lightning.seed_everything``;
DataLoader workers get their own streams), so a run is repeatable.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from geonoise.contracts import IGNORE
from geonoise.data.datasets import PairDataset, Sample, TileDataset

#: Draws of a window position before one less than half labelled is accepted.
PLACEMENT_TRIES = 10


@dataclass
class _Scene:
    """The training tiles of one scene: sample positions, pixel offsets and label counts."""

    samples: np.ndarray  # positions in the data set
    rows: np.ndarray  # row offset of each tile on the scene grid
    cols: np.ndarray
    counts: np.ndarray  # (tiles, 256) labelled pixels per class value

    def __post_init__(self) -> None:
        self.tile_weights = _Weights(self.counts.sum(axis=1))
        self.labelled = int(self.counts.sum())


class _Weights:
    """Draws of an index with probability proportional to fixed weights, in O(log n)."""

    def __init__(self, weights: np.ndarray) -> None:
        self.cumulative = np.cumsum(np.asarray(weights, np.float64))

    def draw(self) -> int:
        point = float(torch.rand(())) * self.cumulative[-1]
        return int(
            np.searchsorted(self.cumulative, point, side="right").clip(0, len(self.cumulative) - 1)
        )


class RandomWindows(Dataset):
    """Windows of ``size`` pixels at random places of the training tiles' scenes.

    Args:
        dataset: The training tiles (a tile directory's, or image tiles of a folder).
        size: Window edge in pixels (at most the tile size).
        rare_share: Share of the windows centred near a pixel of a non-majority class.
        length: Windows per pass (``len``); default the training area in windows.
    """

    def __init__(
        self, dataset: PairDataset, size: int, rare_share: float = 0.0, length: int | None = None
    ) -> None:
        self.dataset = dataset
        self.size = min(int(size), *dataset.tile_shape)
        self.rare_share = float(rare_share)
        self.scenes = _scenes(dataset)
        self.class_counts = sum(s.counts.sum(axis=0) for s in self.scenes)
        self.class_counts[IGNORE] = 0
        majority = int(self.class_counts.argmax())
        self.rare_classes = [int(c) for c in np.flatnonzero(self.class_counts) if c != majority]
        self._scene_weights = _Weights([s.labelled for s in self.scenes])
        self._class_weights = {
            c: (
                _Weights([s.counts[:, c].sum() for s in self.scenes]),
                [_Weights(s.counts[:, c]) for s in self.scenes],
            )
            for c in self.rare_classes
        }
        self.length = length or max(1, round(self.labelled_area / self.size**2))

    @property
    def labelled_area(self) -> float:
        """Labelled pixels of the training area, each counted once where tiles overlap."""
        import shapely

        height, width = self.dataset.tile_shape
        total = 0.0
        for scene in self.scenes:
            boxes = shapely.box(scene.cols, scene.rows, scene.cols + width, scene.rows + height)
            covered = shapely.area(shapely.union_all(boxes))
            total += covered * scene.labelled / (len(scene.rows) * height * width)
        return total

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> Sample:
        if self.rare_classes and float(torch.rand(())) < self.rare_share:
            value = self.rare_classes[int(torch.randint(len(self.rare_classes), ()))]
            return self._around_class(value)
        scene = self.scenes[self._scene_weights.draw()]
        for _ in range(PLACEMENT_TRIES):
            tile = scene.tile_weights.draw()
            window = self._assemble(scene, *self._position_over(scene, tile))
            if (window["mask"] != IGNORE).float().mean() >= 0.5:
                break
        return window

    def _position_over(self, scene: _Scene, tile: int) -> tuple[int, int]:
        """A window position, uniform among those that overlap the tile, within the scene."""
        height, width = self.dataset.tile_shape
        top = int(scene.rows[tile]) - self.size + 1 + int(torch.randint(height + self.size - 1, ()))
        left = int(scene.cols[tile]) - self.size + 1 + int(torch.randint(width + self.size - 1, ()))
        return self._inside(scene, top, left)

    def _inside(self, scene: _Scene, top: int, left: int) -> tuple[int, int]:
        """``(top, left)`` moved so that the window stays within the scene's tiles."""
        height, width = self.dataset.tile_shape
        bottom = int(scene.rows.max()) + height - self.size
        right = int(scene.cols.max()) + width - self.size
        return min(max(top, int(scene.rows.min())), bottom), min(
            max(left, int(scene.cols.min())), right
        )

    def _around_class(self, value: int) -> Sample:
        """A window around a random pixel of class ``value``."""
        scenes, tiles = self._class_weights[value]
        k = scenes.draw()
        scene, tile = self.scenes[k], tiles[k].draw()
        label = self.dataset[int(scene.samples[tile])]["mask"].numpy()
        pixels = np.flatnonzero(label.ravel() == value)
        row, col = divmod(int(pixels[int(torch.randint(len(pixels), ()))]), label.shape[1])
        top = int(scene.rows[tile]) + row - int(torch.randint(self.size, ()))
        left = int(scene.cols[tile]) + col - int(torch.randint(self.size, ()))
        return self._assemble(scene, *self._inside(scene, top, left))

    def _assemble(self, scene: _Scene, top: int, left: int) -> Sample:
        """The window at ``(top, left)`` of the scene grid, pasted from the tiles over it."""
        height, width = self.dataset.tile_shape
        s = self.size
        image = np.full((self.dataset.band_count, s, s), np.nan, np.float32)
        label = np.full((s, s), IGNORE, np.int64)
        over = (
            (scene.rows < top + s)
            & (scene.rows + height > top)
            & (scene.cols < left + s)
            & (scene.cols + width > left)
        )
        for k in np.flatnonzero(over):
            sample = self.dataset[int(scene.samples[k])]
            r0, c0 = max(top, int(scene.rows[k])), max(left, int(scene.cols[k]))
            r1 = min(top + s, int(scene.rows[k]) + height)
            c1 = min(left + s, int(scene.cols[k]) + width)
            into = (slice(r0 - top, r1 - top), slice(c0 - left, c1 - left))
            out_of = (
                slice(r0 - int(scene.rows[k]), r1 - int(scene.rows[k])),
                slice(c0 - int(scene.cols[k]), c1 - int(scene.cols[k])),
            )
            tile_label = sample["mask"].numpy()[out_of]
            np.copyto(label[into], tile_label, where=tile_label != IGNORE)
            pixels = image[(slice(None), *into)]
            np.copyto(
                pixels, sample["image"].numpy()[(slice(None), *out_of)], where=np.isnan(pixels)
            )
        return {
            "image": torch.from_numpy(image),
            "mask": torch.from_numpy(label),
            "tile_id": f"window_r{top}_c{left}",
        }


def _scenes(dataset: PairDataset) -> list[_Scene]:
    """The training tiles grouped by scene, with their offsets and label counts."""
    counts = np.stack(
        [
            np.bincount(dataset[i]["mask"].numpy().ravel(), minlength=256)[:256]
            for i in range(len(dataset))
        ]
    )
    counts[:, IGNORE] = 0
    positions = np.arange(len(dataset))
    if not isinstance(dataset, TileDataset):  # no footprints: every tile is its own scene
        zeros = np.zeros(1, np.int64)
        return [_Scene(positions[i : i + 1], zeros, zeros, counts[i : i + 1]) for i in positions]
    index = dataset.index
    scenes = []
    for name in dict.fromkeys(index["scene"].astype(str)):
        mine = np.flatnonzero((index["scene"].astype(str) == name).to_numpy())
        rows = index["row_off"].to_numpy()[mine].astype(np.int64)
        cols = index["col_off"].to_numpy()[mine].astype(np.int64)
        scenes.append(_Scene(positions[mine], rows, cols, counts[mine]))
    return [s for s in scenes if s.labelled]


class Draws(Sampler[int]):
    """``num_samples`` indices of a data set per pass: shuffled passes over it, chained.

    Unlike a ``RandomSampler``, which Lightning replaces under DDP by a
    ``DistributedSampler`` over the data set (one pass, whatever ``num_samples``
    was), a sampler of its own kind is wrapped and its draws split among the
    processes, so each of them gets ``num_samples / world size``.
    """

    def __init__(self, size: int, num_samples: int) -> None:
        if size < 1 or num_samples < 1:
            raise ValueError(f"cannot draw {num_samples} of {size} samples")
        self.size, self.num_samples = int(size), int(num_samples)

    def __len__(self) -> int:
        return self.num_samples

    def __iter__(self):
        passes = -(-self.num_samples // self.size)
        order = torch.cat([torch.randperm(self.size) for _ in range(passes)])
        yield from order[: self.num_samples].tolist()
