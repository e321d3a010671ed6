"""Raster files: the GeoTIFF profile every output uses, georeferenced opening and windowed I/O.

Reads pad the part of a window outside the raster and never go through a warped
VRT; writes go through one profile (:func:`geotiff_profile`) and one COG copy
(:func:`write_cog`), so every raster geonoise writes is tiled and compressed alike.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import uuid
import warnings
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from geonoise.errors import GeoreferenceError, InvalidInputError, ReadError
from geonoise.io.files import first_line, writing

if TYPE_CHECKING:
    import numpy as np
    import rasterio

#: Largest internal block edge of the GeoTIFFs geonoise writes.
BLOCK_SIZE = 256

#: Largest block of a raster geonoise reads: GDAL reads whole blocks, so a strip
#: 2³¹ pixels wide would take gigabytes for every window, whatever the window size.
MAX_BLOCK_BYTES = 1 << 30


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


def check_creation_options(
    creation_options: Mapping[str, str], option: str = "--co"
) -> dict[str, str]:
    """``creation_options`` (from ``--co``), refused unless GDAL's GTiff driver accepts them.

    A small GeoTIFF is created in memory with the shared profile and the options
    on top, as a 3-band uint8 raster (every command writes uint8 rasters: tiles,
    labels, classes, synthetic scenes). GDAL checks the names and values against
    the driver's creation option list (``DMD_CREATIONOPTIONLIST``) and reports
    what it would ignore as warnings; those, and options that make the creation
    fail (block sizes that are no multiple of 16, a predictor the data type
    lacks), are refused here, before any work, instead of being ignored or
    failing mid-run. Options that only float outputs refuse fail when written.

    Raises:
        InvalidInputError: the first option GDAL refuses or ignores, with GDAL's reason.
    """
    import rasterio
    import rasterio.shutil
    from rasterio.transform import from_origin

    given = {key.upper(): str(value) for key, value in creation_options.items()}
    if not given:
        return given
    profile = geotiff_profile(
        width=64,
        height=64,
        count=3,
        dtype="uint8",
        crs="EPSG:32633",
        transform=from_origin(500_000, 5_400_000, 1, 1),
        creation_options=given,
    )
    probe = f"/vsimem/geonoise-co-{uuid.uuid4().hex}.tif"
    with _gdal_warnings() as complaints, rasterio.Env(GDAL_VALIDATE_CREATION_OPTIONS=True):
        try:
            with rasterio.open(probe, "w", **profile):
                pass
        except (rasterio.errors.RasterioError, ValueError) as exc:
            complaints.append(first_line(exc).removeprefix(f"{probe[8:]}: "))
        finally:
            with contextlib.suppress(Exception):  # nothing, or half a file, to remove
                rasterio.shutil.delete(probe)
    if complaints:
        reason = complaints[0].rstrip(".").replace("an unexpected value", "not a valid value")
        named = [f"{k}={v}" for k, v in given.items() if k in reason.upper()]
        raise InvalidInputError(
            f"{' '.join(named or (f'{k}={v}' for k, v in given.items()))}: {reason} "
            "(see the creation options of GDAL's GTiff driver)",
            option,
        )
    return given


@contextlib.contextmanager
def _gdal_warnings() -> Iterator[list[str]]:
    """Collect the warnings GDAL reports (through rasterio's logger) inside the block."""
    logger = logging.getLogger("rasterio._env")
    complaints: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.levelno >= logging.WARNING:
                complaints.append(re.sub(r"^CPLE_\w+ in ", "", record.getMessage()).strip())

    handler, level, propagate = Collect(), logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(logging.WARNING)
    logger.propagate = False
    try:
        yield complaints
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        logger.propagate = propagate


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
    """Raise :class:`GeoreferenceError` unless ``dataset`` has a CRS and a usable geotransform.

    A geotransform with NaN or infinite terms, or with zero-sized pixels, places no
    pixel anywhere: it is refused like a missing one.
    """
    import math

    import rasterio

    if dataset.crs is None:
        raise GeoreferenceError(
            f"{path} has no CRS; assign one first, e.g. `gdal_edit.py -a_srs EPSG:32633 {path}`"
        )
    if dataset.transform == rasterio.Affine.identity() and not dataset.gcps[0]:
        raise GeoreferenceError(
            f"{path} has no geotransform; georeference it first (e.g. `gdal_edit.py -a_ullr`)"
        )
    terms = tuple(dataset.transform)[:6]
    if not all(math.isfinite(t) for t in terms) or dataset.transform.determinant == 0:
        shown = ", ".join(f"{t:g}" for t in terms)
        raise GeoreferenceError(
            f"{path} has an unusable geotransform ({shown}): NaN, infinite or zero-sized "
            "pixels; fix it first (e.g. `gdal_edit.py -a_ullr`)"
        )


def open_scene(path: str | os.PathLike) -> rasterio.io.DatasetReader:
    """Open a georeferenced scene; closes it again and raises if it is not georeferenced."""
    from rasterio.errors import NotGeoreferencedWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        dataset = open_raster(path)
    try:
        require_georeference(dataset, path)
        _require_readable_blocks(dataset, path)
    except (GeoreferenceError, ReadError):
        dataset.close()
        raise
    return dataset


def _require_readable_blocks(dataset: rasterio.io.DatasetReader, path: str | os.PathLike) -> None:
    """Raise :class:`ReadError` where one internal block is too big to read (a corrupt header?)."""
    import numpy as np

    rows, cols = dataset.block_shapes[0]
    bands = 1 if getattr(dataset.interleaving, "name", "") == "band" else dataset.count
    size = rows * cols * bands * np.dtype(dataset.dtypes[0]).itemsize
    if size > MAX_BLOCK_BYTES:
        raise ReadError(
            f"{path} is stored in blocks of {cols} × {rows} pixels ({size / 2**30:.0f} GiB "
            "each, read whole for any window): a corrupt header, or rewrite it tiled "
            "(gdal_translate -co TILED=YES)"
        )


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
    out = np.full(shape, fill_value, dtype=_holding(dataset.dtypes[0], fill_value))
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


def _holding(dtype: str, value: float) -> np.dtype:
    """``dtype``, or the smallest type that holds its values and ``value`` too.

    Pads with a value the data type cannot hold (255 = ignore around int8 labels)
    widen the window instead of overflowing.
    """
    import numpy as np

    kind = np.dtype(dtype)
    if np.issubdtype(kind, np.integer) and value == value:
        info = np.iinfo(kind)
        if not info.min <= value <= info.max:
            return np.result_type(kind, np.min_scalar_type(value))
    return kind


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
    with (
        writing(path),
        create_raster(
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
        ) as dst,
    ):
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
    with writing(path):
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
    ``resampling``, on all CPUs; ``creation_options`` (from ``--co``, with GTiff
    names: :func:`cog_options` renames them) override the defaults.
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
    options = _override(options, cog_options(creation_options or {}), level="level")
    with writing(path):
        rasterio.shutil.copy(source, path, driver="COG", **options)


#: GTiff creation options (what ``--co`` takes) and their names in GDAL's COG driver.
COG_NAMES = {
    "BLOCKXSIZE": "BLOCKSIZE",
    "BLOCKYSIZE": "BLOCKSIZE",
    "ZSTD_LEVEL": "LEVEL",
    "ZLEVEL": "LEVEL",
    "LZMA_PRESET": "LEVEL",
    "JPEG_QUALITY": "QUALITY",
    "WEBP_LEVEL": "QUALITY",
}


def cog_options(creation_options: Mapping[str, str]) -> dict[str, str]:
    """GTiff creation options (from ``--co``) as the COG driver names them.

    A COG is always tiled with square blocks, so ``TILED`` is dropped and a block
    edge becomes ``BLOCKSIZE``; compression levels become ``LEVEL``. Without this
    the COG driver would ignore them.
    """
    options: dict[str, str] = {}
    for key, value in creation_options.items():
        if key.upper() != "TILED":
            options.setdefault(COG_NAMES.get(key.upper(), key.upper()), value)
    return options
