"""Finishing regions: areas in m² in any CRS, and --min-area inside blocks and across seams."""

from __future__ import annotations

import numpy as np
import pytest

from geonoise.vectorize.polygonize import EmptyResultError
from tests.vectorize.conftest import PIXEL_AREA, run, write_noise


def test_min_area_drops_small_polygons(tmp_path):
    score = np.zeros((30, 30), "float32")
    score[2:4, 2:4] = 1  # 1 m²
    score[10:20, 10:20] = 1  # 25 m²
    noise = write_noise(tmp_path / "n.tif", score)
    assert len(run(noise)) == 2
    kept = run(noise, min_area=2)
    np.testing.assert_allclose(kept["area"], [25.0])
    assert list(kept["id"]) == [1]
    with pytest.raises(EmptyResultError, match="all 2 regions are smaller than --min-area 100"):
        run(noise, min_area=100)
    # blocks of 16 px: the 10×10 region crosses a seam (finished after the merge), the small
    # one lies inside a block (finished by its block's scan)
    with pytest.raises(EmptyResultError, match="all 2 regions are smaller than --min-area 100"):
        run(noise, min_area=100, window_size=16)
    np.testing.assert_allclose(run(noise, min_area=2, window_size=16)["area"], [25.0])


def test_min_area_drops_regions_that_cross_seams_too(tmp_path):
    score = np.zeros((30, 30), "float32")
    score[12:16, 12:16] = 1  # 4 m² across the seams of 16-px blocks (starts 0 and 14)
    noise = write_noise(tmp_path / "n.tif", score)
    with pytest.raises(EmptyResultError, match="all 1 regions are smaller than --min-area 5"):
        run(noise, min_area=5, window_size=16)
    np.testing.assert_allclose(run(noise, min_area=4, window_size=16)["area"], [4.0])


def test_min_score_drops_weak_regions_by_their_mean_score(tmp_path):
    score = np.zeros((30, 30), "float32")
    score[2:6, 2:6] = 0.6  # mean 0.6
    score[12:22, 12:22] = 0.7
    score[12:14, 12:14] = 1.0  # mean (4 × 1.0 + 96 × 0.7) / 100 = 0.712, across 16-px seams
    noise = write_noise(tmp_path / "n.tif", score)
    for window_size in (2048, 16):
        kept = run(noise, min_score=0.71, window_size=window_size)
        np.testing.assert_allclose(kept["mean_score"], [0.712], atol=1e-6)
        assert len(run(noise, min_score=0.6, window_size=window_size)) == 2
        with pytest.raises(EmptyResultError, match=r"or score below --min-score 0\.72"):
            run(noise, min_score=0.72, window_size=window_size)


def test_engineering_crs_areas_use_its_unit(tmp_path):
    """A local (engineering) CRS, as drone surveys have, is neither projected nor geographic."""
    from rasterio.crs import CRS as RioCRS

    local = RioCRS.from_wkt(
        'LOCAL_CS["site",LOCAL_DATUM["site",0],UNIT["metre",1],'
        'AXIS["Easting",EAST],AXIS["Northing",NORTH]]'
    )
    score = np.zeros((40, 40), "float32")
    score[5:10, 5:10] = 0.9
    noise = write_noise(tmp_path / "n.tif", score, crs=local, res=2.0)
    layer = run(noise)
    np.testing.assert_allclose(layer["area"], [25 * 4.0])


def test_geographic_crs_areas_are_square_metres(tmp_path):
    score = np.zeros((20, 20), "float32")
    score[5:15, 5:15] = 1
    noise = write_noise(tmp_path / "n.tif", score, crs="EPSG:4326", origin=(10.0, 50.0), res=0.0001)
    gdf = run(noise)
    # 10 × 0.0001° ≈ 11.1 m north-south and ≈ 7.2 m east-west at 50° N.
    np.testing.assert_allclose(gdf["area"][0], 111_200 * 0.001 * 71_700 * 0.001, rtol=0.02)


def triangle_and_disc() -> np.ndarray:
    """Two regions whose outlines simplification cuts: a triangle with a staircase
    hypotenuse (52.5 m² of pixels) and a disc (109.25 m²)."""
    yy, xx = np.mgrid[0:60, 0:60]
    score = np.zeros((60, 60), "float32")
    score[(xx <= yy) & (yy < 20) & (xx < 20)] = 1
    score[(yy - 40) ** 2 + (xx - 40) ** 2 < 12**2] = 1
    return score


@pytest.mark.parametrize(("window_size", "jobs"), [(2048, 1), (16, 1), (16, 2)])
def test_area_is_that_of_the_polygon_as_written(tmp_path, window_size, jobs):
    """After --simplify, in blocks or across seams, in this process or in workers."""
    noise = write_noise(tmp_path / "n.tif", triangle_and_disc())
    layer = run(noise, simplify=0.5, window_size=window_size, jobs=jobs)
    assert len(layer) == 2
    np.testing.assert_allclose(layer["area"], layer.geometry.area, rtol=1e-12)
    pixel_areas = layer["pixels"] * PIXEL_AREA
    assert (np.abs(layer["area"] - pixel_areas) > 0.5).all()  # simplification moved them


def test_min_area_compares_the_pixel_outline_whatever_the_simplification(tmp_path):
    noise = write_noise(tmp_path / "n.tif", triangle_and_disc())
    exact = run(noise)
    pixel_area = exact["area"].min()  # the triangle
    simple = run(noise, simplify=0.5)
    assert simple["area"].min() < pixel_area  # simplified below its pixel area...
    kept = run(noise, simplify=0.5, min_area=pixel_area)
    assert list(kept["pixels"]) == list(simple["pixels"])  # ...and kept all the same
    assert len(run(noise, simplify=0.5, min_area=pixel_area + 0.25)) == 1
