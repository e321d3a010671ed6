"""The real scenes of the real-data benchmark, built from files the package registries carry.

* ``osbs``: NEON's 0.1 m RGB orthophoto OSBS_029 (Florida, EPSG:32617) and its 61
  hand-drawn crown boxes, from ``../shared/data/neon_osbs`` (NEON data: CC0).
* ``soap``, ``yell``: NEON RGB crops with Pascal-VOC crown boxes shipped in the
  ``deepforest`` wheel (annotations MIT, NEON imagery CC0): SOAP_061 (400 × 400) and
  2019_YELL_2_541000_4977000_image_crop (1249 × 1035). The PNGs carry no georeference:
  they are placed at 0.1 m in UTM (YELL: 12N with the crop's south-west corner on the
  easting/northing in its name; SOAP: 11N at an invented origin near the site).
* ``l7``: the Landsat 7 subset ``../shared/data/L7_ETMs.tif`` (6 bands, 28.5 m,
  EPSG:31985; Landsat: public domain), with a 4-class land cover made from its own
  pixels (water, vegetation, bare, dense vegetation by NDVI and NIR thresholds:
  learnable by construction, for bands, data types and nodata, not for absolute
  quality) and the same reflectances stored as uint16, int16 (nodata −9999) and
  float32 (nodata −99999, with a strip and a line of no data).

The deepforest wheel is fetched once with ``pip download`` into the work folder;
nothing of it is committed.
"""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import rasterio
from rasterio.features import rasterize
from rasterio.transform import from_origin
from rasterio.windows import Window
from shapely.geometry import box

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
DEEPFOREST = "deepforest==2.1.0"
RES = 0.1
#: PNG crops of the deepforest wheel: (file stem, EPSG, west edge, south edge).
PNG_SCENES = {
    "soap": ("SOAP_061", 32611, 297000.0, 4100000.0),
    "yell": ("2019_YELL_2_541000_4977000_image_crop", 32612, 541000.0, 4977000.0),
}
TREE_SCENES = ("osbs", "soap", "yell")
L7_TYPES = ("uint8", "uint16", "float32")


def write_tif(path: Path, data: np.ndarray, crs, transform, nodata=None) -> None:
    data = data if data.ndim == 3 else data[None]
    profile = {
        "driver": "GTiff",
        "width": data.shape[2],
        "height": data.shape[1],
        "count": data.shape[0],
        "dtype": str(data.dtype),
        "crs": crs,
        "transform": transform,
        "nodata": nodata,
        "compress": "deflate",
        "tiled": True,
    }
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data)


def burn(crowns: gpd.GeoDataFrame, shape: tuple[int, int], transform) -> np.ndarray:
    """Crowns as 1 on 0 (pixel centres inside), the way ``geonoise tile`` burns them."""
    if crowns.empty:
        return np.zeros(shape, np.uint8)
    shapes = [(g, 1) for g in crowns.geometry]
    return rasterize(shapes, out_shape=shape, transform=transform, fill=0, dtype="uint8")


def deepforest_data(work: Path) -> Path:
    """The ``deepforest/data`` folder of the wheel, downloaded and unpacked once."""
    target = work / "deepforest"
    if not (target / "data").is_dir():
        wheels = work / "wheel"
        wheels.mkdir(parents=True, exist_ok=True)
        if not list(wheels.glob("deepforest-*.whl")):
            command = [sys.executable, "-m", "pip", "download", DEEPFOREST, "--no-deps", "-d"]
            subprocess.run([*command, str(wheels), "-q"], check=True)
        with zipfile.ZipFile(next(wheels.glob("deepforest-*.whl"))) as wheel:
            for name in wheel.namelist():
                if name.startswith("deepforest/data/"):
                    wheel.extract(name, work)
    return target / "data"


def voc_crowns(xml: Path, west: float, top: float, crs) -> gpd.GeoDataFrame:
    """Pascal-VOC boxes (pixel edges) as polygons in map coordinates."""
    rows = []
    for obj in ET.parse(xml).getroot().iter("object"):
        b = obj.find("bndbox")
        x0, y0, x1, y1 = (float(b.findtext(k)) for k in ("xmin", "ymin", "xmax", "ymax"))
        geometry = box(west + x0 * RES, top - y1 * RES, west + x1 * RES, top - y0 * RES)
        rows.append({"label": obj.findtext("name"), "class": 1, "geometry": geometry})
    return gpd.GeoDataFrame(rows, crs=crs)


def tree_scene(name: str, work: Path) -> tuple[Path, Path]:
    """``(scene.tif, crowns.gpkg)`` of a tree scene, made once in ``work/name``."""
    out = work / name
    scene, crowns = out / "scene.tif", out / "crowns.gpkg"
    if scene.exists() and crowns.exists():
        return scene, crowns
    out.mkdir(parents=True, exist_ok=True)
    if name == "osbs":
        with rasterio.open(SHARED / "neon_osbs" / "OSBS_029.tif") as src:
            write_tif(scene, src.read(), src.crs, src.transform, src.nodata)
        frame = gpd.read_file(SHARED / "neon_osbs" / "OSBS_029_trees.geojson")
        frame = frame.assign(**{"class": 1})[["label", "class", "geometry"]]
    else:
        from PIL import Image

        stem, epsg, west, south = PNG_SCENES[name]
        data = deepforest_data(work)
        rgb = np.asarray(Image.open(data / f"{stem}.png").convert("RGB")).transpose(2, 0, 1)
        top = south + rgb.shape[1] * RES
        crs = rasterio.crs.CRS.from_epsg(epsg)
        write_tif(scene, np.ascontiguousarray(rgb), crs, from_origin(west, top, RES, RES))
        frame = voc_crowns(data / f"{stem}.xml", west, top, crs)
    frame.to_file(crowns, layer="crowns", driver="GPKG")
    return scene, crowns


def split_halves(scene: Path, out: Path, north_south: bool = False) -> tuple[Path, Path]:
    """The scene cut in two: west/east (columns) or north/south (rows), as GeoTIFFs."""
    first, second = out / "first.tif", out / "second.tif"
    if first.exists() and second.exists():
        return first, second
    with rasterio.open(scene) as src:
        if north_south:
            half = src.height // 2
            windows = (Window(0, 0, src.width, half), Window(0, half, src.width, src.height - half))
        else:
            half = src.width // 2
            windows = (
                Window(0, 0, half, src.height),
                Window(half, 0, src.width - half, src.height),
            )
        for path, window in zip((first, second), windows, strict=True):
            transform = src.window_transform(window)
            write_tif(path, src.read(window=window), src.crs, transform, src.nodata)
    return first, second


def landsat(work: Path) -> dict[str, Path]:
    """The Landsat subset in three data types, and its land cover labels (made once)."""
    out = work / "l7"
    paths = {kind: out / f"l7_{kind}.tif" for kind in L7_TYPES}
    paths["labels"] = out / "landcover.tif"
    if all(p.exists() for p in paths.values()):
        return paths
    out.mkdir(parents=True, exist_ok=True)
    with rasterio.open(SHARED / "L7_ETMs.tif") as src:
        dn, crs, transform = src.read().astype(np.float64), src.crs, src.transform
    red, nir = dn[2], dn[3]
    ndvi = (nir - red) / np.maximum(nir + red, 1)
    label = np.full(red.shape, 2, np.uint8)  # bare / built
    label[ndvi > 0.15] = 1  # vegetation
    label[ndvi > 0.4] = 3  # dense vegetation, the rare class
    label[nir < 25] = 0  # water
    write_tif(paths["labels"], label, crs, transform, 255)
    write_tif(paths["uint8"], dn.astype(np.uint8), crs, transform)
    reflectance = dn / 255.0 * 0.6
    stored = np.round((reflectance + 0.2) / 2.75e-5).astype(np.uint16)  # Collection-2 style
    write_tif(paths["uint16"], stored, crs, transform, 0)
    floats = reflectance.astype(np.float32)
    floats[:, :, -20:] = -99999.0  # a strip of no data at the east edge
    floats[:, 100:104, :] = -99999.0  # and a line across, as SLC-off
    write_tif(paths["float32"], floats, crs, transform, -99999.0)
    return paths
