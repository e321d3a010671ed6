"""Batch augmentation: image and mask stay aligned, ignore stays ignore, runs are repeatable."""

from __future__ import annotations

import math

import pytest
import torch

from geonoise.errors import InvalidInputError
from geonoise.training.augment import (
    RandomBandJitter,
    RandomD4,
    _rotate_about_grey,
    build_augmentation,
)

GEOMETRY_ONLY = {"photometric": False}
STRONG_AFFINE = {"affine_degrees": 30.0, "affine_scale": (0.7, 1.2), "affine_p": 1.0}


def blocky_mask(classes: int, n: int = 6, size: int = 48, block: int = 6) -> torch.Tensor:
    """Random class ids in ``block``-pixel squares, so there are edges but also interiors."""
    coarse = torch.randint(0, classes, (n, size // block, size // block))
    return coarse.repeat_interleave(block, 1).repeat_interleave(block, 2)


def one_hot_batch(classes: int, n: int = 6) -> dict:
    mask = blocky_mask(classes, n)
    image = torch.nn.functional.one_hot(mask, classes).permute(0, 3, 1, 2).float()
    return {"image": image, "mask": mask, "tile_id": [f"t{i}" for i in range(n)]}


@pytest.mark.parametrize("bands", [3, 6])
def test_masks_stay_in_the_label_set_and_keep_their_dtype(bands):
    torch.manual_seed(0)
    mask = blocky_mask(4)
    mask[:, :3] = 255
    batch = {"image": torch.randn(6, bands, 48, 48), "mask": mask}
    out = build_augmentation(**STRONG_AFFINE)(batch)
    assert out["image"].shape == (6, bands, 48, 48) and out["image"].dtype == torch.float32
    assert out["mask"].shape == (6, 48, 48) and out["mask"].dtype == torch.int64
    assert set(out["mask"].unique().tolist()) <= {0, 1, 2, 3, 255}
    assert torch.isfinite(out["image"]).all()


@pytest.mark.parametrize("classes", [3, 6])
def test_flips_and_turns_move_image_and_mask_alike(classes):
    torch.manual_seed(1)
    batch = one_hot_batch(classes)
    out = build_augmentation(affine_degrees=0.0, affine_scale=(1.0, 1.0), **GEOMETRY_ONLY)(batch)
    assert (out["mask"] != 255).all()
    assert torch.equal(out["image"].argmax(1), out["mask"])
    assert torch.equal(out["image"], out["image"].round())  # moved, not resampled
    assert not torch.equal(out["mask"], batch["mask"])  # something moved
    assert out["tile_id"] == batch["tile_id"]


def test_d4_draws_all_eight_symmetries_and_reports_their_matrices():
    torch.manual_seed(6)
    image = torch.arange(25.0).view(1, 1, 5, 5).expand(400, 1, 5, 5)
    d4 = RandomD4()
    out = d4(image)
    assert len({tuple(o.flatten().tolist()) for o in out}) == 8
    for sample, matrix in zip(out, d4.transform_matrix, strict=True):
        for y, x in ((0, 0), (1, 3), (4, 2)):
            col, row, _ = (matrix @ torch.tensor([x, y, 1.0])).round().long().tolist()
            assert sample[0, row, col] == image[0, 0, y, x]


def test_d4_keeps_the_shape_of_tiles_that_are_not_square():
    torch.manual_seed(7)
    batch = {"image": torch.randn(8, 3, 6, 10), "mask": torch.randint(0, 3, (8, 6, 10))}
    out = build_augmentation(affine_degrees=0.0, affine_scale=(1.0, 1.0), **GEOMETRY_ONLY)(batch)
    assert out["image"].shape == (8, 3, 6, 10) and out["mask"].shape == (8, 6, 10)


@pytest.mark.parametrize(("classes", "affine"), [(3, STRONG_AFFINE), (6, STRONG_AFFINE), (3, {})])
def test_the_affine_warps_image_and_mask_alike(classes, affine):
    torch.manual_seed(2)
    batch = one_hot_batch(classes, n=12)
    out = build_augmentation(**affine, **GEOMETRY_ONLY)(batch)
    image, mask = out["image"], out["mask"]
    labelled = mask != 255
    # Bilinear image vs nearest mask: wherever all four neighbours were one class, they agree.
    pure = (image.amax(1) > 1 - 1e-4) & labelled
    assert pure.float().mean() > 0.5
    assert torch.equal(image.argmax(1)[pure], mask[pure])
    agree = (image.argmax(1) == mask)[labelled].float().mean()
    assert agree > 0.9


def test_pixels_from_outside_the_tile_become_ignore_not_class_zero():
    torch.manual_seed(3)
    batch = one_hot_batch(3)
    batch["image"] = torch.cat([batch["image"], torch.ones(6, 1, 48, 48)], dim=1)  # validity
    shrink = build_augmentation(
        affine_degrees=20.0, affine_scale=(0.5, 0.6), affine_p=1.0, flips=False, **GEOMETRY_ONLY
    )
    out = shrink(batch)
    inside, mask = out["image"][:, 3], out["mask"]
    assert (mask == 255).float().mean() > 0.5
    assert (mask[inside < 1e-4] == 255).all()  # wholly outside: ignore
    assert (mask[inside > 0.5 + 1e-4] != 255).all()  # mostly inside: a class
    assert (mask[:, 0, 0] == 255).all()


@pytest.mark.parametrize("bands", [3, 6])
def test_photometric_ops_change_the_image_only(bands):
    torch.manual_seed(4)
    mask = blocky_mask(3)
    mask[:, -4:] = 255
    batch = {"image": torch.randn(6, bands, 48, 48), "mask": mask}
    out = build_augmentation(geometric=False, jitter_p=1.0, noise_p=1.0)(batch)
    assert torch.equal(out["mask"], mask)
    assert not torch.allclose(out["image"], batch["image"])
    assert (out["image"] - batch["image"]).abs().mean() < 1.0  # mild, in σ units


def test_jitter_is_per_band_except_for_rgb():
    torch.manual_seed(5)
    jitter = RandomBandJitter(brightness=0.5, contrast=0.0, saturation=0.0, hue=0.0, p=1.0)
    six = jitter(torch.zeros(4, 6, 8, 8))
    shifts = six[:, :, 0, 0]
    assert torch.equal(six, shifts[..., None, None].expand_as(six))
    assert shifts.abs().max() <= 0.5 and (shifts.std(dim=1) > 0).all()
    rgb = jitter(torch.zeros(4, 3, 8, 8))[:, :, 0, 0]
    assert torch.allclose(rgb, rgb[:, :1].expand_as(rgb))


def test_hue_turns_colour_about_the_grey_axis():
    image = torch.randn(2, 3, 5, 5)
    third = torch.full((2,), 2 * math.pi / 3)
    turned = _rotate_about_grey(image, third, torch.ones(2))
    torch.testing.assert_close(turned, image.roll(1, dims=1), atol=1e-5, rtol=0)
    grey = _rotate_about_grey(image, torch.zeros(2), torch.zeros(2))
    torch.testing.assert_close(grey, image.mean(1, keepdim=True).expand_as(image))


def test_runs_are_repeatable_under_a_seed():
    batch = {"image": torch.randn(6, 3, 48, 48), "mask": blocky_mask(3)}
    augment = build_augmentation(**STRONG_AFFINE)

    def run(seed: int) -> dict:
        torch.manual_seed(seed)
        return augment(batch)

    first, again, other = run(7), run(7), run(8)
    assert torch.equal(first["image"], again["image"]) and torch.equal(first["mask"], again["mask"])
    assert not torch.equal(first["image"], other["image"])


def test_nothing_asked_is_the_identity_and_bad_shapes_are_refused():
    batch = {"image": torch.randn(2, 3, 8, 8), "mask": torch.zeros(2, 8, 8, dtype=torch.long)}
    out = build_augmentation(geometric=False, photometric=False)(batch)
    assert out["image"] is batch["image"] and out["mask"] is batch["mask"]
    with pytest.raises(InvalidInputError, match=r"mask \(N, H, W\)"):
        build_augmentation()({"image": batch["image"], "mask": batch["mask"][:, None]})


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_runs_on_the_gpu():
    torch.manual_seed(9)
    batch = {k: v.cuda() for k, v in one_hot_batch(3).items() if k != "tile_id"}
    out = build_augmentation(**STRONG_AFFINE)(batch)
    assert out["image"].is_cuda and out["mask"].is_cuda and out["mask"].dtype == torch.int64
    assert set(out["mask"].unique().tolist()) <= {0, 1, 2, 255}
