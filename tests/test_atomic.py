"""core.io.atomic: a file is replaced whole or not at all."""

from __future__ import annotations

import pytest

from sparse_mocap_addon.core.io.atomic import atomic_open


def test_the_file_appears_only_when_the_block_succeeds(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old", encoding="utf-8")
    with pytest.raises(RuntimeError):
        with atomic_open(target, "w", encoding="utf-8") as handle:
            handle.write("half")
            raise RuntimeError("writer failed")
    assert target.read_text(encoding="utf-8") == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]
    with atomic_open(target, "w", encoding="utf-8", fsync=True) as handle:
        handle.write("new")
    assert target.read_text(encoding="utf-8") == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_a_missing_folder_is_an_error_not_a_stray_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        with atomic_open(tmp_path / "missing" / "out.bin") as handle:
            handle.write(b"x")
