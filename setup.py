"""geonoise: find label noise in remote-sensing segmentation data."""

import re
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent
VERSION = re.search(
    r'^__version__ = "([^"]+)"', (HERE / "geonoise" / "__init__.py").read_text(), re.M
).group(1)

setup(
    name="geonoise",
    version=VERSION,
    description="Find label noise in remote-sensing segmentation data, as GIS layers.",
    long_description=(HERE / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="MIT",
    python_requires=">=3.10",
    # The CLI lives in the top-level cli/ folder but installs as geonoise.cli, so no
    # top-level `cli` package lands in site-packages.
    packages=[*find_packages(include=["geonoise", "geonoise.*"]), "geonoise.cli"],
    package_dir={"geonoise": "geonoise", "geonoise.cli": "cli"},
    # The reference training config, printed by `geonoise train-teacher --print-config`.
    package_data={"geonoise.training": ["config.yaml"]},
    install_requires=[
        # Ranges that torch 2.13.0 (the CPU build installed first) satisfies.
        "torch>=2.2,<3",
        "kornia>=0.7,<1",
        "lightning>=2.2,<3",
        "torchmetrics>=1.3,<2",
        "onnx>=1.15,<2",
        "onnxruntime>=1.17,<2",
        "numpy>=1.24,<3",
        "scipy>=1.10,<2",
        "rasterio>=1.3.9,<2",
        "geopandas>=0.14,<2",
        "pyogrio>=0.7,<1",
        "shapely>=2.0,<3",
        "pyproj>=3.6,<4",
        "click>=8.1,<9",
        "tqdm>=4.66,<5",
        "pyyaml>=6,<7",
        "matplotlib>=3.7,<4",
        "pyarrow>=14",  # GeoParquet output of vectorize
    ],
    extras_require={
        "dev": ["pytest>=7.4", "hypothesis>=6.90", "ruff>=0.4", "psutil>=5.9"],
        "loggers": ["tensorboard>=2.14", "wandb>=0.16"],
        # Benchmarks only: the confident-learning baseline of bench_quality.py.
        "bench": ["cleanlab>=2.6,<3"],
    },
    entry_points={"console_scripts": ["geonoise=geonoise.cli.main:cli"]},
    classifiers=[
        "Environment :: Console",
        "Intended Audience :: Science/Research",
        "Programming Language :: Python :: 3",
        "Topic :: Scientific/Engineering :: GIS",
    ],
)
