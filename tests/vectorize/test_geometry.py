"""Polygon geometry: hole filling and simplification that keeps polygons valid."""

from __future__ import annotations

import numpy as np
import shapely

from geonoise.vectorize.geometry import simplify
from tests.vectorize.conftest import PIXEL_AREA, run, write_noise


def ring_with_holes() -> np.ndarray:
    score = np.zeros((40, 40), "float32")
    score[5:35, 5:35] = 1
    score[8:10, 8:10] = 0  # 1 m² hole
    score[15:25, 15:25] = 0  # 25 m² hole
    score[28:31, 28:31] = 0  # 2.25 m² hole with a one-pixel island
    score[29, 29] = 1
    return score


def test_fill_holes_fills_small_holes_only_and_absorbs_their_islands(tmp_path):
    noise = write_noise(tmp_path / "n.tif", ring_with_holes())
    plain = run(noise)
    assert len(plain) == 2 and shapely.get_num_interior_rings(plain.geometry[0]) == 3
    filled = run(noise, fill_holes=4)
    assert len(filled) == 1
    polygon = filled.geometry[0]
    assert shapely.get_num_interior_rings(polygon) == 1
    np.testing.assert_allclose(polygon.area, 30 * 30 * PIXEL_AREA - 25.0)
    assert filled["pixels"][0] == plain["pixels"].sum()  # the island's pixels joined


def test_simplify_keeps_validity_and_reduces_vertices(tmp_path):
    yy, xx = np.mgrid[0:80, 0:80]
    score = np.zeros((80, 80), "float32")
    score[(yy - 40) ** 2 + (xx - 40) ** 2 < 30**2] = 1
    score[(yy - 40) ** 2 + (xx - 40) ** 2 < 8**2] = 0  # a hole
    noise = write_noise(tmp_path / "n.tif", score)
    exact = run(noise)
    simple = run(noise, simplify=1.0)
    assert shapely.is_valid(simple.geometry.values).all()
    assert shapely.get_num_coordinates(simple.geometry[0]) < 0.5 * shapely.get_num_coordinates(
        exact.geometry[0]
    )
    assert shapely.get_num_interior_rings(simple.geometry[0]) == 1
    np.testing.assert_allclose(simple.geometry[0].area, exact.geometry[0].area, rtol=0.05)


def test_simplify_falls_back_to_topology_preserving_where_quick_one_breaks():
    # Douglas-Peucker at this tolerance collapses the small hole and pinches the
    # thin neck; the polygons must keep their rings and stay valid.
    holed = shapely.Polygon(
        [(0, 0), (40, 0), (40, 40), (0, 40)], [[(10, 10), (11, 10), (11, 11), (10, 11)]]
    )
    sliver = shapely.Polygon([(0, 0), (30, 0), (30, 0.4), (15, 0.2), (0, 0.4)])
    plain = shapely.box(0, 0, 10, 10)
    geoms = np.array([holed, sliver, plain], dtype=object)
    quick = shapely.simplify(geoms, 2.0, preserve_topology=False)
    assert shapely.get_num_interior_rings(quick[0]) == 0 and quick[1].is_empty  # the traps
    simple = simplify(geoms, 2.0)
    assert shapely.is_valid(simple).all() and not shapely.is_empty(simple).any()
    assert shapely.get_num_interior_rings(simple[0]) == 1
    assert list(shapely.get_type_id(simple)) == [shapely.GeometryType.POLYGON] * 3
    assert simple[2].equals(plain)
