"""Tile directories, image folders and tile footprints made for the data tests."""

from __future__ import annotations

import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
from rasterio.errors import NotGeoreferencedWarning
from shapely import box

from geonoise.data.splits import Split
from geonoise.data.tiling import TileOptions, plan_tiling, write_tiles
from tests.conftest import CRS, ORIGIN, write_scene


def make_tiles(tmp_path: Path, scenes: int = 1, size: int = 32, overlap: int = 8, **kw) -> Path:
    """A tile directory of 3-band uint8 scenes with labels 0..2 and some nodata (255)."""
    images, labels = [], []
    for s in range(scenes):
        rng = np.random.default_rng(s)
        label = rng.integers(0, 3, (1, 64, 96), dtype="uint8")
        label[:, :5, :7] = 255
        origin = kw.get("origin", (ORIGIN[0] + 1000 * s, ORIGIN[1]))
        images.append(write_scene(tmp_path / f"s{s}.tif", 96, 64, seed=s, origin=origin))
        labels.append(write_scene(tmp_path / f"l{s}.tif", 96, 64, data=label, origin=origin))
    options = TileOptions(size=size, overlap=overlap, min_valid=0)
    plans = plan_tiling([str(p) for p in images], [str(p) for p in labels], options)
    write_tiles(plans, tmp_path / "tiles", options)
    return tmp_path / "tiles"


@pytest.fixture
def tiles(tmp_path: Path) -> Path:
    return make_tiles(tmp_path)


def read_pair(root: Path, row) -> tuple[np.ndarray, np.ndarray]:
    with rasterio.open(root / row.image) as img, rasterio.open(root / row.label) as lab:
        return img.read(), lab.read(1)


def write_png(path: Path, data: np.ndarray) -> Path:
    data = data if data.ndim == 3 else data[None]
    profile = dict(driver="PNG", width=data.shape[2], height=data.shape[1], count=data.shape[0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with rasterio.open(path, "w", dtype="uint8", **profile) as dst:
            dst.write(data)
    return path


@pytest.fixture
def png_folders(tmp_path: Path) -> tuple[Path, Path, dict[str, tuple[np.ndarray, np.ndarray]]]:
    images, labels = tmp_path / "training_patches", tmp_path / "training_noisy_labels"
    images.mkdir(), labels.mkdir()
    rng = np.random.default_rng(1)
    truth = {}
    for name in ("b_02", "a_01", "c_03"):
        image = rng.integers(0, 256, (3, 24, 24), dtype="uint8")
        mask = np.where(rng.random((24, 24)) < 0.3, 255, 0).astype("uint8")
        write_png(images / f"{name}.png", image)
        write_png(labels / f"{name}.png", mask)
        truth[name] = (image, mask)
    return images, labels, truth


def grid_index(cols: int, rows: int, size: float = 16.0, step: float = 12.0, scene="s"):
    tiles = [(c, r) for r in range(rows) for c in range(cols)]
    return gpd.GeoDataFrame(
        {"tile_id": [f"{scene}_r{r}_c{c}" for c, r in tiles], "scene": scene},
        geometry=[box(c * step, -r * step - size, c * step + size, -r * step) for c, r in tiles],
        crs=CRS,
    )


def assert_clean_split(index: gpd.GeoDataFrame, split: Split) -> None:
    """No pixel both trained and validated on; every tile on one side or left out for it."""
    train, val = split.train, split.val
    assert train and val and not set(train) & set(val)
    assert not (set(train) | set(val)) & set(split.dropped)
    assert set(train) | set(val) | set(split.dropped) == set(index.tile_id)
    shapes = index.set_index("tile_id").geometry
    for t in train:
        for v in val:
            assert shapes[t].intersection(shapes[v]).area == 0, (t, v)
    for t in split.dropped:
        assert any(shapes[t].intersection(shapes[v]).area > 0 for v in val), t
