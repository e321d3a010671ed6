"""Scoring a noise map against the truth of the noise, at three levels.

* **Pixels** (:mod:`geonoise.evaluation.pixels`): average precision (AP), area
  under the ROC curve (AUROC) and the best F1 with its threshold, of the noise
  score against the truth mask (nonzero = noisy; 255, the truth's nodata and the
  noise map's nodata are ignored), plus precision, recall, F1 and IoU at one
  operating threshold. The rasters are read in blocks and the scores tallied per
  class into a histogram of ``bins`` equal bins on [0, 1], so memory does not
  grow with the scene. The metrics follow scikit-learn's conventions for ties:
  AP = Σₙ (Rₙ − Rₙ₋₁)·Pₙ over the distinct thresholds from high to low, AUROC by
  the trapezoidal rule (a constant map scores AP = the base rate and AUROC =
  0.5). They are exact when no bin holds two distinct scores (always for maps
  with few distinct values; with 65,536 bins, scores more than 1/65,536 apart
  never share one); scores sharing a bin count as tied. The best-F1 threshold is
  the smallest score in its bin, so "noisy where score ≥ threshold" reproduces
  the reported F1 exactly.
* **Objects** (:mod:`geonoise.evaluation.objects`): polygons (e.g. from
  ``geonoise vectorize``) against the truth objects (``noise_objects.gpkg`` of
  ``geonoise synth``). A truth object is *found* when the union of the polygons
  covers at least ``min_cover`` of its area (recall = found / truth objects); a
  polygon is *correct* when at least ``min_cover`` of its area lies inside the
  union of the truth objects (precision = correct / polygons). Areas are taken
  in the truth objects' CRS.
* **Tiles** (:mod:`geonoise.evaluation.tiles`): for the tiles of a ``geonoise
  tile`` directory that lie on the noise map's grid, the tile score (by default
  ``1 −`` the softmin of the label quality of the tile's evaluated pixels; or
  their mean, or the share at or above the threshold; or the score of a
  ``detect --tiles`` ranking) against the true noise fraction of the same
  pixels: Kendall's τ-b and Spearman's ρ.

:mod:`geonoise.evaluation.run` runs the three on files (its ``evaluate_files``
is what ``geonoise evaluate`` calls); :mod:`geonoise.evaluation.options` holds
the options they share. Import from the submodules: this package imports nothing.
"""
