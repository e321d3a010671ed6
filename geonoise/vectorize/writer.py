"""The noise layer on disk: output checks, then the layer and its QGIS style moved into place.

The checks run before any work, so that a run that cannot write its outputs
fails at once. The layer's format follows the output's suffix
(:data:`geonoise.io.VECTOR_DRIVERS`); the layer, its side files and its style
are written whole into a scratch directory and then moved onto their names,
so a failed run leaves nothing half-written. ``vectorize`` on files writes
its rows in batches as regions are finished (:class:`StagedLayer`), so its
memory does not grow with the number of polygons.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import tempfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from geonoise import io
from geonoise.errors import InvalidInputError
from geonoise.io import styles as qgis
from geonoise.io.vectors import write_options
from geonoise.vectorize.attributes import COLUMNS, KIND_COLUMNS, NORTH, WEST

if TYPE_CHECKING:
    import geopandas as gpd
    import pyarrow as pa

logger = logging.getLogger(__name__)

#: Layer name in GeoPackages.
LAYER = "noise"
#: Shapefile fields hold 10 characters: these columns get short names there.
SHAPEFILE_NAMES = {"label_class": "label_cls", "predicted_class": "pred_cls"}


def check_vector_output(path: str | os.PathLike) -> None:
    """Refuse an output whose suffix names no vector format geonoise writes."""
    suffix = Path(path).suffix.lower()
    if suffix not in io.VECTOR_DRIVERS:
        formats = ", ".join(sorted(io.VECTOR_DRIVERS))
        raise InvalidInputError(f"{path}: unknown vector suffix; use one of {formats}", "--output")
    if io.VECTOR_DRIVERS[suffix] == "Parquet" and importlib.util.find_spec("pyarrow") is None:
        raise InvalidInputError(
            f"{path}: writing GeoParquet needs pyarrow (pip install pyarrow); "
            "or write .gpkg, .fgb, .geojson or .shp",
            "--output",
        )


def check_outputs(
    output: Path, noise_path: str | os.PathLike, overwrite: bool
) -> tuple[Path, bool]:
    """Refuse outputs that cannot be written, and say where the style goes and whether
    it is written.

    A GeoPackage holds its style inside (:func:`geonoise.io.styles.embed_style`).
    Other formats get ``OUTPUT.qml`` beside them: an existing one that holds the
    same style (that of ``a.fgb`` beside ``a.geojson``) is no conflict; it is
    left out (with a warning) where that name is the noise map's own style,
    which must not be replaced.

    Returns:
        Where the style is (the GeoPackage itself, or the ``.qml``), and whether
        it is written.

    Raises:
        InvalidInputError: The suffix names no vector format (or needs pyarrow).
        OutputExistsError: The layer or another style exists and ``overwrite`` is False.
    """
    check_vector_output(output)
    io.check_output(output, overwrite)
    if qgis.embeds_style(output):
        return output, True
    style = qgis.style_path(output)
    if style.resolve() == qgis.style_path(noise_path).resolve():
        logger.warning(
            "%s is the style of %s; it is kept and no style is written", style, noise_path
        )
        return style, False
    if not qgis.holds_style(style, qgis.kinds_qml()):
        io.check_output(style, overwrite)
    return style, True


class StagedLayer:
    """The noise layer written in batches of rows, as the block pass finishes regions.

    Batches (:func:`geonoise.vectorize.attributes.batch_frame`) are appended to a
    scratch GeoPackage, so memory does not grow with the number of polygons.
    :meth:`write` then writes the layer in the output's format from it, rows in
    :func:`~geonoise.vectorize.attributes.row_order` (SQLite sorts on disk) and
    numbered from 1, streamed batch by batch (GeoParquet excepted: geopandas
    writes it whole). Rows are thus the same, in the same order, as
    :func:`~geonoise.vectorize.attributes.frame` gives for all regions at once.

    Attributes:
        count: Rows appended.
        area: Their total area (m²).
        kinds: Per kind column, rows per kind.
    """

    def __init__(self, scratch: Path) -> None:
        self._rows = scratch / "rows.gpkg"
        self.count = 0
        self.area = 0.0
        self.kinds: dict[str, Counter[str]] = {column: Counter() for column in KIND_COLUMNS}
        self._types: set[str] = set()

    def append(self, batch: gpd.GeoDataFrame) -> None:
        """Append a batch of rows (written to disk at once)."""
        import pyogrio

        pyogrio.write_dataframe(
            batch, self._rows, layer="rows", driver="GPKG", append=self.count > 0,
            geometry_type="Unknown", promote_to_multi=False, layer_options={"SPATIAL_INDEX": "NO"},
        )  # fmt: skip
        self.count += len(batch)
        self.area += float(np.nansum(batch["area"]))
        for column, counts in self.kinds.items():
            counts.update(batch[column])
        self._types.update(batch.geom_type.unique())

    def write(self, path: Path, kind_column: str) -> None:
        """Write the layer at ``path`` (format by suffix), kinds from ``kind_column``."""
        import pyogrio

        driver = io.VECTOR_DRIVERS[path.suffix.lower()]
        names = SHAPEFILE_NAMES if driver == "ESRI Shapefile" else {}
        sql = self._ordered_sql(kind_column, names)
        if driver == "Parquet":
            gdf = pyogrio.read_dataframe(self._rows, sql=sql)
            gdf.insert(0, "id", np.arange(1, len(gdf) + 1, dtype=np.int64))
            for column in ("label_class", "predicted_class"):  # nullable, as frame() has them
                gdf[column] = gdf[column].astype("Int64")
            io.write_vector(gdf, path)
            return
        multi = "MultiPolygon" in self._types
        promote = multi and "Polygon" in self._types
        with pyogrio.open_arrow(self._rows, sql=sql, use_pyarrow=True) as (meta, reader):
            options = write_options(driver, path, meta["crs"], LAYER)
            geometry = meta["geometry_name"] or "geom"
            pyogrio.write_arrow(
                _numbered(reader, geometry, promote), path, driver=driver, crs=meta["crs"],
                geometry_name=geometry, geometry_type="MultiPolygon" if multi else "Polygon",
                **options,
            )  # fmt: skip

    @staticmethod
    def _ordered_sql(kind_column: str, names: dict[str, str]) -> str:
        """The rows in layer order (ids aside), with the kinds of ``kind_column``."""
        sources = {"kind": kind_column}
        fields = ", ".join(
            f"{sources.get(column, column)} AS {names.get(column, column)}"
            for column in COLUMNS[1:]
        )
        return f"SELECT {fields}, geom FROM rows ORDER BY {NORTH} DESC, {WEST}, area DESC, fid"


def _numbered(reader: pa.RecordBatchReader, geometry: str, promote: bool) -> pa.RecordBatchReader:
    """The batches with ids (int64, from 1) first and, with ``promote``, every polygon made a
    multi-polygon (as geopandas writes a layer that mixes both)."""
    import pyarrow as pa
    import shapely

    first = 1

    def number(batch: pa.RecordBatch) -> pa.RecordBatch:
        nonlocal first
        if promote:
            index = batch.schema.get_field_index(geometry)
            geoms = shapely.from_wkb(batch.column(index).to_numpy(zero_copy_only=False))
            single = shapely.get_type_id(geoms) == shapely.GeometryType.POLYGON
            geoms[single] = shapely.multipolygons(geoms[single][:, None])
            column = pa.array(shapely.to_wkb(geoms), type=batch.schema.field(index).type)
            batch = batch.set_column(index, batch.schema.field(index), column)
        ids = pa.array(np.arange(first, first + batch.num_rows, dtype=np.int64))
        first += batch.num_rows
        return batch.add_column(0, "id", ids)

    schema = reader.schema.insert(0, pa.field("id", pa.int64()))
    return pa.RecordBatchReader.from_batches(schema, map(number, reader))


@contextlib.contextmanager
def staged_layer(
    output: str | os.PathLike, *, overwrite: bool, with_style: bool
) -> Iterator[tuple[StagedLayer, Path]]:
    """A :class:`StagedLayer` in a scratch directory beside ``output``, and the path to
    :meth:`~StagedLayer.write` it to; on leaving without error the layer, its side files
    and its style are moved into place (:func:`move_into_place`). On an error nothing is."""
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=output.parent, prefix=f".{output.name}.") as scratch:
        layer = StagedLayer(Path(scratch))
        staged = Path(scratch) / "layer" / output.name
        staged.parent.mkdir()
        yield layer, staged
        move_into_place(staged, output, overwrite=overwrite, with_style=with_style)


def write_layer(
    gdf: gpd.GeoDataFrame, output: str | os.PathLike, *, overwrite: bool, with_style: bool
) -> None:
    """Write a whole layer, its side files (Shapefile) and its style, each moved into place.

    Shapefiles get :data:`SHAPEFILE_NAMES` for the columns with long names.
    """
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=output.parent, prefix=f".{output.name}.") as scratch:
        staged = Path(scratch) / output.name
        if io.VECTOR_DRIVERS[output.suffix.lower()] == "ESRI Shapefile":
            gdf = gdf.rename(columns=SHAPEFILE_NAMES)
        io.write_vector(gdf, staged, layer=LAYER)
        move_into_place(staged, output, overwrite=overwrite, with_style=with_style)


def move_into_place(staged: Path, output: Path, *, overwrite: bool, with_style: bool) -> None:
    """Move a layer written at ``staged`` (alone in its directory), its side files and its
    style (written here: inside a GeoPackage, else a ``.qml``) onto ``output``'s names with
    :func:`geonoise.io.atomic_output`, the main file last. A ``.qml`` already there with
    the same style is kept."""
    if with_style:
        _stage_style(staged, output)
    files = sorted(staged.parent.iterdir(), key=lambda p: p != staged)
    with contextlib.ExitStack() as stack:
        for file in files:  # entered main first, so it is moved into place last
            target = stack.enter_context(io.atomic_output(output.with_name(file.name), overwrite))
            os.replace(file, target)


def _stage_style(staged: Path, output: Path) -> None:
    """Store the by-kind style with the staged layer: inside a GeoPackage, else as a
    ``.qml`` beside it unless ``output``'s ``.qml`` already holds that style."""
    qml = qgis.kinds_qml()
    if qgis.embeds_style(staged) or not qgis.holds_style(qgis.style_path(output), qml):
        qgis.vector_style(staged, qml, LAYER)
