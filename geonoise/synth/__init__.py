"""Synthetic georeferenced scenes with clean labels, noisy labels and the truth of the noise.

:func:`synthesize` lays out a scene (roads, water, buildings, trees, grass) in
map coordinates, renders it as an aerial RGB image, rasterizes the clean label
polygons, applies label noise to the polygons and rasterizes them again, so
raster and vector labels always agree. :func:`write_synthesis` writes it all
as GeoTIFFs, GeoPackages and a ``synth.json`` that says how to regenerate it.

The scene, the layout and the noise draw from separate random streams of one
seed: changing the noise rate or kinds leaves the image and clean labels as
they were.
"""

from __future__ import annotations

import shlex
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from geonoise.contracts import IGNORE
from geonoise.errors import InvalidInputError
from geonoise.synth.noise import NOISE_KINDS, Change, add_noise, check_kinds, default_kinds
from geonoise.synth.objects import CLASS_SCHEMES
from geonoise.synth.styles import STYLES, style_help

if TYPE_CHECKING:
    import geopandas as gpd

    from geonoise.synth.layout import Grid

__all__ = [
    "CLASS_SCHEMES",
    "IGNORE",
    "NOISE_KINDS",
    "STYLES",
    "SynthConfig",
    "Synthesis",
    "default_kinds",
    "style_help",
    "synth_command",
    "synthesize",
]


@dataclass(frozen=True)
class SynthConfig:
    """Everything that decides a synthetic scene; the same config gives the same bytes.

    Attributes:
        width, height: Scene size in pixels.
        resolution: Ground sample distance in CRS units (metres), square pixels.
        origin: ``(x, y)`` of the scene's top-left corner in the CRS.
        crs: A projected CRS (anything ``rasterio.crs.CRS.from_user_input`` takes).
        classes: ``"buildings"`` (0 background, 1 building) or ``"landcover"``.
        style: Name of the look, a key of :data:`STYLES`.
        noise_rate: Fraction of label objects changed, 0..1.
        noise_kinds: Kinds of noise to spread the changes over; empty for all
            kinds the class scheme allows.
        seed: Random seed.
    """

    width: int = 1024
    height: int = 1024
    resolution: float = 0.5
    origin: tuple[float, float] = (500000.0, 5300000.0)
    crs: str = "EPSG:32632"
    classes: str = "buildings"
    style: str = "temperate"
    noise_rate: float = 0.2
    noise_kinds: tuple[str, ...] = ()
    seed: int = 0

    @property
    def kinds(self) -> tuple[str, ...]:
        """The noise kinds in effect."""
        return self.noise_kinds or default_kinds(self.classes)


@dataclass
class Synthesis:
    """A synthetic scene and its labels.

    Attributes:
        config: What made it.
        grid: Pixel grid (size, resolution, origin; ``grid.transform``).
        crs: The CRS as a :class:`rasterio.crs.CRS`.
        scene: ``(3, rows, cols)`` uint8 RGB image.
        clean, noisy: Label objects (``object_id``, ``class``, ``class_name``, geometry).
        clean_raster, noisy_raster: ``(rows, cols)`` uint8 label rasters.
        truth: uint8 mask, 1 where ``noisy_raster != clean_raster``.
        changes: One row per changed object (see :func:`changes_frame`).
    """

    config: SynthConfig
    grid: Grid
    crs: Any
    scene: np.ndarray
    clean: gpd.GeoDataFrame
    noisy: gpd.GeoDataFrame
    clean_raster: np.ndarray
    noisy_raster: np.ndarray
    truth: np.ndarray
    changes: gpd.GeoDataFrame
    class_names: tuple[str, ...] = field(default=())

    def summary(self) -> dict[str, Any]:
        """Object counts, noise counts by kind and the noisy pixel fraction."""
        kinds = self.changes["kind"].value_counts().to_dict() if len(self.changes) else {}
        clean_fg = float(np.mean(self.clean_raster == 1))
        return {
            "objects_clean": len(self.clean),
            "objects_noisy": len(self.noisy),
            "objects_changed": len(self.changes),
            "noise_by_kind": {k: int(kinds.get(k, 0)) for k in self.config.kinds},
            "noisy_pixel_fraction": float(self.truth.mean()),
            "building_pixel_fraction": clean_fg,
        }


def synthesize(config: SynthConfig) -> Synthesis:
    """Make the scene, clean labels, noisy labels and noise truth ``config`` describes."""
    from geonoise.synth.layout import Grid, make_layout
    from geonoise.synth.objects import building_objects, landcover_objects, rasterize_labels
    from geonoise.synth.render import render_scene

    crs = _check(config)
    style = STYLES[config.style]
    grid = Grid(config.width, config.height, config.resolution, *config.origin)
    layout_rng, cover_rng, render_rng, noise_rng = (
        np.random.default_rng(s) for s in np.random.SeedSequence(config.seed).spawn(4)
    )
    layout = make_layout(grid, style, layout_rng)
    landcover = landcover_objects(layout, style.grass_share, crs, cover_rng)
    scene = render_scene(layout, rasterize_labels(landcover, grid), style, render_rng)
    clean = landcover if config.classes == "landcover" else building_objects(landcover)
    noisy, changes = add_noise(
        clean, grid, config.classes, config.noise_rate, config.kinds, noise_rng
    )
    clean_raster, noisy_raster = rasterize_labels(clean, grid), rasterize_labels(noisy, grid)
    truth = (clean_raster != noisy_raster).astype(np.uint8)
    return Synthesis(
        config,
        grid,
        crs,
        scene,
        clean,
        noisy,
        clean_raster,
        noisy_raster,
        truth,
        changes_frame(changes, grid, truth, crs),
        CLASS_SCHEMES[config.classes],
    )


def _check(config: SynthConfig):
    """Validate what click cannot; return the CRS."""
    from rasterio.crs import CRS
    from rasterio.errors import CRSError

    if config.style not in STYLES:
        raise InvalidInputError(
            f"unknown style {config.style!r}; choose from {', '.join(STYLES)}", option="--style"
        )
    if config.classes not in CLASS_SCHEMES:
        raise InvalidInputError(f"choose from {', '.join(CLASS_SCHEMES)}", option="--classes")
    if not 0 <= config.noise_rate <= 1:
        raise InvalidInputError(
            f"{config.noise_rate} is not between 0 and 1", option="--noise-rate"
        )
    if config.width < 16 or config.height < 16 or config.resolution <= 0:
        raise InvalidInputError(
            "the scene needs at least 16×16 pixels of positive size", option="--size"
        )
    if config.seed < 0:
        raise InvalidInputError(f"{config.seed} is negative; use 0 or more", option="--seed")
    check_kinds(config.kinds, config.classes)
    try:
        crs = CRS.from_user_input(config.crs)
    except CRSError as exc:
        raise InvalidInputError(f"{config.crs!r} is not a CRS: {exc}", option="--crs") from exc
    if not crs.is_projected:
        raise InvalidInputError(
            f"{config.crs} is not projected; pick one in metres, e.g. a UTM zone (EPSG:32632)",
            option="--crs",
        )
    return crs


def changes_frame(changes: list[Change], grid: Grid, truth: np.ndarray, crs) -> gpd.GeoDataFrame:
    """The per-object truth of the noise.

    Columns: ``object_id``, ``kind``, ``class_before``, ``class_after``, ``dx``,
    ``dy``, ``distance``, ``amplitude``, ``wavelength`` (NaN where they do not
    apply), ``changed_pixels`` (pixels of the noise truth that this change
    accounts for) and the changed area as geometry (the symmetric difference of
    before and after; the whole object for missing, spurious and flipped ones).
    """
    import geopandas as gpd

    columns = ("dx", "dy", "distance", "amplitude", "wavelength")
    rows = [
        {
            "object_id": c.object_id,
            "kind": c.kind,
            "class_before": c.class_before,
            "class_after": c.class_after,
            **{name: float(c.params.get(name, np.nan)) for name in columns},
            "changed_pixels": _changed_pixels(c, grid, truth),
        }
        for c in changes
    ]
    frame = gpd.GeoDataFrame(
        rows,
        geometry=[_changed_area(c) for c in changes],
        crs=crs,
        columns=["object_id", "kind", "class_before", "class_after", *columns, "changed_pixels"],
    )
    return frame


def _changed_area(change: Change):
    before, after = change.before, change.after
    if before is None or after is None or change.kind == "flip":
        return before if after is None else after
    return before.symmetric_difference(after)


def _changed_pixels(change: Change, grid: Grid, truth: np.ndarray) -> int:
    """Truth pixels where this object alone, rasterized before and after, differs."""
    from rasterio.features import rasterize
    from rasterio.transform import from_origin

    shapes = [g for g in (change.before, change.after) if g is not None and not g.is_empty]
    if not shapes:
        return 0
    xmin, ymin, xmax, ymax = np.array([g.bounds for g in shapes]).T
    res = grid.resolution
    col0 = max(int(np.floor((xmin.min() - grid.origin_x) / res)), 0)
    col1 = min(int(np.ceil((xmax.max() - grid.origin_x) / res)), grid.width)
    row0 = max(int(np.floor((grid.origin_y - ymax.max()) / res)), 0)
    row1 = min(int(np.ceil((grid.origin_y - ymin.min()) / res)), grid.height)
    if col0 >= col1 or row0 >= row1:
        return 0
    transform = from_origin(grid.origin_x + col0 * res, grid.origin_y - row0 * res, res, res)
    shape = (row1 - row0, col1 - col0)

    def burn(geometry, value: int) -> np.ndarray:
        if geometry is None or geometry.is_empty or value == 0:
            return np.zeros(shape, np.uint8)
        return rasterize([(geometry, value)], out_shape=shape, transform=transform, dtype="uint8")

    differs = burn(change.before, change.class_before) != burn(change.after, change.class_after)
    return int((differs & (truth[row0:row1, col0:col1] > 0)).sum())


def synth_command(
    config: SynthConfig, output: str, creation_options: dict[str, str] | None = None
) -> str:
    """The ``geonoise synth`` command line that regenerates ``config`` into ``output``."""
    args = [
        "geonoise",
        "synth",
        "-o",
        output,
        "--size",
        str(config.width),
        str(config.height),
        "--resolution",
        repr(config.resolution),
        "--origin",
        repr(config.origin[0]),
        repr(config.origin[1]),
        "--crs",
        config.crs,
        "--classes",
        config.classes,
        "--style",
        config.style,
        "--noise-rate",
        repr(config.noise_rate),
        "--noise-kinds",
        ",".join(config.kinds),
        "--seed",
        str(config.seed),
    ]
    for key, value in (creation_options or {}).items():
        args += ["--co", f"{key}={value}"]
    return shlex.join(args)


def config_dict(config: SynthConfig) -> dict[str, Any]:
    """``config`` as JSON-ready values, with the noise kinds in effect."""
    values = asdict(config)
    values["origin"] = list(config.origin)
    values["noise_kinds"] = list(config.kinds)
    return values
