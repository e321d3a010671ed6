"""Data: label sources, tiling, the tile directory, datasets, splits and band statistics."""
