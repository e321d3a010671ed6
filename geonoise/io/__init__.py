"""Reading and writing GIS files: the one module of the library that opens files.

It owns the GeoTIFF profile every raster output uses, the check that a scene is
georeferenced, vector reading and writing by file suffix, and the atomic-output
helper that writes under a temporary name and moves the result into place, so
an interrupted or failed run never leaves half-written outputs.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from geonoise.errors import GeoreferenceError, OutputExistsError, ReadError

if TYPE_CHECKING:
    import geopandas as gpd
    import numpy as np
    import rasterio

#: Vector formats chosen by file suffix (GeoParquet is written by geopandas itself).
VECTOR_DRIVERS: dict[str, str] = {
    ".gpkg": "GPKG",
    ".geojson": "GeoJSON",
    ".json": "GeoJSON",
    ".fgb": "FlatGeobuf",
    ".shp": "ESRI Shapefile",
    ".parquet": "Parquet",
    ".geoparquet": "Parquet",
}

#: Largest internal block edge of the GeoTIFFs geonoise writes.
BLOCK_SIZE = 256


def is_vector_path(path: str | os.PathLike) -> bool:
    """Whether ``path`` names a vector file geonoise reads or writes (by suffix)."""
    return Path(path).suffix.lower() in VECTOR_DRIVERS


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
    predictor. On noise maps it compresses as well as DEFLATE, writes about 3x
    and reads about 1.6x faster (rasterio's GDAL, 2-core Xeon), and QGIS reads
    it (GDAL >= 2.3). Integers (labels, classes, imagery): DEFLATE with the
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
        raise ReadError(f"cannot open {path} as a raster: {_first_line(exc)}") from exc


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
        raise ReadError(f"cannot read {name}: {_first_line(exc)}") from exc


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


def read_vector(path: str | os.PathLike, layer: str | None = None) -> gpd.GeoDataFrame:
    """Read a vector file into a GeoDataFrame; unreadable files raise :class:`ReadError`."""
    import geopandas as gpd

    try:
        if Path(path).suffix.lower() in (".parquet", ".geoparquet"):
            return gpd.read_parquet(path)
        return gpd.read_file(path, layer=layer, engine="pyogrio")
    except Exception as exc:  # pyogrio, fiona and arrow raise many types for a bad file
        raise ReadError(f"cannot read {path} as a vector layer: {_first_line(exc)}") from exc


def write_vector(gdf: gpd.GeoDataFrame, path: str | os.PathLike, layer: str | None = None) -> None:
    """Write ``gdf`` in the format its suffix names (GeoPackage, GeoJSON, FlatGeobuf, …)."""
    driver = VECTOR_DRIVERS.get(Path(path).suffix.lower())
    if driver is None:
        raise ValueError(f"unknown vector suffix: {path}")
    if driver == "Parquet":
        gdf.to_parquet(path)
    elif driver == "GPKG":
        # GeoPackage 1.2, not GDAL 3.10's default 1.4: QGIS LTRs built on older GDAL warn
        # that they only partly support 1.4.
        gdf.to_file(
            path, driver=driver, layer=layer, engine="pyogrio", dataset_options={"VERSION": "1.2"}
        )
    else:
        gdf.to_file(path, driver=driver, engine="pyogrio")


def write_json(path: str | os.PathLike, content: Any) -> None:
    """Write ``content`` as indented UTF-8 JSON with a final newline."""
    import json

    Path(path).write_text(json.dumps(content, indent=2) + "\n", encoding="utf-8")


def write_csv(path: str | os.PathLike, rows: list[Mapping[str, Any]], columns: list[str]) -> None:
    """Write ``rows`` (dicts) as CSV with a header of ``columns`` (other keys are dropped)."""
    import csv

    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)


def read_csv(path: str | os.PathLike) -> list[dict[str, str]]:
    """Rows of a CSV file with a header, as dicts of strings; unreadable files raise ReadError."""
    import csv

    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            return list(csv.DictReader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ReadError(f"cannot read {path} as CSV: {_first_line(exc)}") from exc


def check_output(path: str | os.PathLike, overwrite: bool) -> None:
    """Refuse an existing output unless ``overwrite``; call it before doing any work."""
    if os.path.lexists(path) and not overwrite:
        raise OutputExistsError(f"{path} exists; pass --overwrite to replace it")


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; move it into place only on success.

    The caller writes a file or a directory at the yielded path. When the block
    ends without error, an existing ``path`` is replaced (only with
    ``overwrite``) and the result renamed onto it; on any error the temporary
    output is removed and ``path`` is left as it was.
    """
    final = Path(path)
    check_output(final, overwrite)
    final.parent.mkdir(parents=True, exist_ok=True)
    temporary = final.with_name(f".{final.name}.partial-{uuid.uuid4().hex[:8]}")
    try:
        yield temporary
        if os.path.lexists(final):
            check_output(final, overwrite)
            backup = final.with_name(f".{final.name}.old-{uuid.uuid4().hex[:8]}")
            os.replace(final, backup)
            os.replace(temporary, final)
            _remove(backup)
        else:
            os.replace(temporary, final)
    finally:
        _remove(temporary)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    elif os.path.lexists(path):
        path.unlink()


def _first_line(exc: BaseException) -> str:
    """The most specific one-line reason: GDAL's own error where rasterio chained it."""
    while exc.__cause__ is not None and "previous exception" in str(exc):
        exc = exc.__cause__
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
