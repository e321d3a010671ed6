"""Noise polygons: a noise-score raster turned into one polygon per suspect region.

A region is a 4-connected group of pixels whose noise score is at least the
threshold (GDAL's polygonize connectivity). The raster is read in disjoint
blocks cut from the shared window grid (:func:`geonoise.windows.block_grid`),
so memory stays flat in raster size. Each block's regions are labelled,
polygonized with :func:`rasterio.features.shapes` in pixel coordinates and
summarised (pixel count, score sum and maximum, class counts); regions that
touch across a block edge are joined by connectivity and their polygons
unioned, which gives exactly the polygons of a whole-raster polygonization.
Pixel coordinates are integers, so the union is exact; one affine transform
then puts every polygon on the map. A region that touches no block edge is
final as soon as its block is scanned, so the process that scanned the block
also drops it if its pixel outline is below ``--min-area``, simplifies it and
measures the area of what is written; regions that touch a block edge (the
raster's border included) are finished at the end, after the merge, and so is
every region when holes are to be filled (a filled hole joins the regions
inside it to its owner).

With the class companion (``NOISE.classes.tif``: band 1 the given label, band 2
the predicted class, 255 = none) each region gets the majority label and
predicted class and a kind from the pixels where label and model disagree:
``missing`` or ``spurious`` (a two-class building map, whichever way most of
them disagree), ``boundary`` (as many each way, or a sliver along an outline
both agree on), ``class_change`` (a map with more classes), ``uncertain``
(label and model agree on every pixel) or ``unknown`` (no classes);
:mod:`geonoise.vectorize.attributes` has the rules.

The package, in the order of the pass (import from the modules; importing
the package itself loads nothing):

* :mod:`~geonoise.vectorize.options`: :class:`VectorizeOptions`, checked once.
* :mod:`~geonoise.vectorize.blocks`: a block read with a halo of context.
* :mod:`~geonoise.vectorize.labelling`: a block labelled into regions.
* :mod:`~geonoise.vectorize.regions`: :class:`Regions`, the per-region arrays.
* :mod:`~geonoise.vectorize.merge`: seams between blocks, connected groups, merge.
* :mod:`~geonoise.vectorize.geometry`: map coordinates, hole filling, simplification.
* :mod:`~geonoise.vectorize.finishing`: ``--min-area``, simplification, areas in m².
* :mod:`~geonoise.vectorize.scan`: the block pass, in worker processes with ``--jobs``.
* :mod:`~geonoise.vectorize.attributes`: majority classes, kinds, the attribute table.
* :mod:`~geonoise.vectorize.polygonize`: :func:`vectorize` on open datasets.
* :mod:`~geonoise.vectorize.writer`: output checks, the layer and its QGIS style.
* :mod:`~geonoise.vectorize.files`: :func:`vectorize_file`, paths in, a summary out.
"""

from __future__ import annotations
