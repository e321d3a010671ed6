"""Random training windows: the scene's pixels at the place drawn, validation unseen."""

from __future__ import annotations

import numpy as np
import rasterio
import torch

from geonoise.contracts import IGNORE
from geonoise.data.datasets import FolderDataset, TileDataset
from geonoise.data.sampling import Draws, RandomWindows
from geonoise.data.splits import blocked_split
from tests.data.conftest import write_png


def scene_arrays(root):
    """The scene and labels the tiles (``tests.data.conftest.make_tiles``) were cut from."""
    with rasterio.open(root.parent / "s0.tif") as src:
        image = src.read().astype("float32")
    with rasterio.open(root.parent / "l0.tif") as src:
        label = src.read(1)
    return image, label


def test_windows_hold_the_scene_pixels_of_their_place(tiles):
    dataset = TileDataset(tiles, cache=True)
    windows = RandomWindows(dataset, 24)
    image, label = scene_arrays(tiles)
    torch.manual_seed(0)
    places = set()
    for i in range(40):
        sample = windows[i]
        top, left = (int(v) for v in sample["tile_id"].removeprefix("window_r").split("_c"))
        places.add((top, left))
        want_label = label[top : top + 24, left : left + 24]
        np.testing.assert_array_equal(sample["mask"].numpy(), want_label)
        np.testing.assert_array_equal(
            sample["image"].numpy(), image[:, top : top + 24, left : left + 24]
        )
    assert len(places) > 20  # many distinct windows, not a handful of tiles
    assert len(windows) == round((label != IGNORE).sum() / 24**2)


def test_validation_pixels_are_never_in_a_training_window(tiles):
    dataset = TileDataset(tiles, cache=True)
    split = blocked_split(dataset.index, 0.3, seed=1)
    windows = RandomWindows(dataset.subset(split.train), 32)
    val = dataset.subset(split.val)
    val_pixels = set()
    for i in range(len(val)):
        row = val.index.iloc[i]
        val_pixels |= {
            (r, c)
            for r in range(row.row_off, row.row_off + 32)
            for c in range(row.col_off, row.col_off + 32)
        }
    torch.manual_seed(1)
    for _ in range(60):
        sample = windows[0]
        top, left = (int(v) for v in sample["tile_id"].removeprefix("window_r").split("_c"))
        rows, cols = np.nonzero(sample["mask"].numpy() != IGNORE)
        assert not {(top + r, left + c) for r, c in zip(rows, cols, strict=True)} & val_pixels


def test_rare_class_windows_show_the_rare_class_more_often(tmp_path):
    (tmp_path / "img").mkdir(), (tmp_path / "lab").mkdir()
    for k in range(4):
        write_png(tmp_path / "img" / f"t{k}.png", np.full((3, 64, 64), 9 * k, "uint8"))
        label = np.zeros((64, 64), "uint8")
        if k == 3:
            label[40:44, 10:14] = 1  # 16 building pixels in 16 384
        write_png(tmp_path / "lab" / f"t{k}.png", label)
    dataset = FolderDataset(tmp_path / "img", tmp_path / "lab", cache=True)
    plain, rare = RandomWindows(dataset, 32), RandomWindows(dataset, 32, rare_share=0.5)
    torch.manual_seed(2)
    seen = [sum(int((w[0]["mask"] == 1).any()) for _ in range(200)) for w in (plain, rare)]
    assert seen[1] > 2 * seen[0] and seen[1] >= 80
    torch.manual_seed(3)
    first = [rare[0]["tile_id"] for _ in range(5)]
    torch.manual_seed(3)
    assert [rare[0]["tile_id"] for _ in range(5)] == first  # repeatable from the seed


def test_draws_chain_whole_passes_and_split_among_ddp_processes():
    from lightning.fabric.utilities.distributed import DistributedSamplerWrapper

    torch.manual_seed(0)
    draws = list(Draws(5, 12))
    assert len(draws) == 12
    assert sorted(draws[:5]) == sorted(draws[5:10]) == list(range(5))
    # Lightning wraps a sampler of its own kind under DDP: each process gets its share.
    ranks = [
        list(DistributedSamplerWrapper(Draws(5, 12), num_replicas=2, rank=r, shuffle=True))
        for r in (0, 1)
    ]
    assert [len(r) for r in ranks] == [6, 6]
    assert all(0 <= i < 5 for r in ranks for i in r)
