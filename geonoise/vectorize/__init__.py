"""Noise polygons: a noise-score raster turned into one polygon per suspect region.

A region is a 4-connected group of pixels whose noise score is at least the
threshold (GDAL's polygonize connectivity). The raster is read in disjoint
blocks cut from the shared window grid (:func:`geonoise.windows.axis_offsets`),
so memory stays flat in raster size. Each block's regions are labelled,
polygonized with :func:`rasterio.features.shapes` in pixel coordinates and
summarised (pixel count, score sum and maximum, class counts); regions that
touch across a block edge are joined by connectivity and their polygons
unioned, which gives exactly the polygons of a whole-raster polygonization.
Pixel coordinates are integers, so the union is exact; one affine transform
then puts every polygon on the map. A region that touches no block edge is
final as soon as its block is scanned, so the process that scanned the block
also measures it, drops it if it is below ``--min-area`` and simplifies it
(:func:`finish`); regions that touch a block edge (the raster's border included)
are finished at the end, after the merge, and so is every region when holes are
to be filled (a filled hole joins the regions inside it to its owner).

With the class companion (``NOISE.classes.tif``: band 1 the given label, band 2
the predicted class, 255 = none) each region gets the majority label and
predicted class and a kind:

* ``class_change``: a map with more than two classes, label ≠ prediction;
* for a two-class map (0 = background, 1 = building):
  ``missing`` (label 0, model 1), ``spurious`` (label 1, model 0), or
  ``boundary`` when the region is a sliver along an outline both agree on:
  at least :data:`BOUNDARY_NEAR_SHARE` of its pixels lie within
  ``boundary_width`` pixels (a square neighbourhood) of a pixel that label and
  model both call building, and at most :data:`BOUNDARY_DEEP_SHARE` of its
  pixels are farther than ``boundary_width`` pixels from the region's outline
  (the region is at most about ``2 × boundary_width`` pixels thick);
* ``unknown``: no class companion, no labelled or predicted pixel in the
  region, or majority label = majority prediction.
"""

from __future__ import annotations

# Imported back until the tests and the CLI import from the modules.
from geonoise.vectorize.attributes import KINDS  # noqa: F401
from geonoise.vectorize.files import Summary, classes_path_for, vectorize_file  # noqa: F401
from geonoise.vectorize.geometry import simplify  # noqa: F401
from geonoise.vectorize.labelling import square_reduce  # noqa: F401
from geonoise.vectorize.merge import connected_groups  # noqa: F401
from geonoise.vectorize.options import VectorizeOptions  # noqa: F401
from geonoise.vectorize.polygonize import EmptyResultError, vectorize  # noqa: F401
