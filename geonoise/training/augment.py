"""Augmentation of training batches on the training device, with kornia.

:func:`build_augmentation` returns a module that takes a batch dict (``image``
float ``(N, C, H, W)``, ``mask`` int64 ``(N, H, W)``, any other keys passed
through) and returns it augmented:

* geometry, applied alike to image and mask: one of the eight symmetries of the
  square (a flip and quarter turns, by indexing: exact and cheaper than kornia's
  three warps) and a mild random affine (rotation and scale about the centre),
  for which images are resampled bilinearly and masks by nearest neighbour.
  Pixels that the affine brings in from outside the tile become 255 (ignore):
  the mask is shifted by +1 before the warp, so the 0 that kornia pads with
  marks "outside", and shifted back afterwards.
* radiometry, on the image only: brightness and contrast (one draw for all bands
  of an RGB image, one per band otherwise), saturation and hue for three-band
  images, and Gaussian noise.

Augmentation runs **after** normalisation: the training task standardises the
batch on the device with the data set's :class:`~geonoise.data.stats.BandStats`, then
augments. All photometric amounts are therefore in standard deviations of a band
(``brightness=0.1`` shifts by up to 0.1 σ), and nothing is clamped to [0, 1]:
every photometric operation here is linear and range-free (hue is a rotation of
the colour about the grey axis, saturation a scaling away from it), so it works
for any band count and any pixel range.

Random draws come from torch's global generators (CPU for the per-sample
parameters, the batch's device for noise), so ``torch.manual_seed`` makes a run
repeatable on a given device. Everything stays on the batch's device.
"""

from __future__ import annotations

import math
from typing import Any

import kornia.augmentation as K
import torch
from kornia.augmentation import GeometricAugmentationBase2D, IntensityAugmentationBase2D
from torch import Tensor, nn

from geonoise.contracts import IGNORE
from geonoise.errors import InvalidInputError

Batch = dict[str, Any]


class RandomD4(GeometricAugmentationBase2D):
    """One of the eight symmetries of the square per sample: a flip or not, then 0–3 quarter turns.

    Pixels are moved by indexing, not resampled, so image values and labels are
    copied exactly. Tiles that are not square get only the symmetries that keep
    their shape (flips and half turns).
    """

    def __init__(self) -> None:
        super().__init__(p=1.0, same_on_batch=False, keepdim=False)

    def generate_parameters(self, batch_shape: tuple[int, ...]) -> dict[str, Tensor]:
        n = batch_shape[0]
        turns = torch.randint(0, 4, (n,))
        if batch_shape[-1] != batch_shape[-2]:
            turns = turns // 2 * 2
        return {"turns": turns, "flip": torch.randint(0, 2, (n,))}

    def compute_transformation(
        self, input: Tensor, params: dict[str, Tensor], flags: dict[str, Any]
    ) -> Tensor:
        """Pixel-coordinate matrices ``turn^k · flip^f`` (x right, y down)."""
        height, width = input.shape[-2:]
        matrices = []
        for turns, flip in zip(params["turns"].tolist(), params["flip"].tolist(), strict=True):
            m = torch.eye(3, dtype=torch.float64)
            if flip:
                m = torch.tensor([[-1.0, 0, width - 1], [0, 1, 0], [0, 0, 1]], dtype=m.dtype) @ m
            for turn in range(turns):
                edge = width if turn % 2 == 0 else height
                m = torch.tensor([[0.0, 1, 0], [-1, 0, edge - 1], [0, 0, 1]], dtype=m.dtype) @ m
            matrices.append(m)
        return torch.stack(matrices).to(input.device, input.dtype)

    def apply_transform(
        self,
        input: Tensor,
        params: dict[str, Tensor],
        flags: dict[str, Any],
        transform: Tensor | None = None,
    ) -> Tensor:
        out = torch.empty_like(input)
        for i, (turns, flip) in enumerate(
            zip(params["turns"].tolist(), params["flip"].tolist(), strict=True)
        ):
            sample = input[i].flip(-1) if flip else input[i]
            out[i] = torch.rot90(sample, turns, dims=(-2, -1))
        return out

    def apply_transform_mask(
        self,
        input: Tensor,
        params: dict[str, Tensor],
        flags: dict[str, Any],
        transform: Tensor | None = None,
    ) -> Tensor:
        return self.apply_transform(input, params, flags, transform)


class RandomBandJitter(IntensityAugmentationBase2D):
    """Brightness and contrast per band (or shared for RGB), saturation and hue for RGB.

    Range-free and unclamped, for standardised images (amounts in band σ).

    Args:
        brightness: Largest additive shift.
        contrast: Largest relative change of the spread about each band's mean.
        saturation: Largest relative change of the distance from grey (RGB only).
        hue: Largest rotation about the grey axis, in turns (RGB only).
        p: Probability that a sample is jittered.
    """

    def __init__(
        self,
        brightness: float = 0.1,
        contrast: float = 0.1,
        saturation: float = 0.1,
        hue: float = 0.02,
        p: float = 0.8,
    ) -> None:
        super().__init__(p=p, same_on_batch=False, keepdim=False)
        self.amounts = {
            "brightness": brightness,
            "contrast": contrast,
            "saturation": saturation,
            "hue": hue * 2 * math.pi,
        }

    def generate_parameters(self, batch_shape: tuple[int, ...]) -> dict[str, Tensor]:
        n, bands = batch_shape[0], batch_shape[1]
        draw = {
            key: (torch.rand(n, bands) * 2 - 1) * amount for key, amount in self.amounts.items()
        }
        if bands == 3:  # RGB: brightness and contrast alike in all bands, as in colour jitter
            draw = {key: value[:, :1].expand(n, bands) for key, value in draw.items()}
        return {key: value.contiguous() for key, value in draw.items()}

    def apply_transform(
        self,
        input: Tensor,
        params: dict[str, Tensor],
        flags: dict[str, Any],
        transform: Tensor | None = None,
    ) -> Tensor:
        p = {key: params[key].to(input.device, input.dtype) for key in self.amounts}
        mean = input.mean(dim=(-2, -1), keepdim=True)
        out = (input - mean) * (1 + p["contrast"][..., None, None]) + mean
        out = out + p["brightness"][..., None, None]
        if out.shape[1] == 3:
            out = _rotate_about_grey(out, p["hue"][:, 0], 1 + p["saturation"][:, 0])
        return out


class RandomNoise(IntensityAugmentationBase2D):
    """Additive Gaussian noise with a per-sample σ drawn from [0, ``std``], drawn on the device."""

    def __init__(self, std: float = 0.05, p: float = 0.5) -> None:
        super().__init__(p=p, same_on_batch=False, keepdim=False)
        self.std = std

    def generate_parameters(self, batch_shape: tuple[int, ...]) -> dict[str, Tensor]:
        return {"sigma": torch.rand(batch_shape[0]) * self.std}

    def apply_transform(
        self,
        input: Tensor,
        params: dict[str, Tensor],
        flags: dict[str, Any],
        transform: Tensor | None = None,
    ) -> Tensor:
        sigma = params["sigma"].to(input.device, input.dtype)[:, None, None, None]
        return input + torch.randn_like(input) * sigma


class SegmentationAugmentation(nn.Module):
    """Augments a batch dict's ``image`` and ``mask`` together (see the module docs).

    Args:
        transforms: kornia augmentations, applied in order; none means identity.
    """

    def __init__(self, transforms: list[nn.Module]) -> None:
        super().__init__()
        self.transforms = (
            K.AugmentationSequential(*transforms, data_keys=["input", "mask"])
            if transforms
            else None
        )

    def forward(self, batch: Batch) -> Batch:
        image, mask = batch["image"], batch["mask"]
        if image.ndim != 4 or mask.shape != (image.shape[0], *image.shape[2:]):
            raise InvalidInputError(
                f"augmentation needs image (N, C, H, W) and mask (N, H, W), got "
                f"{tuple(image.shape)} and {tuple(mask.shape)}"
            )
        if self.transforms is None:
            return dict(batch)
        # +1: kornia fills pixels from outside the tile with 0, which then reads as "outside".
        image, shifted = self.transforms(image, (mask.long() + 1).unsqueeze(1))
        out = shifted.squeeze(1).long() - 1
        out = torch.where(out < 0, torch.full_like(out, IGNORE), out)
        return {**batch, "image": image, "mask": out}


def build_augmentation(
    *,
    geometric: bool = True,
    photometric: bool = True,
    flips: bool = True,
    affine_degrees: float = 10.0,
    affine_scale: tuple[float, float] = (0.9, 1.1),
    affine_p: float = 0.5,
    brightness: float = 0.1,
    contrast: float = 0.1,
    saturation: float = 0.1,
    hue: float = 0.02,
    jitter_p: float = 0.8,
    noise_std: float = 0.05,
    noise_p: float = 0.5,
) -> SegmentationAugmentation:
    """The training augmentation for standardised batches (amounts in band σ).

    Args:
        geometric: Flip, turn and warp image and mask together.
        photometric: Jitter and add noise to the image.
        flips: Use the eight symmetries of the square (flips and 90° turns).
        affine_degrees: Largest rotation of the random affine; 0 with
            ``affine_scale=(1, 1)`` leaves it out.
        affine_scale: Range of the affine's scale factor.
        affine_p: Probability of the affine per sample.
        brightness: Largest brightness shift (σ).
        contrast: Largest relative contrast change.
        saturation: Largest relative saturation change (three-band images).
        hue: Largest hue rotation in turns (three-band images).
        jitter_p: Probability of the brightness/contrast/colour jitter per sample.
        noise_std: Largest σ of the Gaussian noise; 0 leaves it out.
        noise_p: Probability of noise per sample.
    """
    transforms: list[nn.Module] = []
    if geometric and flips:
        transforms.append(RandomD4())
    if geometric and (affine_degrees or tuple(affine_scale) != (1.0, 1.0)):
        transforms.append(
            K.RandomAffine(degrees=affine_degrees, scale=tuple(affine_scale), p=affine_p)
        )
    if photometric:
        transforms.append(RandomBandJitter(brightness, contrast, saturation, hue, p=jitter_p))
        if noise_std > 0:
            transforms.append(RandomNoise(noise_std, p=noise_p))
    return SegmentationAugmentation(transforms)


def _rotate_about_grey(image: Tensor, angle: Tensor, saturation: Tensor) -> Tensor:
    """Turn each pixel's colour about the grey axis by ``angle`` and scale its distance from it.

    The rotation about the unit axis (1, 1, 1)/√3 of a vector ``v`` orthogonal
    to it is ``cos θ · v + sin θ · (axis × v)`` (Rodrigues).
    """
    grey = image.mean(dim=1, keepdim=True)
    chroma = image - grey
    r, g, b = chroma.unbind(dim=1)
    cross = torch.stack((b - g, r - b, g - r), dim=1) / math.sqrt(3)
    cos = (torch.cos(angle) * saturation)[:, None, None, None]
    sin = (torch.sin(angle) * saturation)[:, None, None, None]
    return grey + cos * chroma + sin * cross
