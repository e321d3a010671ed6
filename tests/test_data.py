"""Training data: tile and folder datasets, band statistics and spatially blocked splits."""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import shapely
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyproj import CRS as CRS_
from rasterio.errors import NotGeoreferencedWarning
from shapely import box
from torch.utils.data import DataLoader

from geonoise.data.datasets import FolderDataset, TileDataset
from geonoise.data.splits import blocked_split, folder_split, holdout_region, spatial_folds
from geonoise.data.stats import BandStats, compute_band_stats
from geonoise.data.tiledir import read_tile_index
from geonoise.data.tiling import TileOptions, plan_tiling, write_tiles
from geonoise.errors import InvalidInputError, ReadError
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


# --- TileDataset -----------------------------------------------------------------------------


def test_tile_dataset_reads_the_pixels_and_labels_of_each_tile(tiles):
    dataset = TileDataset(tiles)
    index = read_tile_index(tiles)
    assert len(dataset) == len(index) == 12  # 4 columns × 3 rows of 32 px stepping by 24
    assert (dataset.band_count, dataset.tile_size, dataset.class_ids) == (3, 32, [0, 1, 2])
    assert list(dataset.index.tile_id) == list(index.tile_id)
    for i, row in enumerate(index.itertuples()):
        sample = dataset[i]
        image, label = read_pair(tiles, row)
        assert sample["tile_id"] == row.tile_id
        assert sample["image"].dtype == torch.float32 and sample["image"].shape == (3, 32, 32)
        assert sample["mask"].dtype == torch.int64 and sample["mask"].shape == (32, 32)
        np.testing.assert_array_equal(sample["image"].numpy(), image.astype("float32"))
        np.testing.assert_array_equal(sample["mask"].numpy(), label.astype("int64"))
    assert (dataset[0]["mask"][:5, :7] == 255).all()


def test_tile_ids_choose_and_order_the_samples(tiles):
    ids = list(read_tile_index(tiles).tile_id)
    dataset = TileDataset(tiles, tile_ids=[ids[5], ids[2]])
    assert [dataset[i]["tile_id"] for i in range(2)] == [ids[5], ids[2]]
    assert list(dataset.index.tile_id) == [ids[5], ids[2]]
    with pytest.raises(InvalidInputError, match="nope"):
        TileDataset(tiles, tile_ids=[ids[0], "nope"])


def test_a_directory_without_index_is_a_read_error(tmp_path):
    with pytest.raises(InvalidInputError, match="geonoise tile"):
        TileDataset(tmp_path)


def test_tile_dataset_works_with_dataloader_workers(tiles):
    dataset = TileDataset(tiles)
    loader = DataLoader(dataset, batch_size=5, num_workers=2)
    batches = list(loader)
    assert [b["image"].shape[0] for b in batches] == [5, 5, 2]
    images = torch.cat([b["image"] for b in batches])
    masks = torch.cat([b["mask"] for b in batches])
    assert [t for b in batches for t in b["tile_id"]] == list(dataset.index.tile_id)
    for i in range(len(dataset)):
        assert torch.equal(images[i], dataset[i]["image"])
        assert torch.equal(masks[i], dataset[i]["mask"])


def test_cache_gives_identical_items_without_touching_the_files_again(tiles):
    plain = TileDataset(tiles)
    expected = [plain[i] for i in range(len(plain))]
    cached = TileDataset(tiles, cache=True)
    cached.preload()
    shutil.rmtree(tiles / "images")
    for i in range(len(cached)):
        assert torch.equal(cached[i]["image"], expected[i]["image"])
        assert torch.equal(cached[i]["mask"], expected[i]["mask"])
        assert cached[i]["tile_id"] == expected[i]["tile_id"]
    with pytest.raises(ReadError, match="cannot open"):
        plain[0]


def test_subsets_keep_classes_index_rows_and_cached_tiles(tiles):
    dataset = TileDataset(tiles, cache=True)
    dataset.preload()
    ids = dataset.tile_ids
    part = dataset.subset([ids[7], ids[1]])
    assert isinstance(part, TileDataset) and part.tile_ids == [ids[7], ids[1]]
    assert list(part.index.tile_id) == [ids[7], ids[1]] and len(dataset) == 12
    assert (part.class_ids, part.band_count, part.tile_size) == (dataset.class_ids, 3, 32)
    shutil.rmtree(tiles / "images")
    assert torch.equal(part[0]["image"], dataset[7]["image"])
    with pytest.raises(InvalidInputError, match="not in this data set"):
        dataset.subset(["nope"])


def test_lazy_cache_fills_on_first_read(tiles):
    dataset = TileDataset(tiles, cache=True)
    first = dataset[3]
    shutil.rmtree(tiles / "labels")
    again = dataset[3]
    assert torch.equal(first["image"], again["image"]) and torch.equal(first["mask"], again["mask"])


# --- FolderDataset ---------------------------------------------------------------------------


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


def test_folder_dataset_pairs_png_files_by_stem_quietly(png_folders):
    images, labels, truth = png_folders
    with warnings.catch_warnings():
        warnings.simplefilter("error", NotGeoreferencedWarning)
        dataset = FolderDataset(images, labels)
        samples = [dataset[i] for i in range(len(dataset))]
    assert [s["tile_id"] for s in samples] == ["a_01", "b_02", "c_03"]
    assert (dataset.band_count, dataset.tile_size) == (3, 24)
    for sample in samples:
        image, mask = truth[sample["tile_id"]]
        np.testing.assert_array_equal(sample["image"].numpy(), image.astype("float32"))
        np.testing.assert_array_equal(sample["mask"].numpy(), mask)  # 255 stays ignore


def test_binary_255_masks_read_as_class_one(png_folders):
    images, labels, truth = png_folders
    for dataset in (
        FolderDataset(images, labels, binary_255=True),
        FolderDataset(images, labels, label_map={255: 1}),
    ):
        mask = dataset[0]["mask"].numpy()
        np.testing.assert_array_equal(mask, (truth["a_01"][1] == 255).astype("int64"))
    with pytest.raises(InvalidInputError, match="not both"):
        FolderDataset(images, labels, binary_255=True, label_map={1: 2})


def test_folder_class_ids_come_from_all_labels(png_folders):
    images, labels, _ = png_folders
    write_png(labels / "c_03.png", np.full((24, 24), 2, "uint8"))
    assert FolderDataset(images, labels).class_ids == [0, 2]  # 255 is ignore, not a class
    binary = FolderDataset(images, labels, binary_255=True)
    part = binary.subset(["b_02"])
    assert part.tile_ids == ["b_02"] and part.class_ids == [0, 1, 2]
    assert len(binary) == 3 and folder_split(binary.tile_ids, 0.3)[1]


def test_folder_dataset_reads_geotiffs(tmp_path):
    (tmp_path / "img").mkdir(), (tmp_path / "lab").mkdir()
    image = write_scene(tmp_path / "img" / "t1.tif", 40, 30, count=4, dtype="uint16")
    label = np.full((1, 30, 40), 2, "uint8")
    write_scene(tmp_path / "lab" / "t1.tif", 40, 30, data=label, crs=None)
    sample = FolderDataset(tmp_path / "img", tmp_path / "lab", cache=True)[0]
    with rasterio.open(image) as src:
        np.testing.assert_array_equal(sample["image"].numpy(), src.read().astype("float32"))
    assert sample["image"].shape == (4, 30, 40) and (sample["mask"] == 2).all()


def test_folder_dataset_errors_name_the_problem(png_folders, tmp_path):
    images, labels, _ = png_folders
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InvalidInputError, match="holds no raster files"):
        FolderDataset(empty, labels)
    with pytest.raises(ReadError, match="is not a folder"):
        FolderDataset(tmp_path / "missing", labels)
    (labels / "a_01.png").rename(labels / "zz_99.png")
    with pytest.raises(InvalidInputError, match=r"images without labels .*a_01.*zz_99"):
        FolderDataset(images, labels)
    (labels / "zz_99.png").rename(labels / "a_01.png")
    write_png(labels / "b_02.png", np.zeros((20, 24), "uint8"))
    dataset = FolderDataset(images, labels)
    with pytest.raises(InvalidInputError, match=r"b_02.png is 24×24 .* are 24×20"):
        dataset[1]
    write_png(labels / "c_03.png", np.zeros((3, 24, 24), "uint8"))
    with pytest.raises(InvalidInputError, match=r"c_03\.png has 3 bands"):
        dataset[2]


# --- band statistics -------------------------------------------------------------------------


def test_band_stats_equal_numpy_over_the_valid_pixels(tiles):
    dataset = TileDataset(tiles)
    images = np.stack([dataset[i]["image"].numpy() for i in range(len(dataset))])
    valid = np.stack([dataset[i]["mask"].numpy() != 255 for i in range(len(dataset))])
    pixels = images.transpose(1, 0, 2, 3)[:, valid].astype("float64")
    stats = compute_band_stats(dataset)
    np.testing.assert_allclose(stats.mean, pixels.mean(axis=1), rtol=1e-10)
    np.testing.assert_allclose(stats.std, pixels.std(axis=1), rtol=1e-10)
    assert BandStats.from_dict(json.loads(json.dumps(stats.to_dict()))) == stats


def test_band_stats_are_stable_for_large_means_and_floor_constant_bands():
    class Tiles:
        def __init__(self):
            rng = np.random.default_rng(0)
            self.images = [
                np.stack([1e4 + rng.normal(0, 0.01, (16, 16)), np.full((16, 16), 3.0)])
                for _ in range(6)
            ]

        def __len__(self):
            return len(self.images)

        def __getitem__(self, i):
            mask = torch.zeros(16, 16, dtype=torch.int64)
            mask[:4] = 255
            return {"image": torch.from_numpy(self.images[i]), "mask": mask}

    data = Tiles()
    pixels = np.stack([im[:, 4:] for im in data.images], axis=1).reshape(2, -1)
    stats = compute_band_stats(data)
    np.testing.assert_allclose(stats.std[0], pixels[0].std(), rtol=1e-6)
    assert stats.mean[1] == 3.0 and stats.std[1] == pytest.approx(1e-6)
    assert compute_band_stats(data, max_samples=2).mean[1] == 3.0


def test_band_stats_without_valid_pixels_is_an_error():
    sample = {"image": torch.ones(2, 4, 4), "mask": torch.full((4, 4), 255)}
    with pytest.raises(InvalidInputError, match="no valid pixel"):
        compute_band_stats([sample])
    with pytest.raises(InvalidInputError, match="one mean and one std"):
        BandStats([1.0, 2.0], [1.0])


# --- splits ----------------------------------------------------------------------------------


def grid_index(cols: int, rows: int, size: float = 16.0, step: float = 12.0, scene="s"):
    tiles = [(c, r) for r in range(rows) for c in range(cols)]
    return gpd.GeoDataFrame(
        {"tile_id": [f"{scene}_r{r}_c{c}" for c, r in tiles], "scene": scene},
        geometry=[box(c * step, -r * step - size, c * step + size, -r * step) for c, r in tiles],
        crs=CRS,
    )


def assert_clean_split(index: gpd.GeoDataFrame, train: list[str], val: list[str]) -> None:
    assert train and val and not set(train) & set(val)
    assert set(train) | set(val) <= set(index.tile_id)
    shapes = index.set_index("tile_id").geometry
    for t in train:
        for v in val:
            assert shapes[t].intersection(shapes[v]).area == 0, (t, v)


def test_blocked_split_keeps_overlapping_neighbours_out_of_training():
    index = grid_index(12, 12)  # tiles overlap their neighbours by 4 units
    train, val = blocked_split(index, val_fraction=0.2, seed=3)
    assert_clean_split(index, train, val)
    assert 0.1 <= len(val) / len(index) <= 0.35
    assert len(train) + len(val) < len(index)  # the ring around validation blocks is dropped
    assert blocked_split(index, val_fraction=0.2, seed=3) == (train, val)
    assert blocked_split(index, val_fraction=0.2, seed=4) != (train, val)
    assert list(index.tile_id[index.tile_id.isin(val)]) == val  # index order


def test_blocked_split_of_touching_tiles_keeps_all_of_them():
    index = grid_index(8, 8, step=16.0)
    train, val = blocked_split(index, val_fraction=0.25, block_size=32.0)
    assert_clean_split(index, train, val)
    assert len(train) + len(val) == 64 and len(val) == 16


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    cols=st.integers(1, 9),
    rows=st.integers(1, 9),
    overlap=st.sampled_from([0.0, 2.0, 8.0]),
    val_fraction=st.floats(0.05, 0.6),
    seed=st.integers(0, 1000),
)
def test_blocked_split_properties(cols, rows, overlap, val_fraction, seed):
    index = grid_index(cols, rows, step=16.0 - overlap)
    if len(index) < 2:
        with pytest.raises(InvalidInputError, match="cannot be split"):
            blocked_split(index, val_fraction, seed=seed)
        return
    try:
        train, val = blocked_split(index, val_fraction, seed=seed)
    except InvalidInputError:
        assert overlap > 0  # only overlapping neighbours can leave no training tile
        return
    assert_clean_split(index, train, val)
    assert (train, val) == blocked_split(index, val_fraction, seed=seed)


def test_blocked_split_across_scenes_on_the_same_ground(tmp_path):
    root = make_tiles(tmp_path, scenes=2, origin=ORIGIN)  # two dates of one place
    index = read_tile_index(root)
    train, val = blocked_split(index, val_fraction=0.3, seed=1)
    assert_clean_split(index, train, val)
    assert {t.split("_r")[0] for t in train} == {"s0", "s1"}


def test_blocked_split_of_scenes_far_apart(tmp_path):
    index = read_tile_index(make_tiles(tmp_path, scenes=3, overlap=0))
    train, val = blocked_split(index, val_fraction=0.3, seed=0)
    assert_clean_split(index, train, val)
    assert len(train) + len(val) == len(index) == 18


def test_blocked_split_refuses_what_cannot_be_split():
    with pytest.raises(InvalidInputError, match="cannot be split"):
        blocked_split(grid_index(1, 1))
    with pytest.raises(InvalidInputError, match="val-fraction"):
        blocked_split(grid_index(3, 3), val_fraction=1.0)
    with pytest.raises(InvalidInputError, match="one spatial block"):
        blocked_split(grid_index(3, 3), block_size=1000.0)


def test_folder_split_is_random_by_name_and_repeatable():
    names = [f"p{i:03d}" for i in range(50)]
    train, val = folder_split(names, 0.2, seed=7)
    assert len(val) == 10 and sorted(train + val) == names and not set(train) & set(val)
    assert folder_split(list(reversed(names)), 0.2, seed=7) == (train, val)
    assert folder_split(names, 0.2, seed=8) != (train, val)
    assert [len(side) for side in folder_split(["a", "b"], 0.01)] == [1, 1]
    with pytest.raises(InvalidInputError, match="cannot be split"):
        folder_split(["only"])


# --- cross-fitting folds ----------------------------------------------------------------------


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    cols=st.integers(3, 9),
    rows=st.integers(2, 9),
    overlap=st.sampled_from([0.0, 4.0]),
    folds=st.integers(2, 4),
)
def test_spatial_folds_hold_out_every_tile_once(cols, rows, overlap, folds):
    index = grid_index(cols, rows, step=16.0 - overlap)
    try:
        plan = spatial_folds(index, folds, block_size=32.0)
    except InvalidInputError as exc:
        assert "block" in str(exc) or "holds out no tile" in str(exc)
        return
    assert len(plan) == folds
    held = [t for fold in plan for t in fold.held_out]
    assert sorted(held) == sorted(index.tile_id)  # each tile held out by exactly one fold
    for fold in plan:
        assert fold.held_out and sorted(fold.train + fold.held_out) == sorted(index.tile_id)
    assert spatial_folds(index, folds, block_size=32.0) == plan


def test_spatial_folds_balance_tiles_and_explain_too_few_blocks():
    index = grid_index(8, 8, step=16.0)
    plan = spatial_folds(index, 4, block_size=32.0)
    assert [len(f.held_out) for f in plan] == [16, 16, 16, 16]
    assert all(len(f.train) == 48 for f in plan)  # touching tiles share no area
    with pytest.raises(InvalidInputError, match="4 spatial blocks, too few for 5 folds"):
        spatial_folds(index, 5, block_size=64.0)
    with pytest.raises(InvalidInputError, match="at least 2"):
        spatial_folds(index, 1)


def test_holdout_region_is_the_union_of_the_held_out_footprints():
    index = grid_index(4, 1, step=16.0)
    region = holdout_region(index, ["s_r0_c1", "s_r0_c2"])
    geometry = shapely.from_wkt(region["wkt"])
    assert geometry.equals(box(16, -16, 48, 0))
    assert CRS_.from_wkt(region["crs"]) == CRS_.from_user_input(CRS)


def test_blind_to_hides_the_labels_inside_a_region_and_nothing_else(tmp_path):
    root = make_tiles(tmp_path, size=32, overlap=8)
    dataset = TileDataset(root, cache=True)
    index = dataset.index
    held = index.tile_id.iloc[:1].tolist()
    before_first = dataset[0]["mask"].numpy().copy()
    region = holdout_region(index, held)
    blind = dataset.blind_to(shapely.from_wkt(region["wkt"]), region["crs"])
    footprint = shapely.from_wkt(region["wkt"])
    touched = hidden = 0
    for i, row in enumerate(index.itertuples()):
        before = dataset[i]["mask"].numpy()
        after = blind[i]["mask"].numpy()
        with rasterio.open(root / row.label) as src:
            rows, cols = np.mgrid[0 : src.height, 0 : src.width]
            xs, ys = rasterio.transform.xy(src.transform, rows.ravel(), cols.ravel())
        inside = shapely.contains_xy(footprint, xs, ys).reshape(before.shape)
        np.testing.assert_array_equal(after[inside], 255)
        np.testing.assert_array_equal(after[~inside], before[~inside])
        touched += bool(inside.any())
        hidden += int((before[inside] != 255).sum())
    assert touched > 1 and hidden > 0  # the held-out tile and its overlapping neighbours
    np.testing.assert_array_equal(dataset[0]["mask"].numpy(), before_first)
