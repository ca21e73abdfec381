"""Image folders as a source, and read_image (camera_app/sources/images.py)."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest

from camera_app.errors import EXIT_USAGE, ImageError, SourceError
from camera_app.sources import SourceOptions, open_source, source_kind
from camera_app.sources.images import ImageFolderSource, image_format, read_image


def _write_images(folder: Path, n: int) -> None:
    folder.mkdir()
    for i in range(n):
        cv2.imwrite(str(folder / f"img_{i:02d}.png"), np.full((20, 30, 3), i * 10, np.uint8))


def _truncated_jpeg(d: Path, images: Path) -> Path:
    path = d / "truncated.jpg"
    path.write_bytes((images / "face.jpg").read_bytes()[:20_000])
    return path


def _corrupt_jpeg(d: Path, images: Path) -> Path:
    """Decodes, with libjpeg's "Corrupt JPEG data" warning."""
    data = (images / "face.jpg").read_bytes()
    path = d / "corrupt.jpg"
    path.write_bytes(data[:-2] + b"\x11\x22\x33" + data[-2:])
    return path


def _write(name: str, data: bytes) -> Callable[[Path, Path], Path]:
    def make(d: Path, images: Path) -> Path:
        (d / name).write_bytes(data)
        return d / name

    return make


BAD_IMAGES = [
    (lambda d, i: d / "missing.jpg", "image not found"),
    (lambda d, i: d, "image path is not a file"),
    (_write("empty.jpg", b""), "the file is empty"),
    (_write("notes.jpg", b"this is text\n"), "not an image (it is text)"),
    (_write("noise.png", bytes(range(256)) * 4), "not an image (unrecognised content)"),
    (_truncated_jpeg, "a damaged or truncated JPEG file"),
    (_write("cut.png", b"\x89PNG\r\n\x1a\n" + bytes(40)), "a damaged or truncated PNG file"),
]


@pytest.mark.parametrize(
    ("make", "match"),
    BAD_IMAGES,
    ids=["missing", "folder", "empty", "text", "binary", "truncated-jpeg", "truncated-png"],
)
def test_read_image_errors_are_one_line_and_quiet(
    capfd: pytest.CaptureFixture[str],
    tmp_path: Path,
    images_dir: Path,
    make: Callable[[Path, Path], Path],
    match: str,
) -> None:
    path = make(tmp_path, images_dir)
    with pytest.raises(ImageError, match=re.escape(match)) as excinfo:
        read_image(path)
    message = str(excinfo.value)
    assert str(path) in message and "\n" not in message
    assert excinfo.value.exit_code == EXIT_USAGE
    assert capfd.readouterr().err == ""  # libjpeg/libpng said nothing on fd 2


def test_a_corrupt_but_decodable_jpeg_is_read_and_the_warning_logged(
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
    images_dir: Path,
) -> None:
    with caplog.at_level(logging.DEBUG, logger="camera_app.native"):
        image = read_image(_corrupt_jpeg(tmp_path, images_dir))
    assert image.shape == (355, 512, 3)
    assert capfd.readouterr().err == ""
    assert any("Corrupt JPEG data" in r.getMessage() for r in caplog.records)


def test_read_image_matches_imread(images_dir: Path) -> None:
    for path in sorted(images_dir.iterdir()):
        expected = cv2.imread(str(path), cv2.IMREAD_COLOR)
        assert expected is not None and np.array_equal(read_image(path), expected), path


@pytest.mark.parametrize(
    ("head", "fmt"),
    [
        (b"\xff\xd8\xff\xe0", "JPEG"),
        (b"\x89PNG\r\n\x1a\n", "PNG"),
        (b"BM6\x00", "BMP"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "WebP"),
        (b"II*\x00", "TIFF"),
        (b"P6\n", "PPM"),
        (b"hello", None),
    ],
)
def test_image_format_from_magic(head: bytes, fmt: str | None) -> None:
    assert image_format(head) == fmt


def test_image_folder_in_name_order_skipping_unreadable(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _write_images(tmp_path / "imgs", 3)
    (tmp_path / "imgs" / "img_01b.png").write_bytes(b"not a png")
    src = ImageFolderSource(str(tmp_path / "imgs"), loop=True)
    src.start()
    values = [int(f.image[0, 0, 0]) for f in (src.read() for _ in range(6)) if f is not None]
    assert values == [0, 10, 20, 0, 10, 20]
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1  # once, not on every pass
    assert "img_01b.png" in warnings[0].getMessage()


def test_unreadable_files_before_the_first_image_are_reported_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _write_images(tmp_path / "imgs", 2)
    (tmp_path / "imgs" / "a_bad.jpg").write_bytes(b"x")
    src = ImageFolderSource(str(tmp_path / "imgs"))
    src.start()
    assert [int(f.image[0, 0, 0]) for f in iter(src.read, None)] == [0, 10]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "skipping 1 unreadable file" in warnings[0]


def test_image_glob_loops(tmp_path: Path) -> None:
    _write_images(tmp_path / "imgs", 2)
    spec = str(tmp_path / "imgs" / "*.png")
    assert source_kind(spec) == "images"
    src = open_source(spec, SourceOptions(loop=True))
    src.start()
    assert [int(src.read().image[0, 0, 0]) for _ in range(5)] == [0, 10, 0, 10, 0]  # type: ignore[union-attr]


def test_folder_of_unreadable_images_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "a.jpg").write_bytes(b"x")
    with pytest.raises(SourceError, match="none of its 1 files") as excinfo:
        ImageFolderSource(str(tmp_path)).start()
    assert "a.jpg: cannot be read: not an image" in str(excinfo.value)
    assert excinfo.value.exit_code == EXIT_USAGE


def test_one_bad_image_file_is_one_line_naming_it(
    capfd: pytest.CaptureFixture[str], tmp_path: Path, images_dir: Path
) -> None:
    path = _truncated_jpeg(tmp_path, images_dir)
    with pytest.raises(SourceError) as excinfo:
        ImageFolderSource(str(path)).start()
    assert str(excinfo.value).startswith(f"image {path}: cannot be read: a damaged or truncated")
    assert capfd.readouterr().err == ""
