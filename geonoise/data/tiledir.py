"""The tile directory: what ``geonoise tile`` writes and training, detection and evaluation read.

Layout (DESIGN.md): ``images/`` and ``labels/`` (GeoTIFFs on their scene's grid)
and ``tiles.gpkg``, layer ``tiles``, the index of tile footprints with tile id,
scene, image and label paths (relative to the directory), window, valid and
class fractions (its QGIS style lies in the GeoPackage's ``layer_styles``
table). Every step names and checks the index through this module, so a
missing index gets one message wherever it is noticed.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from geonoise import io
from geonoise.errors import InvalidInputError

if TYPE_CHECKING:
    import geopandas as gpd

#: Name of the index file, and of its layer, in a tile directory.
INDEX_NAME = "tiles.gpkg"
INDEX_LAYER = "tiles"


def index_path(root: str | os.PathLike) -> Path:
    """Where the index of the tile directory ``root`` lies."""
    return Path(root) / INDEX_NAME


def is_tile_dir(root: str | os.PathLike) -> bool:
    """Whether ``root`` holds a tile index."""
    return index_path(root).is_file()


def require_tile_dir(root: str | os.PathLike, option: str, instead: str = "") -> Path:
    """The index path of ``root``; :class:`InvalidInputError` (for ``option``) if it has none.

    Args:
        instead: What the user may pass instead, appended to the message
            (e.g. ``", or pass a folder of images with --labels-dir"``).
    """
    path = index_path(root)
    if not path.is_file():
        raise InvalidInputError(
            f"{root} has no {INDEX_NAME}; make a tile directory with `geonoise tile`{instead}",
            option,
        )
    return path


def read_tile_index(root: str | os.PathLike, option: str = "TILES") -> gpd.GeoDataFrame:
    """The ``tiles`` layer of the tile directory ``root``."""
    return io.read_vector(require_tile_dir(root, option), layer=INDEX_LAYER)
