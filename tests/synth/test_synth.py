"""The synthetic scene library: reproducibility, georeferencing, label consistency, noise kinds."""

from __future__ import annotations

import functools

import numpy as np
import pytest
import shapely
from rasterio.crs import CRS
from rasterio.features import rasterize

from geonoise.errors import InvalidInputError
from geonoise.synth import NOISE_KINDS, STYLES, SynthConfig, synthesize
from geonoise.synth.noise import default_kinds
from geonoise.synth.texture import noise_field

SIZE = 256  # 128 m at 0.5 m: a handful of buildings, a road, trees; ~0.1 s


@functools.cache
def make(**kwargs) -> object:
    """A small synthesis, cached per parameter set (results are treated as read-only)."""
    kwargs = {"width": SIZE, "height": SIZE, "seed": 7, **kwargs}
    return synthesize(SynthConfig(**kwargs))


def one_kind(kind: str, classes: str = "buildings"):
    return make(noise_rate=1.0, noise_kinds=(kind,), classes=classes)


def changed(result, kind: str):
    return result.changes[result.changes["kind"] == kind]


def test_same_seed_same_arrays():
    a = synthesize(SynthConfig(width=SIZE, height=SIZE, seed=3))
    b = synthesize(SynthConfig(width=SIZE, height=SIZE, seed=3))
    for name in ("scene", "clean_raster", "noisy_raster", "truth"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert a.changes.drop(columns="geometry").equals(b.changes.drop(columns="geometry"))


def test_different_seed_different_scene():
    assert not np.array_equal(make(seed=1).scene, make(seed=2).scene)
    assert not np.array_equal(make(seed=1).clean_raster, make(seed=2).clean_raster)


def test_noise_settings_leave_scene_and_clean_labels_alone():
    a, b = make(noise_rate=0.0), make(noise_rate=0.5, noise_kinds=("shift",))
    np.testing.assert_array_equal(a.scene, b.scene)
    np.testing.assert_array_equal(a.clean_raster, b.clean_raster)


def test_grid_and_crs_as_asked():
    result = make(
        width=200, height=120, resolution=0.3, origin=(600000.0, 4100000.0), crs="EPSG:32633"
    )
    assert result.scene.shape == (3, 120, 200) and result.scene.dtype == np.uint8
    assert result.clean_raster.shape == (120, 200) and result.clean_raster.dtype == np.uint8
    assert tuple(result.grid.transform)[:6] == (0.3, 0.0, 600000.0, 0.0, -0.3, 4100000.0)
    assert result.crs == CRS.from_epsg(32633) and result.clean.crs == CRS.from_epsg(32633)


@pytest.mark.parametrize("classes", ["buildings", "landcover"])
def test_clean_raster_is_the_rasterized_clean_polygons(classes):
    result = make(classes=classes)
    burnt = rasterize(
        [(g, c) for g, c in zip(result.clean.geometry, result.clean["class"], strict=True)],
        out_shape=result.clean_raster.shape,
        transform=result.grid.transform,
        dtype="uint8",
    )
    np.testing.assert_array_equal(burnt, result.clean_raster)


@pytest.mark.parametrize("classes", ["buildings", "landcover"])
def test_truth_is_where_noisy_differs_from_clean(classes):
    result = make(classes=classes, noise_rate=0.5)
    assert result.truth.dtype == np.uint8 and set(np.unique(result.truth)) <= {0, 1}
    np.testing.assert_array_equal(result.truth, (result.clean_raster != result.noisy_raster))
    assert result.truth.any()


def test_noise_rate_zero_keeps_labels():
    result = make(noise_rate=0.0)
    np.testing.assert_array_equal(result.clean_raster, result.noisy_raster)
    assert not result.truth.any() and len(result.changes) == 0


def test_buildings_cover_a_learnable_share():
    share = make(width=512, height=512, noise_rate=0.0).summary()["building_pixel_fraction"]
    assert 0.08 < share < 0.3


def test_missing_only_removes_buildings():
    result = one_kind("missing")
    assert len(changed(result, "missing")) == len(result.clean)
    assert not ((result.noisy_raster == 1) & (result.clean_raster != 1)).any()
    assert ((result.clean_raster == 1) & (result.noisy_raster != 1)).any()


def test_spurious_only_adds_buildings():
    result = one_kind("spurious")
    assert len(changed(result, "spurious")) > 0
    assert not ((result.clean_raster == 1) & (result.noisy_raster != 1)).any()
    assert ((result.noisy_raster == 1) & (result.clean_raster != 1)).any()
    assert set(result.changes["object_id"]).isdisjoint(result.clean["object_id"])


@pytest.mark.parametrize(("kind", "grows"), [("dilate", True), ("erode", False)])
def test_dilate_grows_and_erode_shrinks_each_object(kind, grows):
    result = one_kind(kind)
    before = result.clean.set_index("object_id").area
    after = result.noisy.set_index("object_id").area
    assert len(changed(result, kind)) == len(result.clean)
    assert ((after > before) if grows else (after < before)).all()
    building_pixels = (result.noisy_raster == 1).sum() - (result.clean_raster == 1).sum()
    assert (building_pixels > 0) if grows else (building_pixels < 0)
    assert (changed(result, kind)["distance"] > 0).all()


def test_shift_keeps_area_and_moves_centroid_by_dx_dy():
    result = one_kind("shift")
    clean, noisy = result.clean.set_index("object_id"), result.noisy.set_index("object_id")
    for row in changed(result, "shift").itertuples():
        a, b = clean.geometry[row.object_id], noisy.geometry[row.object_id]
        assert b.area == pytest.approx(a.area, rel=1e-9)
        assert b.centroid.x - a.centroid.x == pytest.approx(row.dx)
        assert b.centroid.y - a.centroid.y == pytest.approx(row.dy)
        assert 1.0 <= np.hypot(row.dx, row.dy) <= 3.0


def test_elastic_keeps_area_roughly_and_moves_boundary():
    result = one_kind("elastic")
    clean, noisy = result.clean.set_index("object_id"), result.noisy.set_index("object_id")
    for object_id in changed(result, "elastic")["object_id"]:
        a, b = clean.geometry[object_id], noisy.geometry[object_id]
        assert b.is_valid and 0.6 < b.area / a.area < 1.4
        assert a.symmetric_difference(b).area > 0.05 * a.area


def test_flip_changes_class_not_geometry():
    result = one_kind("flip", classes="landcover")
    clean, noisy = result.clean.set_index("object_id"), result.noisy.set_index("object_id")
    rows = changed(result, "flip")
    assert len(rows) == len(result.clean)
    for row in rows.itertuples():
        assert row.class_after != row.class_before and row.class_after != 0
        assert noisy["class"][row.object_id] == row.class_after
        assert noisy.geometry[row.object_id].equals(clean.geometry[row.object_id])


def test_flip_needs_landcover():
    with pytest.raises(InvalidInputError, match="--noise-kinds"):
        synthesize(SynthConfig(width=64, height=64, noise_kinds=("flip",)))


@pytest.mark.parametrize(
    ("kwargs", "option"),
    [
        ({"noise_rate": 1.5}, "--noise-rate"),
        ({"noise_kinds": ("wobble",)}, "--noise-kinds"),
        ({"style": "lunar"}, "--style"),
        ({"crs": "EPSG:4326"}, "--crs"),
        ({"seed": -1}, "--seed"),
    ],
)
def test_bad_config_names_the_option(kwargs, option):
    with pytest.raises(InvalidInputError, match=option):
        synthesize(SynthConfig(width=64, height=64, **kwargs))


def test_per_object_table_matches_labels_and_truth():
    result = make(noise_rate=0.6)
    summary = result.summary()
    assert len(result.changes) == round(0.6 * len(result.clean)) == summary["objects_changed"]
    counts = result.changes["kind"].value_counts().to_dict()
    assert {k: v for k, v in summary["noise_by_kind"].items() if v} == counts
    assert max(counts.values()) - min(counts.values()) <= 1  # spread evenly over the kinds
    n_missing, n_spurious = counts.get("missing", 0), counts.get("spurious", 0)
    assert len(result.noisy) == len(result.clean) - n_missing + n_spurious
    pixels = result.changes["changed_pixels"]
    assert (pixels >= 0).all() and pixels.sum() >= result.truth.sum() > 0
    assert shapely.is_valid(result.changes.geometry.values).all()


def test_noise_kind_names_agree_with_the_cli():
    from geonoise.cli import synth as cli_synth

    assert cli_synth.NOISE_KINDS == NOISE_KINDS
    assert tuple(STYLES) == cli_synth.STYLE_NAMES
    assert "flip" not in default_kinds("buildings") and "flip" in default_kinds("landcover")


@pytest.mark.parametrize("style", sorted(STYLES))
def test_every_style_renders_a_plausible_image(style):
    scene = make(style=style, noise_rate=0.0).scene
    means = scene.reshape(3, -1).mean(axis=1)
    assert (means > 40).all() and (means < 200).all()
    assert scene.std() > 15  # texture, not flat colour


def test_styles_differ_in_look():
    a, b = make(style="temperate").scene, make(style="arid").scene
    assert np.abs(a.astype(float).mean((1, 2)) - b.astype(float).mean((1, 2))).max() > 10


def test_noise_field_is_standardised_and_seeded():
    a = noise_field((64, 48), np.random.default_rng(0), 2.0, 4)
    b = noise_field((64, 48), np.random.default_rng(0), 2.0, 4)
    assert a.shape == (64, 48) and a.dtype == np.float32
    np.testing.assert_array_equal(a, b)
    assert abs(float(a.mean())) < 1e-4 and float(a.std()) == pytest.approx(1.0, rel=1e-3)
