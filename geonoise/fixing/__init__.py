"""Corrected labels from a noise map: confident changes proposed, then reviewed in QGIS.

``geonoise fix`` turns suspects into corrections. A *change* is one connected
region of pixels (4-connected, as :mod:`geonoise.vectorize` makes them) whose
label the model disagrees with, all towards one class (``to_class``), with a
noise score of at least the pixel threshold; it has the kind vectorize gives
it (missing, spurious, boundary, class_change), its mean and maximum score and
its area. A change is proposed only where its mean score reaches the threshold
of its kind (``--min-score-*``) and its area ``--min-area``: nothing changes
where the model is unsure.

Proposing writes the labels with every proposed change applied (the
non-interactive path) and a review layer (GeoPackage, styled by kind and
status) with one feature per change and ``status = proposed``. A user sets
``status`` to ``accepted`` or ``rejected`` in QGIS (and may reshape the
polygons); applying the review layer to the same labels applies only the
accepted changes. Labels are never modified in place.

* raster labels: the pixels of a change's polygon (pixel centres inside it)
  take its ``to_class``; ignore pixels (nodata) stay as they are;
* vector labels: a change towards the background is cut out of the features it
  overlaps, a change towards a class is joined to the feature it belongs to
  (``label_feature``) or added as a new feature; a feature that loses more
  than half its area to changes is removed whole.

The package, in the order of a run (import from the modules):

* :mod:`~geonoise.fixing.options`: :class:`FixOptions`, checked once.
* :mod:`~geonoise.fixing.changes`: changes found on the noise map's grid (through vectorize).
* :mod:`~geonoise.fixing.review`: the review layer: columns, writing, reading and checks.
* :mod:`~geonoise.fixing.rasters`: changes applied to raster labels.
* :mod:`~geonoise.fixing.vectors`: changes applied to vector labels.
* :mod:`~geonoise.fixing.files`: :func:`propose_file` and :func:`apply_file`, paths in,
  a summary out.
"""

from __future__ import annotations
