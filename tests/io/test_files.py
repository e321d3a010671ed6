"""Outputs that cannot be written, and ``@list`` files, fail with one clear error."""

from __future__ import annotations

import errno
import os

import pytest

from geonoise import io
from geonoise.errors import GeonoiseError, InvalidInputError


def test_an_output_under_a_regular_file_is_a_usage_error(tmp_path):
    (tmp_path / "somefile.txt").write_text("x")
    target = tmp_path / "somefile.txt" / "out" / "noise.tif"
    with pytest.raises(InvalidInputError, match=r"somefile\.txt is a file, not a folder") as bad:
        io.check_output(target, overwrite=False)
    assert bad.value.exit_code == 2 and str(target) in str(bad.value)
    with (
        pytest.raises(InvalidInputError, match="is a file, not a folder"),
        io.atomic_output(target),
    ):
        pass


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_folder_is_refused_before_any_work(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        with pytest.raises(GeonoiseError, match=r"cannot write .*permission denied"):
            io.check_output(folder / "out.tif", overwrite=False)
    finally:
        folder.chmod(0o755)


def test_a_full_disk_names_the_output_and_leaves_nothing(tmp_path, monkeypatch):
    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    target = tmp_path / "out.json"
    with pytest.raises(GeonoiseError) as failed, io.atomic_output(target) as tmp:
        monkeypatch.setattr("pathlib.Path.write_text", full)
        io.write_json(tmp, {"a": 1})
    assert str(failed.value) == f"cannot write {target}: no space left on device"
    assert list(tmp_path.iterdir()) == []


def test_a_failed_rename_into_place_names_the_output(tmp_path, monkeypatch):
    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    target = tmp_path / "out.json"
    refused = pytest.raises(GeonoiseError, match=r"cannot write .*out\.json: read-only file system")
    with refused, io.atomic_output(target) as tmp:
        io.write_json(tmp, {})
        monkeypatch.setattr(os, "replace", read_only)
    monkeypatch.undo()
    assert list(tmp_path.iterdir()) == []


def test_writing_turns_gis_library_errors_into_one_line(tmp_path):
    import geopandas as gpd
    from shapely import box

    layer = gpd.GeoDataFrame({"a": [1]}, geometry=[box(0, 0, 1, 1)], crs="EPSG:32633")
    (tmp_path / "f").write_text("")
    with pytest.raises(InvalidInputError, match="is a file, not a folder"):
        io.write_vector(layer, tmp_path / "f" / "x.gpkg")


def test_binary_list_file_is_refused_with_its_name(tmp_path):
    listing = tmp_path / "list.txt"
    listing.write_bytes(bytes(range(256)))
    with pytest.raises(InvalidInputError, match=r"list file .*list\.txt is not UTF-8 text") as bad:
        io.expand_lists([f"@{listing}"], "SCENES")
    assert bad.value.option == "SCENES"
    listing.write_bytes(b"a.tif\x00b.tif\n")
    with pytest.raises(InvalidInputError, match="NUL bytes"):
        io.expand_lists([f"@{listing}"], "SCENES")


def test_list_files_with_a_byte_order_mark_still_read(tmp_path):
    scene = tmp_path / "a.tif"
    scene.write_text("")
    listing = tmp_path / "list.txt"
    listing.write_text(f"# scenes\n{scene}\n", encoding="utf-8-sig")
    assert io.expand_lists([f"@{listing}"], "SCENES") == [str(scene)]
