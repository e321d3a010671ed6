"""Raster files: the GeoTIFF profile every output uses, georeferenced opening and windowed I/O.

Reads pad the part of a window outside the raster and never go through a warped
VRT; writes go through one profile (:func:`geotiff_profile`) and one COG copy
(:func:`write_cog`), so every raster geonoise writes is tiled and compressed alike.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from geonoise.errors import GeoreferenceError, ReadError
from geonoise.io.files import first_line

if TYPE_CHECKING:
    import numpy as np
    import rasterio

#: Largest internal block edge of the GeoTIFFs geonoise writes.
BLOCK_SIZE = 256


def geotiff_profile(
    *,
    width: int,
    height: int,
    count: int,
    dtype: str,
    crs: Any,
    transform: Any,
    nodata: float | None = None,
    creation_options: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The profile of every GeoTIFF geonoise writes.

    Tiled with 256-pixel blocks where the raster is big enough (GDAL wants block
    edges that are multiples of 16), compressed losslessly with the predictor
    that suits the data type (:func:`compression`). ``creation_options`` (from
    ``--co``) override any of these.
    """
    profile: dict[str, Any] = {
        "driver": "GTiff",
        "width": width,
        "height": height,
        "count": count,
        "dtype": dtype,
        "crs": crs,
        "transform": transform,
        "nodata": nodata,
        **compression(dtype),
        "interleave": "pixel" if count > 1 else "band",
    }
    block = min(BLOCK_SIZE, width, height) // 16 * 16
    if block >= 16:
        profile.update(tiled=True, blockxsize=block, blockysize=block)
    return _override(profile, creation_options, level="zstd_level")


def _override(
    options: dict[str, Any], creation_options: Mapping[str, str] | None, level: str
) -> dict[str, Any]:
    """``options`` with the user's creation options on top (keys lower-case).

    A user's own COMPRESS drops our codec's ``level`` option, which belongs to our codec.
    """
    given = {key.lower(): value for key, value in (creation_options or {}).items()}
    if "compress" in given:
        options.pop(level, None)
    return {**options, **given}


def compression(dtype: str) -> dict[str, Any]:
    """Lossless compression for a data type, as creation options (lower-case keys).

    Floats (noise scores, probabilities): ZSTD level 1 with the floating-point
    predictor: on noise maps as small as DEFLATE and faster to write and read
    (measured: README, "Design"), and QGIS reads it (GDAL >= 2.3). Integers
    (labels, classes, imagery): DEFLATE with the
    horizontal predictor, which every GIS reads.
    """
    if dtype.startswith("float"):
        return {"compress": "zstd", "zstd_level": 1, "predictor": 3}
    return {"compress": "deflate", "predictor": 2}


def open_raster(path: str | os.PathLike) -> rasterio.io.DatasetReader:
    """Open a raster for reading; unreadable files raise :class:`ReadError`."""
    import rasterio

    try:
        return rasterio.open(path)
    except rasterio.errors.RasterioIOError as exc:
        raise ReadError(f"cannot open {path} as a raster: {first_line(exc)}") from exc


def same_grid(a: rasterio.io.DatasetReader, b: rasterio.io.DatasetReader) -> bool:
    """Whether two rasters share one pixel grid: size, CRS and transform."""
    return (
        a.width == b.width
        and a.height == b.height
        and a.crs == b.crs
        and a.transform.almost_equals(b.transform)
    )


def require_georeference(dataset: rasterio.io.DatasetReader, path: str | os.PathLike) -> None:
    """Raise :class:`GeoreferenceError` unless ``dataset`` has a CRS and a geotransform."""
    import rasterio

    if dataset.crs is None:
        raise GeoreferenceError(
            f"{path} has no CRS; assign one first, e.g. `gdal_edit.py -a_srs EPSG:32633 {path}`"
        )
    if dataset.transform == rasterio.Affine.identity() and not dataset.gcps[0]:
        raise GeoreferenceError(
            f"{path} has no geotransform; georeference it first (e.g. `gdal_edit.py -a_ullr`)"
        )


def open_scene(path: str | os.PathLike) -> rasterio.io.DatasetReader:
    """Open a georeferenced scene; closes it again and raises if it is not georeferenced."""
    from rasterio.errors import NotGeoreferencedWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        dataset = open_raster(path)
    try:
        require_georeference(dataset, path)
    except GeoreferenceError:
        dataset.close()
        raise
    return dataset


def read_window(
    dataset: rasterio.io.DatasetReader,
    window: Any,
    *,
    indexes: int | list[int] | None = None,
    fill_value: float = 0,
) -> np.ndarray:
    """Read ``window``; the part outside the dataset is padded with ``fill_value``.

    Only the intersection with the dataset is read (rasterio's boundless reads
    go through a warped VRT and are much slower). I/O errors raise ReadError.
    """
    import numpy as np

    inner, (top, left) = _clip_window(dataset, window)
    bands = dataset.count if indexes is None else (1 if isinstance(indexes, int) else len(indexes))
    shape = (bands, int(window.height), int(window.width))
    out = np.full(shape, fill_value, dtype=dataset.dtypes[0])
    if inner is not None:
        data = _read(dataset.read, indexes if indexes is not None else None, inner, dataset.name)
        data = data if data.ndim == 3 else data[None]
        out[:, top : top + data.shape[1], left : left + data.shape[2]] = data
    return out[0] if isinstance(indexes, int) else out


def read_valid_mask(
    dataset: rasterio.io.DatasetReader, window: Any, data: np.ndarray | None = None
) -> np.ndarray:
    """Boolean mask of valid pixels in ``window``; pixels outside the dataset are invalid.

    Follows GDAL's dataset mask (a pixel is valid unless every band masks it).
    Where the mask comes from nodata values and ``data`` (the window's pixels,
    from :func:`read_window`) is given, it is computed from them instead of
    reading the window a second time.
    """
    import numpy as np
    from rasterio.enums import MaskFlags

    inner, (top, left) = _clip_window(dataset, window)
    out = np.zeros((int(window.height), int(window.width)), dtype=bool)
    if inner is None:
        return out
    rows, cols = slice(top, top + int(inner.height)), slice(left, left + int(inner.width))
    flags = dataset.mask_flag_enums
    if all(MaskFlags.all_valid in band for band in flags):
        out[rows, cols] = True
    elif data is not None and all(band == [MaskFlags.nodata] for band in flags):
        pixels = data if data.ndim == 3 else data[None]
        pixels = pixels[:, rows, cols]
        nodata = dataset.nodata
        invalid = np.isnan(pixels) if nodata != nodata else pixels == nodata
        out[rows, cols] = ~invalid.all(axis=0)
    else:
        mask = _read(
            lambda _, window: dataset.dataset_mask(window=window), None, inner, dataset.name
        )
        out[rows, cols] = mask > 0
    return out


def _clip_window(dataset: Any, window: Any) -> tuple[Any, tuple[int, int]]:
    """The part of ``window`` inside ``dataset`` and where it sits in the window."""
    from rasterio.windows import Window as RioWindow

    col0, row0 = max(int(window.col_off), 0), max(int(window.row_off), 0)
    col1 = min(int(window.col_off + window.width), dataset.width)
    row1 = min(int(window.row_off + window.height), dataset.height)
    if col1 <= col0 or row1 <= row0:
        return None, (0, 0)
    inner = RioWindow(col0, row0, col1 - col0, row1 - row0)
    return inner, (row0 - int(window.row_off), col0 - int(window.col_off))


def _read(reader: Any, indexes: Any, window: Any, name: str) -> np.ndarray:
    import rasterio

    try:
        return reader(indexes, window=window)
    except rasterio.errors.RasterioError as exc:
        raise ReadError(f"cannot read {name}: {first_line(exc)}") from exc


def write_raster(
    path: str | os.PathLike,
    array: np.ndarray,
    *,
    crs: Any,
    transform: Any,
    nodata: float | None = None,
    creation_options: Mapping[str, str] | None = None,
    descriptions: list[str] | None = None,
    colorinterp: list[Any] | None = None,
    tags: Mapping[str, str] | None = None,
) -> None:
    """Write a (bands, rows, cols) or (rows, cols) array as a GeoTIFF with the shared profile."""
    data = array if array.ndim == 3 else array[None]
    with create_raster(
        path,
        width=data.shape[2],
        height=data.shape[1],
        count=data.shape[0],
        dtype=str(data.dtype),
        crs=crs,
        transform=transform,
        nodata=nodata,
        creation_options=creation_options,
        descriptions=descriptions,
    ) as dst:
        dst.write(data)
        if colorinterp:
            dst.colorinterp = colorinterp
        if tags:
            dst.update_tags(**tags)


def create_raster(
    path: str | os.PathLike,
    *,
    width: int,
    height: int,
    count: int,
    dtype: str,
    crs: Any,
    transform: Any,
    nodata: float | None = None,
    creation_options: Mapping[str, str] | None = None,
    descriptions: list[str] | None = None,
) -> rasterio.io.DatasetWriter:
    """Open a GeoTIFF with the shared profile for writing window by window (caller closes it)."""
    import rasterio

    profile = geotiff_profile(
        width=width,
        height=height,
        count=count,
        dtype=dtype,
        crs=crs,
        transform=transform,
        nodata=nodata,
        creation_options=creation_options,
    )
    dataset = rasterio.open(path, "w", **profile)
    for band, text in enumerate(descriptions or [], start=1):
        dataset.set_band_description(band, text)
    return dataset


def write_cog(
    source: str | os.PathLike,
    path: str | os.PathLike,
    *,
    resampling: str = "average",
    creation_options: Mapping[str, str] | None = None,
) -> None:
    """Copy a finished GeoTIFF to ``path`` as a Cloud Optimized GeoTIFF (GDAL's COG driver).

    Tiled, compressed as :func:`compression` says, with overviews made by
    ``resampling``, on all CPUs; ``creation_options`` (from ``--co``) override
    the defaults.
    """
    import rasterio
    import rasterio.shutil

    with rasterio.open(source) as src:
        codec = compression(src.dtypes[0])
    options = {
        "compress": codec["compress"].upper(),
        "predictor": "FLOATING_POINT" if codec["predictor"] == 3 else "YES",
        **({"level": codec["zstd_level"]} if "zstd_level" in codec else {}),
        "blocksize": "512",
        "overviews": "AUTO",
        "resampling": resampling.upper(),
        # Overviews and compression on every core: a third of the time on 2 cores.
        "num_threads": "ALL_CPUS",
    }
    options = _override(options, creation_options, level="level")
    rasterio.shutil.copy(source, path, driver="COG", **options)
