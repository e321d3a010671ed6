"""Training samples from tile directories and image/label folders."""

from __future__ import annotations

import shutil
import warnings

import numpy as np
import pytest
import rasterio
import shapely
import torch
from rasterio.errors import NotGeoreferencedWarning
from torch.utils.data import DataLoader

from geonoise.data.datasets import FolderDataset, TileDataset
from geonoise.data.splits import folder_split, holdout_region
from geonoise.data.tiledir import read_tile_index
from geonoise.errors import InvalidInputError, ReadError
from tests.conftest import write_scene
from tests.data.conftest import make_tiles, read_pair, write_png


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


def test_folder_float_labels_read_as_class_ids_or_name_a_fraction(tmp_path):
    (tmp_path / "img").mkdir(), (tmp_path / "lab").mkdir()
    for name in ("a", "b"):
        write_scene(tmp_path / "img" / f"{name}.tif", 8, 6, crs=None)
    whole = np.full((1, 6, 8), 3.0, "float32")
    whole[0, 0, :2] = -99999.0
    write_scene(tmp_path / "lab" / "a.tif", 8, 6, data=whole, crs=None, nodata=-99999.0)
    part = np.full((1, 6, 8), 1.0, "float32")
    part[0, 2, 5] = 1.5
    write_scene(tmp_path / "lab" / "b.tif", 8, 6, data=part, crs=None)
    dataset = FolderDataset(tmp_path / "img", tmp_path / "lab")
    mask = dataset[0]["mask"].numpy()
    assert (mask[0, :2] == 255).all() and (mask[0, 2:] == 3).all() and (mask[1:] == 3).all()
    with pytest.raises(InvalidInputError, match=r"b\.tif has class value 1\.5 at row 2, column 5"):
        dataset[1]


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
