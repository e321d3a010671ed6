"""Rendering a scene layout as an aerial RGB image.

A small physical model keeps the look consistent: every pixel has an albedo
(textured per surface), a surface normal and a height. Light is ambient sky
light plus direct sun light scaled by the cosine between the normal and the
sun, so gabled roofs show two halves of different brightness and tree crowns
look round; shadows are cast along the sun azimuth by marching the height
model towards the sun. Blur, haze, gain and sensor noise finish the image.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import shapely
from scipy import ndimage
from shapely.ops import substring

from geonoise.synth.layout import Grid, Layout
from geonoise.synth.objects import GRASS, ROAD, WATER
from geonoise.synth.styles import Style
from geonoise.synth.texture import noise_field

#: Share of light that comes from the sky rather than the sun (what lights shadows).
AMBIENT = 0.38
#: Sky light is bluer than sunlight.
SKY_TINT = np.array([0.88, 0.95, 1.12], dtype=np.float32)


@dataclass
class Surface:
    """Per-pixel albedo ``(rows, cols, 3)``, height (m) and unit normal components."""

    albedo: np.ndarray
    height: np.ndarray
    nx: np.ndarray
    ny: np.ndarray
    nz: np.ndarray


def render_scene(
    layout: Layout, cover: np.ndarray, style: Style, rng: np.random.Generator
) -> np.ndarray:
    """Render ``layout`` as a ``(3, rows, cols)`` uint8 RGB image.

    Args:
        layout: The scene's objects.
        cover: The landcover label raster of the clean scene (it decides the ground).
        style: The look: palette, sun, haze, sensor.
        rng: Random generator for all textures and noise.
    """
    grid = layout.grid
    surface = Surface(
        ground_albedo(layout, cover, style, rng),
        np.zeros(cover.shape, np.float32),
        np.zeros(cover.shape, np.float32),
        np.zeros(cover.shape, np.float32),
        np.ones(cover.shape, np.float32),
    )
    add_roofs(surface, layout, rng)
    add_trees(surface, layout, style, rng)
    sun = sun_vector(style)
    shadow = cast_shadow(surface.height, style, grid.resolution)
    lambert = np.clip(surface.nx * sun[0] + surface.ny * sun[1] + surface.nz * sun[2], 0, None)
    direct = (1 - AMBIENT) * lambert / sun[2] * (1 - shadow)
    light = AMBIENT * SKY_TINT + direct[..., None]
    return finish(surface.albedo * light, style, rng)


def sun_vector(style: Style) -> np.ndarray:
    """Unit vector towards the sun: x east, y north, z up."""
    az, el = math.radians(style.sun_azimuth), math.radians(style.sun_elevation)
    return np.array([math.sin(az) * math.cos(el), math.cos(az) * math.cos(el), math.sin(el)])


def ground_albedo(
    layout: Layout, cover: np.ndarray, style: Style, rng: np.random.Generator
) -> np.ndarray:
    """Albedo of the ground: soil, grass, water and roads with their textures."""
    shape = cover.shape
    low, mid = noise_field(shape, rng, 2.6, 6), noise_field(shape, rng, 1.6)
    fine, hue = noise_field(shape, rng, 0.4), noise_field(shape, rng, 2.8, 20)
    tint = 1 + 0.06 * hue[..., None] * np.array([1.0, 0.2, -0.8], np.float32)
    soil = np.array(style.soil, np.float32) * (1 + 0.14 * low + 0.05 * fine)[..., None] * tint
    grass = np.array(style.grass, np.float32) * (1 + 0.16 * mid + 0.07 * fine)[..., None] * tint
    dry = np.clip((low - 0.8) * 0.8, 0, 0.6)[..., None]
    vegetated = ndimage.gaussian_filter((cover == GRASS).astype(np.float32), 1.5)
    weight = np.clip(vegetated * (1.2 + 0.3 * fine), 0, 1)[..., None] * (1 - dry)
    albedo = soil * (1 - weight) + grass * weight
    _paint_water(albedo, cover == WATER, style, low, layout.grid.resolution)
    _paint_roads(albedo, layout, cover, style, low, fine)
    return albedo


def _paint_water(albedo, water, style: Style, low, resolution: float) -> None:
    if not water.any():
        return
    shore = ndimage.distance_transform_edt(water) * resolution
    t = np.clip(1 - shore / 4.0, 0, 1)[..., None] * 0.5
    color = np.array(style.water, np.float32) * (1 + 0.05 * low)[..., None]
    albedo[water] = (color * (1 - t) + albedo * t)[water]


def _paint_roads(albedo, layout: Layout, cover, style: Style, low, fine) -> None:
    from geonoise.synth.objects import rasterize_objects

    grid = layout.grid
    walks = [shapely.buffer(r.line, r.width / 2 + 1.8, cap_style="flat") for r in layout.roads]
    walk = (rasterize_objects(walks, [1] * len(walks), grid) > 0) & (cover != WATER)
    albedo[walk] = (np.array(style.sidewalk, np.float32) * (1 + 0.04 * fine[..., None]))[walk]
    road = cover == ROAD
    patches = 1 + 0.07 * low + 0.05 * fine - 0.1 * (low > 1.3)
    albedo[road] = (np.array(style.asphalt, np.float32) * patches[..., None])[road]
    dashes = [d for r in layout.roads if r.marked for d in _dashes(r.line)]
    paint = (rasterize_objects(dashes, [1] * len(dashes), grid) > 0) & road
    albedo[paint] = albedo[paint] * 0.3 + 0.6


def _dashes(line, dash: float = 3.0, gap: float = 6.0) -> list:
    if line.geom_type != "LineString":
        return []
    starts = np.arange(0.0, line.length - dash, dash + gap)
    return [substring(line, s, s + dash).buffer(0.2, cap_style="flat") for s in starts]


def add_roofs(surface: Surface, layout: Layout, rng: np.random.Generator) -> None:
    """Draw the buildings' roofs: albedo, height and facet normals per wing."""
    from rasterio.features import rasterize

    grid = layout.grid
    parts = [(b, p) for b in layout.buildings for p in b.parts]
    if not parts:
        return
    ids = rasterize(
        [(p.polygon, i) for i, (_, p) in enumerate(parts, start=1)],
        out_shape=surface.height.shape,
        transform=grid.transform,
        fill=0,
        dtype="int32",
    )
    rows, cols = np.nonzero(ids)
    k = ids[rows, cols] - 1
    attr = _part_arrays(parts)
    x = grid.origin_x + (cols + 0.5) * grid.resolution - attr["cx"][k]
    y = grid.origin_y - (rows + 0.5) * grid.resolution - attr["cy"][k]
    sin_a, cos_a = np.sin(attr["angle"][k]), np.cos(attr["angle"][k])
    across = -x * sin_a + y * cos_a
    side = np.where(across >= 0, 1.0, -1.0)
    pitch = attr["pitch"][k]
    rise = np.clip(attr["half"][k] - np.abs(across), 0, None) * np.tan(pitch)
    surface.height[rows, cols] = attr["height"][k] + rise
    surface.nx[rows, cols] = -side * np.sin(pitch) * sin_a
    surface.ny[rows, cols] = side * np.sin(pitch) * cos_a
    surface.nz[rows, cols] = np.cos(pitch)
    grain = noise_field(ids.shape, rng, 0.8)[rows, cols]
    dirt = noise_field(ids.shape, rng, 2.4, 3)[rows, cols]
    shade = 1 + 0.05 * grain + 0.06 * dirt + 0.12 * (np.abs(across) < 0.35) * (pitch > 0)
    surface.albedo[rows, cols] = attr["color"][k] * shade[:, None]
    _add_parapets(surface, ids, attr["pitch"] == 0)


def _part_arrays(parts) -> dict[str, np.ndarray]:
    flat = [b.roof == "flat" for b, _ in parts]
    return {
        "cx": np.array([p.center[0] for _, p in parts]),
        "cy": np.array([p.center[1] for _, p in parts]),
        "angle": np.array([p.angle for _, p in parts]),
        "half": np.array([p.width / 2 for _, p in parts]),
        "height": np.array([b.height for b, _ in parts], np.float32),
        "pitch": np.array([0.0 if f else b.pitch for f, (b, _) in zip(flat, parts, strict=True)]),
        "color": np.array([b.color for b, _ in parts], np.float32),
    }


def _add_parapets(surface: Surface, ids: np.ndarray, flat_part: np.ndarray) -> None:
    flat = np.concatenate([[False], flat_part])[ids]
    rim = flat & ~ndimage.binary_erosion(ids > 0)
    surface.albedo[rim] *= 1.25
    surface.height[rim] += 0.5


def add_trees(surface: Surface, layout: Layout, style: Style, rng: np.random.Generator) -> None:
    """Draw tree crowns (domes with leafy texture) where they rise above what is below."""
    if not layout.trees:
        return
    grid = layout.grid
    crowns = np.vstack([t.crowns for t in layout.trees])
    canopy, tone = _stamp_crowns(crowns, grid, rng)
    leafy = canopy > 0
    canopy += leafy * (0.5 * noise_field(canopy.shape, rng, 1.0, 1.2))
    top = leafy & (canopy > surface.height)
    gy, gx = np.gradient(ndimage.gaussian_filter(canopy, 0.7), grid.resolution)
    norm = np.sqrt(gx * gx + gy * gy + 1)
    surface.nx[top], surface.ny[top], surface.nz[top] = (
        (-gx / norm)[top],
        (gy / norm)[top],
        (1 / norm)[top],
    )
    surface.height[top] = canopy[top]
    leaves = 1 + 0.12 * noise_field(canopy.shape, rng, 1.2)
    surface.albedo[top] = (np.array(style.tree, np.float32) * (tone * leaves)[..., None])[top]


def _stamp_crowns(crowns: np.ndarray, grid: Grid, rng: np.random.Generator):
    shape = (grid.height, grid.width)
    canopy = np.zeros(shape, np.float32)
    tone = np.ones(shape, np.float32)
    res = grid.resolution
    for (x, y, radius, height), t in zip(crowns, rng.uniform(0.75, 1.3, len(crowns)), strict=True):
        col, row = (x - grid.origin_x) / res - 0.5, (grid.origin_y - y) / res - 0.5
        r = radius / res
        r0, r1 = max(int(row - r), 0), min(int(row + r) + 2, shape[0])
        c0, c1 = max(int(col - r), 0), min(int(col + r) + 2, shape[1])
        if r0 >= r1 or c0 >= c1:
            continue
        rr, cc = np.mgrid[r0:r1, c0:c1]
        d2 = ((rr - row) ** 2 + (cc - col) ** 2) / (r * r)
        z = np.where(d2 < 1, height - 0.8 * radius * (1 - np.sqrt(np.clip(1 - d2, 0, 1))), 0)
        win = (slice(r0, r1), slice(c0, c1))
        higher = z > canopy[win]
        canopy[win] = np.where(higher, z, canopy[win])
        tone[win] = np.where(higher, t, tone[win])
    return canopy, tone


def cast_shadow(height: np.ndarray, style: Style, resolution: float) -> np.ndarray:
    """Fraction of direct sunlight blocked at each pixel (soft-edged, 0..1)."""
    top = float(height.max())
    if top <= 0:
        return np.zeros_like(height)
    az, el = math.radians(style.sun_azimuth), math.radians(style.sun_elevation)
    towards = np.array([-math.cos(az), math.sin(az)])  # (row, col) step towards the sun
    drop = resolution * math.tan(el)
    shadow = np.zeros(height.shape, bool)
    for step in range(1, math.ceil(top / drop) + 1):
        dr, dc = np.rint(towards * step).astype(int)
        shadow |= _shifted(height, dr, dc) - height > step * drop
    return ndimage.gaussian_filter(shadow.astype(np.float32), 0.6)


def _shifted(a: np.ndarray, dr: int, dc: int) -> np.ndarray:
    """``out[r, c] = a[r + dr, c + dc]``, zero outside."""
    out = np.zeros_like(a)
    rows, cols = a.shape
    if abs(dr) >= rows or abs(dc) >= cols:  # shifted out of the array (a tall tower, tiny scene)
        return out
    out[max(0, -dr) : rows - max(0, dr), max(0, -dc) : cols - max(0, dc)] = a[
        max(0, dr) : rows + min(0, dr), max(0, dc) : cols + min(0, dc)
    ]
    return out


def finish(image: np.ndarray, style: Style, rng: np.random.Generator) -> np.ndarray:
    """Optics and sensor: blur, uneven illumination, haze, gain, noise; to uint8 bands."""
    image = ndimage.gaussian_filter(image, (0.55, 0.55, 0))
    image *= (1 + 0.04 * noise_field(image.shape[:2], rng, 3.0, 30))[..., None]
    haze = np.array(style.haze, np.float32)
    image = image * (1 - style.haze_amount) + haze * style.haze_amount
    image = image * style.gain + rng.normal(0, style.sensor_noise, image.shape)
    return np.clip(image * 255 + 0.5, 0, 255).astype(np.uint8).transpose(2, 0, 1).copy()
