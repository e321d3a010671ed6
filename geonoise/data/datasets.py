"""Training samples from tile directories and folders of image/label pairs.

A sample is a dict: ``image`` a float32 tensor ``(C, H, W)`` of raw pixel values
(normalisation with :class:`BandStats` happens on the training device, not here),
``mask`` an int64 tensor ``(H, W)`` of class ids with 255 = ignore, and ``tile_id``.

Datasets hold only paths and plain arrays, so they pickle into DataLoader
workers; each item opens its files and closes them again. With ``cache=True``
decoded tiles are kept in memory in their file's dtype (filled lazily, or all at
once by :meth:`PairDataset.preload`; preload before creating a DataLoader with
workers so that forked workers share the filled cache instead of each filling
its own).

Validation splits of tiles are spatially blocked (:func:`blocked_split`): tiles
next to each other are alike, and overlapping tiles share pixels, so a random
split of neighbours would let validation leak into training.
"""

from __future__ import annotations

import copy
import os
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

import numpy as np
import torch
from torch.utils.data import Dataset

from geonoise import io
from geonoise.contracts import IGNORE
from geonoise.data.labels import class_ids
from geonoise.data.tiledir import INDEX_NAME, read_tile_index, require_tile_dir
from geonoise.errors import InvalidInputError, ReadError

if TYPE_CHECKING:
    import geopandas as gpd

#: Raster file suffixes :class:`FolderDataset` pairs up.
RASTER_SUFFIXES = (".png", ".tif", ".tiff", ".jp2", ".jpg", ".jpeg")


Sample = dict[str, Any]
D = TypeVar("D", bound="PairDataset")


class PairDataset(Dataset):
    """Samples from ``(tile id, image file, label file)`` triples, optionally cached.

    Args:
        pairs: One ``(tile_id, image_path, label_path)`` per sample.
        cache: Keep decoded tiles in memory after their first read.
        label_map: Label values to replace, e.g. ``{255: 1}``; others are kept.
    """

    def __init__(
        self,
        pairs: Sequence[tuple[str, str, str]],
        cache: bool = False,
        label_map: Mapping[int, int] | None = None,
    ) -> None:
        self.pairs = list(pairs)
        self.cache = cache
        self._lut = _label_lut(label_map) if label_map else None
        self._cached: dict[int, _Tile] = {}
        #: Tile id → pixels whose labels this data set must not show (read as IGNORE).
        self._blind: dict[str, np.ndarray] = {}
        image = self._arrays(0).image
        self.band_count: int = image.shape[0]
        self.tile_shape: tuple[int, int] = (image.shape[1], image.shape[2])

    @property
    def tile_size(self) -> int:
        """Edge of the tiles in pixels (the longer one where tiles are not square)."""
        return max(self.tile_shape)

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, index: int) -> Sample:
        index = range(len(self.pairs))[index]  # negative indices; IndexError past the end
        tile = self._arrays(index)
        label = tile.label
        blind = self._blind.get(self.pairs[index][0])
        if blind is not None:
            label = np.where(blind, IGNORE, label)
        image = tile.image.astype(np.float32)
        if tile.missing is not None:
            image[:, tile.missing] = np.nan  # normalised to the band mean on the device
        return {
            "image": torch.from_numpy(image),
            "mask": torch.from_numpy(label.astype(np.int64)),
            "tile_id": self.pairs[index][0],
        }

    @property
    def tile_ids(self) -> list[str]:
        """The samples' ids (tile ids, or file stems for folders), in sample order."""
        return [pair[0] for pair in self.pairs]

    def subset(self: D, tile_ids: Sequence[str]) -> D:
        """The same data set restricted to ``tile_ids``, in that order; cached tiles are shared.

        Raises:
            InvalidInputError: an id that is not in this data set.
        """
        picks = _positions(self.tile_ids, tile_ids, "this data set")
        new = copy.copy(self)
        new.pairs = [self.pairs[i] for i in picks]
        new._cached = {j: self._cached[i] for j, i in enumerate(picks) if i in self._cached}
        return new

    def preload(self) -> None:
        """Read every tile into the cache now (only with ``cache=True``)."""
        if not self.cache:
            raise InvalidInputError("preload() needs a dataset made with cache=True")
        for index in range(len(self)):
            self._arrays(index)

    def _arrays(self, index: int) -> _Tile:
        cached = self._cached.get(index)
        if cached is not None:
            return cached
        _, image_path, label_path = self.pairs[index]
        image, nodata = _read_raster(image_path)
        label = _read_label(label_path)
        if image.shape[1:] != label.shape:
            raise InvalidInputError(
                f"{image_path} is {image.shape[2]}×{image.shape[1]} pixels but its labels "
                f"{label_path} are {label.shape[1]}×{label.shape[0]}; images and labels "
                "must have the same size"
            )
        if self._lut is not None:
            label = self._lut[label]
        tile = _Tile(image, label, _missing(image, nodata))
        if self.cache:
            self._cached[index] = tile
        return tile


class _Tile(NamedTuple):
    """A tile's pixels (in the file's data type) and labels, and where it has no data."""

    image: np.ndarray
    label: np.ndarray
    missing: np.ndarray | None  # (H, W) bool, None where every pixel has data


def _missing(image: np.ndarray, nodata: float | None) -> np.ndarray | None:
    """Pixels without data: every band at nodata (as GDAL's dataset mask), or NaN."""
    missing = np.zeros(image.shape[1:], bool)
    if nodata is not None:
        at_nodata = np.isnan(image) if np.isnan(nodata) else image == nodata
        missing |= at_nodata.all(axis=0)
    if np.issubdtype(image.dtype, np.floating):
        missing |= np.isnan(image).any(axis=0)
    return missing if missing.any() else None


class TileDataset(PairDataset):
    """The tiles of a tile directory written by ``geonoise tile``.

    Args:
        root: The tile directory (``images/``, ``labels/``, ``tiles.gpkg``).
        tile_ids: The tiles to use, in this order; all tiles of the index if None.
        cache: Keep decoded tiles in memory (for data sets that fit in it).

    Attributes:
        index: The rows of the ``tiles`` layer in use, in sample order.
        class_ids: Class ids of the labels (from the index's ``frac_<k>`` columns).
        band_count: Bands of the images.
        tile_size: Tile edge in pixels.
    """

    def __init__(
        self,
        root: str | os.PathLike,
        tile_ids: Sequence[str] | None = None,
        cache: bool = False,
    ) -> None:
        self.root = Path(root)
        index = read_tile_index(self.root)
        if tile_ids is not None:
            index = _select_tiles(index, tile_ids, self.root)
        if index.empty:
            raise InvalidInputError(f"no tiles selected from {self.root / INDEX_NAME}")
        if index["label"].isna().any():
            raise InvalidInputError(
                f"tiles in {self.root} have no labels; tile the scenes again with --labels"
            )
        if index["width"].nunique() > 1 or index["height"].nunique() > 1:
            raise InvalidInputError(
                f"tiles in {self.root} differ in size; train on tiles of one --size"
            )
        self.index = index.reset_index(drop=True)
        self.class_ids: list[int] = sorted(
            int(c.removeprefix("frac_")) for c in index.columns if c.startswith("frac_")
        )
        pairs = [
            (t, str(self.root / image), str(self.root / label))
            for t, image, label in zip(
                index["tile_id"], index["image"], index["label"], strict=True
            )
        ]
        super().__init__(pairs, cache=cache)

    def subset(self, tile_ids: Sequence[str]) -> TileDataset:
        """The same tiles restricted to ``tile_ids`` (``index`` too); class ids are kept."""
        new = super().subset(tile_ids)
        picks = _positions(self.tile_ids, tile_ids, "this data set")
        new.index = self.index.iloc[picks].reset_index(drop=True)
        return new

    def placement(self, index: int) -> tuple[Any, Any]:
        """The ``(transform, crs)`` of a tile, read from its image's header.

        The index's footprints are in the first scene's CRS; a tile of another
        scene keeps its own grid only in its file.
        """
        from rasterio.errors import NotGeoreferencedWarning

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            with io.open_raster(self.pairs[index][1]) as src:
                return src.transform, src.crs

    def blind_to(self, region: Any, crs: Any) -> TileDataset:
        """The same tiles with every label inside ``region`` (a shapely geometry in ``crs``)
        read as IGNORE: a model trained on it never sees a label there.

        A pixel is inside where its centre is, as ``detect`` decides which model may
        score it. Tiles are on their scene's grid, so a region made of tile
        footprints blinds whole pixels exactly.
        """
        import geopandas as gpd
        import shapely
        from rasterio.features import geometry_mask

        area = gpd.GeoSeries([region], crs=crs)
        in_index_crs = area.to_crs(self.index.crs).iloc[0]
        new = copy.copy(self)
        new._blind = dict(self._blind)
        footprints = self.index.geometry.to_numpy()
        for index, (tile_id, footprint) in enumerate(zip(self.tile_ids, footprints, strict=True)):
            if not shapely.intersects(footprint, in_index_crs):
                continue
            transform, tile_crs = self.placement(index)
            blind = geometry_mask(
                [area.to_crs(tile_crs).iloc[0]], self.tile_shape, transform, invert=True
            )
            if tile_id in new._blind:
                blind |= new._blind[tile_id]
            if blind.any():
                new._blind[tile_id] = blind
        return new


class FolderDataset(PairDataset):
    """Image tiles and label tiles in two folders, paired by file stem.

    Works with PNG (e.g. the data-centric land-cover challenge's
    ``training_patches/`` and ``training_noisy_labels/``), GeoTIFF and other
    rasters GDAL reads; georeference is not needed. Labels are single-band,
    class ids 0..K−1 with 255 = ignore.

    Binary building masks stored as 0/255 would read as background and *ignore*.
    Pass ``binary_255=True`` to read 255 as class 1 (building) instead, or a
    ``label_map`` for any other recoding (``{255: 1}`` is the same thing;
    ``{0: 255}`` would make 0 the ignore value).

    Args:
        images: Folder of image tiles.
        labels: Folder of label tiles with the same stems (any raster suffix).
        label_map: Label values to replace; values not in it are kept.
        binary_255: Read 255 as class 1 (shorthand for ``label_map={255: 1}``).
        cache: Keep decoded tiles in memory.
    """

    def __init__(
        self,
        images: str | os.PathLike,
        labels: str | os.PathLike,
        *,
        label_map: Mapping[int, int] | None = None,
        binary_255: bool = False,
        cache: bool = False,
    ) -> None:
        if binary_255 and label_map:
            raise InvalidInputError("give either binary_255 or label_map, not both")
        self.images_dir, self.labels_dir = Path(images), Path(labels)
        image_files = _rasters_by_stem(self.images_dir)
        label_files = _rasters_by_stem(self.labels_dir)
        _check_matching_stems(image_files, label_files, self.images_dir, self.labels_dir)
        self.names: list[str] = sorted(image_files)
        pairs = [(n, str(image_files[n]), str(label_files[n])) for n in self.names]
        super().__init__(pairs, cache=cache, label_map={IGNORE: 1} if binary_255 else label_map)
        self._class_ids: list[int] | None = None

    @property
    def class_ids(self) -> list[int]:
        """Class ids found in the labels (255 excluded); all labels are scanned on first use."""
        if self._class_ids is None:
            present = np.zeros(256, dtype=bool)
            for index, (_, _, label_path) in enumerate(self.pairs):
                cached = self._cached.get(index)
                label = cached.label if cached is not None else _read_label(label_path)
                if cached is None and self._lut is not None:
                    label = self._lut[label]
                present |= np.bincount(label.ravel(), minlength=256) > 0
            present[IGNORE] = False
            self._class_ids = np.flatnonzero(present).tolist()
        return self._class_ids

    def subset(self, tile_ids: Sequence[str]) -> FolderDataset:
        """The same pairs restricted to ``tile_ids`` (file stems), with the class ids of all."""
        _ = self.class_ids  # scan the whole folder, so that every subset has the same classes
        return super().subset(tile_ids)


def _select_tiles(index: gpd.GeoDataFrame, tile_ids: Sequence[str], root: Path) -> gpd.GeoDataFrame:
    return index.iloc[_positions(list(index["tile_id"]), tile_ids, str(root / INDEX_NAME))]


def _positions(known: Sequence[str], wanted: Sequence[str], where: str) -> list[int]:
    """Positions of the ``wanted`` ids among ``known``; unknown ids raise InvalidInputError."""
    positions = {t: i for i, t in enumerate(known)}
    missing = [str(t) for t in wanted if t not in positions]
    if missing:
        raise InvalidInputError(
            f"{len(missing)} tile ids are not in {where}, e.g. {_few(missing)}; "
            "take ids from its tile_id column"
        )
    return [positions[t] for t in wanted]


def _read_raster(path: str) -> tuple[np.ndarray, float | None]:
    """All bands of a raster file as ``(bands, rows, cols)``, and its nodata.

    Plain PNGs read quietly (they carry no georeference).
    """
    from rasterio.errors import NotGeoreferencedWarning, RasterioError

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with io.open_raster(path) as dataset:
            try:
                return dataset.read(), dataset.nodata
            except RasterioError as exc:
                raise ReadError(f"cannot read {path}: {exc}; is the file complete?") from exc


def _read_label(path: str) -> np.ndarray:
    """Band 1 of a label raster as uint8 class ids (see :func:`~geonoise.data.labels.class_ids`)."""
    label, nodata = _read_raster(path)
    if label.shape[0] != 1:
        raise InvalidInputError(
            f"{path} has {label.shape[0]} bands; labels must be one band of class ids"
        )
    return label[0] if label.dtype == np.uint8 else class_ids(label[0], nodata, path)


def _label_lut(label_map: Mapping[int, int]) -> np.ndarray:
    lut = np.arange(256, dtype=np.uint8)
    for source, target in label_map.items():
        if not (0 <= int(source) <= IGNORE and 0 <= int(target) <= IGNORE):
            raise InvalidInputError(f"label_map {source}→{target} is outside 0..255")
        lut[int(source)] = int(target)
    return lut


def _rasters_by_stem(folder: Path) -> dict[str, Path]:
    if not folder.is_dir():
        raise ReadError(f"{folder} is not a folder")
    files: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        if path.suffix.lower() not in RASTER_SUFFIXES or not path.is_file():
            continue
        if path.stem in files:
            raise InvalidInputError(
                f"{files[path.stem].name} and {path.name} in {folder} share a name; keep one"
            )
        files[path.stem] = path
    if not files:
        raise InvalidInputError(
            f"{folder} holds no raster files ({', '.join(RASTER_SUFFIXES)}); check the path"
        )
    return files


def _check_matching_stems(
    images: Mapping[str, Path], labels: Mapping[str, Path], images_dir: Path, labels_dir: Path
) -> None:
    no_label = sorted(set(images) - set(labels))
    no_image = sorted(set(labels) - set(images))
    problems = []
    if no_label:
        problems.append(
            f"{len(no_label)} images without labels in {labels_dir} (e.g. {_few(no_label)})"
        )
    if no_image:
        problems.append(
            f"{len(no_image)} labels without images in {images_dir} (e.g. {_few(no_image)})"
        )
    if problems:
        raise InvalidInputError(
            "; ".join(problems) + "; images and labels are paired by file name without suffix"
        )


def _few(names: Sequence[str], count: int = 5) -> str:
    return ", ".join(names[:count]) + (", …" if len(names) > count else "")


def open_tiles(
    root: str | os.PathLike,
    labels_dir: str | os.PathLike | None = None,
    *,
    cache: bool = True,
    binary_255: bool = False,
) -> PairDataset:
    """A tile directory as a data set or, with ``labels_dir``, a folder of images and one of labels.

    ``binary_255`` reads 255 in folder masks as class 1 (0/255 building masks)
    instead of ignore.
    """
    if labels_dir is not None:
        return FolderDataset(root, labels_dir, cache=cache, binary_255=binary_255)
    require_tile_dir(root, "TILES", ", or pass a folder of images with --labels-dir")
    return TileDataset(root, cache=cache)
