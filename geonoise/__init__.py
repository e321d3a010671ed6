"""geonoise: find label noise in remote-sensing segmentation data.

The package is the library; the click commands live in :mod:`geonoise.cli`.
Importing it must stay cheap (no torch, rasterio or geopandas here) so that
``geonoise --help`` is instant.
"""

__version__ = "0.1.0"
