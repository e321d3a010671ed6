"""Label objects of a synthetic scene and their rasterization.

Two class schemes: ``buildings`` (0 background, 1 building) and ``landcover``
(0 bare, 1 building, 2 road, 3 tree, 4 water, 5 grass). Label rasters are
uint8 with 255 as ignore/nodata. Objects burn in a fixed order (grass, water,
road, tree, building: later ones win where they overlap), the same order for
clean and noisy labels, so raster and vector labels always agree.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import shapely

from geonoise.synth.layout import Grid, Layout
from geonoise.synth.texture import noise_field

if TYPE_CHECKING:
    import geopandas as gpd

#: Class names of each scheme; the index is the class id.
CLASS_SCHEMES: dict[str, tuple[str, ...]] = {
    "buildings": ("background", "building"),
    "landcover": ("bare", "building", "road", "tree", "water", "grass"),
}
BUILDING, ROAD, TREE, WATER, GRASS = 1, 2, 3, 4, 5
#: Burn order of the landcover classes: later classes win where objects overlap.
BURN_ORDER = (GRASS, WATER, ROAD, TREE, BUILDING)
#: Grass patches smaller than this (m²) stay bare ground.
MIN_GRASS_AREA = 10.0


def landcover_objects(layout: Layout, grass_share: float, crs, rng: np.random.Generator):
    """All landcover objects of ``layout`` as a GeoDataFrame in burn order.

    Grass covers about ``grass_share`` of the ground that no other object takes;
    its patches come from a smooth random field, vectorized on the pixel grid.

    Returns:
        A GeoDataFrame with ``object_id`` (1…n), ``class``, ``class_name``, geometry.
    """
    other = [
        *((g, WATER) for g in layout.water),
        *((r.polygon, ROAD) for r in layout.roads),
        *((t.polygon, TREE) for t in layout.trees),
        *((b.footprint, BUILDING) for b in layout.buildings),
    ]
    taken = rasterize_objects([g for g, _ in other], [1] * len(other), layout.grid) > 0
    grass = [(g, GRASS) for g in grass_patches(layout.grid, taken, grass_share, rng)]
    scene = shapely.box(*layout.grid.bounds)
    clipped = [(g.intersection(scene), c) for g, c in other]
    items = [(g, c) for g, c in grass + clipped if g.area > 0]
    items.sort(key=lambda item: BURN_ORDER.index(item[1]))
    return object_frame([g for g, _ in items], [c for _, c in items], "landcover", crs)


def grass_patches(grid: Grid, taken: np.ndarray, share: float, rng: np.random.Generator):
    """Polygons of vegetated open ground (pixel-exact, so they rasterize back unchanged)."""
    from rasterio.features import shapes

    field = noise_field((grid.height, grid.width), rng, beta=3.0, scale=8)
    free = ~taken
    if not free.any() or share <= 0:
        return []
    threshold = np.quantile(field[free], 1 - min(share, 1.0))
    mask = free & (field >= threshold)
    polygons = [
        shapely.geometry.shape(geom)
        for geom, value in shapes(mask.astype(np.uint8), mask=mask, transform=grid.transform)
        if value == 1
    ]
    return [p for p in polygons if p.area >= MIN_GRASS_AREA]


def object_frame(geometries, classes, scheme: str, crs, ids=None) -> gpd.GeoDataFrame:
    """A label GeoDataFrame: ``object_id``, ``class``, ``class_name`` and geometry."""
    import geopandas as gpd

    names = CLASS_SCHEMES[scheme]
    classes = [int(c) for c in classes]
    return gpd.GeoDataFrame(
        {
            "object_id": list(ids) if ids is not None else list(range(1, len(classes) + 1)),
            "class": classes,
            "class_name": [names[c] for c in classes],
        },
        geometry=list(geometries),
        crs=crs,
    )


def building_objects(landcover: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The building objects of a landcover frame, renumbered, in the buildings scheme."""
    buildings = landcover[landcover["class"] == BUILDING]
    return object_frame(buildings.geometry, [1] * len(buildings), "buildings", landcover.crs)


def rasterize_objects(geometries, values, grid: Grid, fill: int = 0) -> np.ndarray:
    """Burn ``values`` into a uint8 raster of ``grid``; later geometries win."""
    from rasterio.features import rasterize

    shapes = [(g, int(v)) for g, v in zip(geometries, values, strict=True) if not g.is_empty]
    if not shapes:
        return np.full((grid.height, grid.width), fill, dtype=np.uint8)
    return rasterize(
        shapes,
        out_shape=(grid.height, grid.width),
        transform=grid.transform,
        fill=fill,
        dtype="uint8",
    )


def rasterize_labels(labels: gpd.GeoDataFrame, grid: Grid) -> np.ndarray:
    """The label raster of a label frame, burnt class by class in :data:`BURN_ORDER`."""
    ordered = in_burn_order(labels)
    return rasterize_objects(ordered.geometry, ordered["class"], grid)


def in_burn_order(labels: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """``labels`` sorted (stably) by the burn order of their classes."""
    rank = labels["class"].map({c: i for i, c in enumerate(BURN_ORDER)}).fillna(-1)
    return labels.iloc[np.argsort(rank.to_numpy(), kind="stable")]
