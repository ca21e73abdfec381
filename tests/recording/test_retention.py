"""Retention: oldest first, by age, by total size, by free space; never the live file."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from camera_app.recording import retention as retention_module
from camera_app.recording.retention import Retention

NOW = 1_800_000_000.0
DAY = 86400.0


def _files(
    directory: Path, ages_days: list[float], size: int = 1000, suffix: str = ".mp4"
) -> list[Path]:
    """Files aged as given (index 0 the oldest when ages decrease)."""
    paths = []
    for i, age in enumerate(ages_days):
        path = directory / f"f{i:02d}{suffix}"
        path.write_bytes(b"x" * size)
        os.utime(path, (NOW - age * DAY, NOW - age * DAY))
        paths.append(path)
    return paths


def test_by_age_deletes_only_older_files(tmp_path: Path) -> None:
    files = _files(tmp_path, [10, 8, 3, 1])
    deleted = Retention(retain_days=7, pattern="*.mp4").apply(tmp_path, now_s=NOW)
    assert deleted == files[:2]
    assert sorted(tmp_path.iterdir()) == files[2:]


def test_by_total_size_deletes_oldest_first_and_never_the_kept_file(tmp_path: Path) -> None:
    files = _files(tmp_path, [5, 4, 3, 2, 1])
    deleted = Retention(max_bytes=2500, pattern="*.mp4").apply(tmp_path, keep=[files[0]], now_s=NOW)
    assert deleted == files[1:4]  # the oldest is being written: skipped
    assert sorted(tmp_path.iterdir()) == [files[0], files[4]]


def test_pattern_selects_the_files_it_governs(tmp_path: Path) -> None:
    videos = _files(tmp_path, [5, 4], suffix=".mp4")
    other = tmp_path / "notes.txt"
    other.write_bytes(b"y" * 100_000)
    os.utime(other, (NOW - 100 * DAY, NOW - 100 * DAY))
    (tmp_path / "sub.mp4").mkdir()  # folders are never touched
    deleted = Retention(max_bytes=1000, retain_days=50, pattern="*.mp4").apply(tmp_path, now_s=NOW)
    assert deleted == videos[:1]
    assert other.exists() and (tmp_path / "sub.mp4").is_dir()


def test_min_free_bytes_deletes_until_enough_is_free(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = _files(tmp_path, [5, 4, 3, 2], size=1000)
    # The file system reports 1500 bytes free, plus what was deleted.
    monkeypatch.setattr(
        retention_module,
        "_free_bytes",
        lambda d: 1500 + 1000 * (4 - len(list(Path(d).glob("*.mp4")))),
    )
    deleted = Retention(min_free_bytes=3000, pattern="*.mp4").apply(tmp_path, now_s=NOW)
    assert deleted == files[:2]


def test_min_free_bytes_against_a_real_file_system(tmp_path: Path) -> None:
    st = os.statvfs(tmp_path)
    free = st.f_bavail * st.f_frsize
    _files(tmp_path, [2, 1])
    # Asking for more than the disk has deletes every governed file but the kept one.
    keep = tmp_path / "f01.mp4"
    deleted = Retention(min_free_bytes=free * 10, pattern="*.mp4").apply(tmp_path, keep=[keep])
    assert deleted == [tmp_path / "f00.mp4"]
    assert keep.exists()


def test_inactive_policy_deletes_nothing(tmp_path: Path) -> None:
    _files(tmp_path, [1000])
    assert not Retention().active
    assert Retention().apply(tmp_path) == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"retain_days": 0}, "retain_days must be positive"),
        ({"max_bytes": -1}, "max_bytes must be positive"),
        ({"min_free_bytes": 0}, "min_free_bytes must be positive"),
        ({"pattern": "a/*.mp4"}, "file name pattern"),
        ({"pattern": ""}, "file name pattern"),
    ],
)
def test_bad_policies_are_rejected(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Retention(**kwargs).validate()  # type: ignore[arg-type]
