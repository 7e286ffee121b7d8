"""jaxgd.files: every file is written whole or not at all."""

import os

import pytest

from jaxgd import files


def test_write_text_creates_the_folder_and_round_trips(tmp_path):
    path = files.write_text(tmp_path / "a" / "b.md", "héllo\n")
    assert path.read_text(encoding="utf-8") == "héllo\n"
    assert os.listdir(tmp_path / "a") == ["b.md"]


def test_a_failure_while_writing_keeps_the_old_file_and_no_temporary(tmp_path):
    path = files.write_text(tmp_path / "r.json", "old")
    with pytest.raises(RuntimeError, match="crash"):
        with files.atomic_path(path) as tmp:
            tmp.write_text("half of the new")
            raise RuntimeError("crash")
    assert path.read_text() == "old"
    assert os.listdir(tmp_path) == ["r.json"]


def test_the_temporary_sits_beside_the_target_and_is_renamed_over_it(tmp_path):
    path = tmp_path / "r.bin"
    with files.atomic_path(path) as tmp:
        assert tmp.parent == path.parent and tmp.name.startswith(".") and str(os.getpid()) in tmp.name
        tmp.write_bytes(b"new")
        assert not path.exists()  # nothing at the target until the block succeeds
    assert path.read_bytes() == b"new" and not tmp.exists()
