"""Exclusive creation, names by start time, and the file object PyAV writes through."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from camera_app.recording.files import (
    FileGoneError,
    Naming,
    OutputFile,
    create_exclusive,
    utc_stamp,
)

T = 1_795_960_925.0  # 2026-11-29T14:02:05Z


def test_utc_stamp_is_sortable_and_file_system_safe() -> None:
    assert utc_stamp(T) == "2026-11-29T14-02-05Z"
    assert utc_stamp(T + 1) > utc_stamp(T)


def test_fixed_name_first_then_start_time_then_counter(tmp_path: Path) -> None:
    naming = Naming.fixed_path(tmp_path / "rec.mp4")
    names = [p.name for p in list(naming.candidates(T))[:3]]
    assert names == ["rec.mp4", "rec-2026-11-29T14-02-05Z.mp4", "rec-2026-11-29T14-02-05Z-1.mp4"]
    timed = Naming.timed(tmp_path, ".mkv", prefix="cam1-")
    assert [p.name for p in list(timed.candidates(T))[:2]] == [
        "cam1-2026-11-29T14-02-05Z.mkv",
        "cam1-2026-11-29T14-02-05Z-1.mkv",
    ]
    assert Naming.timed(tmp_path, ".mp4").glob() == "*.mp4"


def test_existing_files_are_never_opened(tmp_path: Path) -> None:
    first = tmp_path / "rec.mp4"
    first.write_bytes(b"earlier run")
    stamped = tmp_path / "rec-2026-11-29T14-02-05Z.mp4"
    stamped.write_bytes(b"earlier still")
    fd, path = create_exclusive(Naming.fixed_path(first).candidates(T))
    os.close(fd)
    assert path.name == "rec-2026-11-29T14-02-05Z-1.mp4"
    assert first.read_bytes() == b"earlier run"
    assert stamped.read_bytes() == b"earlier still"


def test_no_free_name_and_missing_folder_raise(tmp_path: Path) -> None:
    (tmp_path / "a").write_bytes(b"x")
    with pytest.raises(FileExistsError):
        create_exclusive([tmp_path / "a"])
    with pytest.raises(FileNotFoundError):
        create_exclusive([tmp_path / "missing" / "a"])


def test_output_file_writes_everything_and_cuts_back_a_torn_tail(tmp_path: Path) -> None:
    out = OutputFile.create([tmp_path / "f.bin"])
    assert out.write(b"complete") == 8
    out.mark_good()
    out.write(memoryview(b"torn-par"))
    assert out.bytes_written == 16
    out.truncate_to_good()
    out.release()
    assert (tmp_path / "f.bin").read_bytes() == b"complete"


def test_output_file_rejects_writes_after_a_failure(tmp_path: Path) -> None:
    out = OutputFile.create([tmp_path / "f.bin"])
    out.reject_writes()
    with pytest.raises(OSError) as e:
        out.write(b"x")
    assert e.value.errno == errno.EIO
    out.release()


def test_check_notices_a_deleted_or_replaced_file(tmp_path: Path) -> None:
    path = tmp_path / "f.bin"
    out = OutputFile.create([path])
    out.check()  # fine while in place
    path.unlink()
    with pytest.raises(FileGoneError, match="deleted"):
        out.check()
    out.release()

    out = OutputFile.create([path])
    path.rename(tmp_path / "moved.bin")
    path.write_bytes(b"someone else's")
    with pytest.raises(FileGoneError, match="replaced"):
        out.check()
    out.remove()  # deletes only its own file, not the one now at the path
    assert path.read_bytes() == b"someone else's"
    assert (tmp_path / "moved.bin").exists()  # a moved file is left where it went
