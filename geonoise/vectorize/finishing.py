"""Finishing regions: those below ``--min-area`` dropped, simplified, their areas measured in m².

A region is final once nothing can join it any more: at once for a region
that touches no block edge (the process that scanned its block finishes it),
after the merge across seams for the others. The rules are made once from
the raster (:class:`Finishing`) and sent as plain values to the processes that
scan blocks, so that a region is finished alike wherever it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from geonoise.vectorize.geometry import simplify
from geonoise.vectorize.options import VectorizeOptions
from geonoise.vectorize.regions import Regions

if TYPE_CHECKING:
    from affine import Affine
    from rasterio.crs import CRS


@dataclass(frozen=True)
class AreaRule:
    """How polygon areas become m² in a CRS: planar areas times ``factor²``, or geodesic.

    Made once from the raster's CRS and sent to the worker processes as plain values
    (a geographic CRS as WKT, which they parse with pyproj for its ellipsoid).
    """

    factor: float = 1.0
    geodesic_crs: str | None = None  # WKT of a geographic CRS

    @classmethod
    def of(cls, crs: CRS | str) -> AreaRule:
        """The rule for a rasterio CRS (or anything rasterio's ``CRS.from_user_input`` takes)."""
        from rasterio.crs import CRS

        crs = CRS.from_user_input(crs)
        if crs.is_geographic:
            return cls(geodesic_crs=crs.to_wkt())
        if crs.is_projected:
            return cls(factor=float(crs.linear_units_factor[1]))
        # Engineering (local) CRSs, e.g. a drone survey's: the unit of the first axis.
        from pyproj import CRS as ProjCRS

        axes = ProjCRS.from_wkt(crs.to_wkt()).axis_info
        return cls(factor=float(axes[0].unit_conversion_factor) if axes else 1.0)

    def areas(self, geoms: np.ndarray) -> np.ndarray:
        """Areas in m² of polygons in map coordinates."""
        import shapely

        if self.geodesic_crs is None:
            return shapely.area(geoms) * self.factor**2
        from pyproj import CRS

        geod = CRS.from_wkt(self.geodesic_crs).get_geod()
        return np.array([abs(geod.geometry_area_perimeter(g)[0]) for g in geoms], dtype=float)


@dataclass(frozen=True)
class Finishing:
    """What turning pixel polygons into output polygons needs (sent to the workers).

    Attributes:
        transform: The raster's affine transform (pixel to map coordinates).
        rule: How areas become m² in the raster's CRS.
        options: ``min_area``, ``min_score`` and ``simplify`` (and the rest, for the scan).
    """

    transform: Affine
    rule: AreaRule
    options: VectorizeOptions


def finish(regions: Regions, finishing: Finishing) -> Regions:
    """Regions in map coordinates made final: small or weak ones dropped, simplified, measured.

    ``--min-area`` compares the area of the exact pixel outline (map units²),
    so that whether a region is kept does not depend on ``--simplify``; the
    ``area`` attribute is that of the polygon as written, after simplification.
    ``--min-score`` compares the mean noise score of the region's pixels.
    """
    import shapely

    if not len(regions):
        return regions
    regions.planar_area = shapely.area(regions.geoms)
    options = finishing.options
    if options.min_area > 0 or options.min_score > 0:
        keep = regions.planar_area >= options.min_area
        keep &= regions.score_sum >= options.min_score * regions.pixels
        regions = regions.take(np.flatnonzero(keep))
    regions.geoms = simplify(regions.geoms, options.simplify)
    regions.area = finishing.rule.areas(regions.geoms)
    return regions
