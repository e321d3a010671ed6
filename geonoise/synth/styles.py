"""Named looks of a synthetic scene: palette, vegetation, sun, roofs, haze, sensor.

A style changes how a scene looks, never how it is labelled, so a clean source
scene in one style and a noisy target scene in another differ the way two
regions (or two acquisitions) differ: the domain gap the student has to bridge.
"""

from __future__ import annotations

from dataclasses import dataclass

RGB = tuple[float, float, float]


@dataclass(frozen=True)
class Style:
    """How a scene looks. Colours are linear RGB reflectances in 0..1.

    Attributes:
        name: The name ``--style`` takes.
        summary: One line for ``--help``.
        sun_azimuth: Degrees clockwise from north, where the sun stands.
        sun_elevation: Degrees above the horizon; low sun, long shadows.
        roof_colors: Roof albedos to draw from.
        flat_roof_share: Fraction of buildings with flat roofs (the rest gabled).
        building_cover: Target fraction of the scene covered by buildings.
        grass: Grass colour; ``soil``: bare soil colour.
        grass_share: Fraction of open ground that is vegetated.
        tree: Tree crown colour; ``tree_clusters``: clusters per hectare.
        water: Water colour; ``water_chance``: probability of a lake or river.
        asphalt: Road surface colour; ``sidewalk``: kerb and pavement colour.
        haze: Colour the image is blended towards; ``haze_amount`` how much.
        gain: Sensor gain (overall brightness); ``sensor_noise``: noise std in 0..1.
    """

    name: str
    summary: str
    sun_azimuth: float
    sun_elevation: float
    roof_colors: tuple[RGB, ...]
    flat_roof_share: float
    building_cover: float
    grass: RGB
    soil: RGB
    grass_share: float
    tree: RGB
    tree_clusters: float
    water: RGB
    water_chance: float
    asphalt: RGB
    sidewalk: RGB
    haze: RGB
    haze_amount: float
    gain: float
    sensor_noise: float


STYLES: dict[str, Style] = {
    "temperate": Style(
        name="temperate",
        summary="central-European summer: red and grey gabled roofs, green lawns, "
        "many trees, sun from the south-south-east at 45°",
        sun_azimuth=155.0,
        sun_elevation=45.0,
        roof_colors=(
            (0.55, 0.22, 0.15),
            (0.62, 0.30, 0.20),
            (0.45, 0.18, 0.14),
            (0.30, 0.30, 0.32),
            (0.42, 0.40, 0.40),
            (0.58, 0.56, 0.52),
        ),
        flat_roof_share=0.25,
        building_cover=0.17,
        grass=(0.24, 0.34, 0.15),
        soil=(0.42, 0.35, 0.26),
        grass_share=0.75,
        tree=(0.12, 0.24, 0.09),
        tree_clusters=6.0,
        water=(0.10, 0.17, 0.18),
        water_chance=0.7,
        asphalt=(0.27, 0.27, 0.28),
        sidewalk=(0.52, 0.51, 0.49),
        haze=(0.70, 0.74, 0.80),
        haze_amount=0.06,
        gain=1.0,
        sensor_noise=0.012,
    ),
    "arid": Style(
        name="arid",
        summary="dry summer town: flat pale and sand-coloured roofs, dusty soil, "
        "sparse trees, high sun from the south-west, hazy and bright",
        sun_azimuth=215.0,
        sun_elevation=62.0,
        roof_colors=(
            (0.78, 0.74, 0.66),
            (0.70, 0.62, 0.50),
            (0.85, 0.84, 0.80),
            (0.60, 0.52, 0.42),
            (0.66, 0.44, 0.32),
            (0.50, 0.50, 0.50),
        ),
        flat_roof_share=0.8,
        building_cover=0.2,
        grass=(0.48, 0.45, 0.28),
        soil=(0.68, 0.56, 0.42),
        grass_share=0.3,
        tree=(0.22, 0.27, 0.13),
        tree_clusters=2.0,
        water=(0.16, 0.26, 0.27),
        water_chance=0.25,
        asphalt=(0.40, 0.38, 0.36),
        sidewalk=(0.70, 0.66, 0.60),
        haze=(0.85, 0.80, 0.72),
        haze_amount=0.16,
        gain=1.08,
        sensor_noise=0.016,
    ),
    "tropical": Style(
        name="tropical",
        summary="humid tropics: metal and terracotta roofs, lush saturated vegetation, "
        "dense tree cover, near-zenith sun from the north, humid haze",
        sun_azimuth=20.0,
        sun_elevation=70.0,
        roof_colors=(
            (0.38, 0.46, 0.55),
            (0.55, 0.57, 0.58),
            (0.58, 0.28, 0.18),
            (0.48, 0.30, 0.22),
            (0.70, 0.70, 0.68),
            (0.30, 0.42, 0.40),
        ),
        flat_roof_share=0.4,
        building_cover=0.15,
        grass=(0.21, 0.36, 0.13),
        soil=(0.50, 0.30, 0.20),
        grass_share=0.85,
        tree=(0.08, 0.26, 0.08),
        tree_clusters=11.0,
        water=(0.14, 0.22, 0.16),
        water_chance=0.8,
        asphalt=(0.30, 0.30, 0.30),
        sidewalk=(0.55, 0.52, 0.48),
        haze=(0.75, 0.80, 0.82),
        haze_amount=0.12,
        gain=0.95,
        sensor_noise=0.02,
    ),
}


def style_help() -> str:
    """One ``name: summary`` line per style, for ``--help``."""
    return "\n".join(f"{s.name}: {s.summary}" for s in STYLES.values())
