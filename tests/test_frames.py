"""Frame (camera_app/frames.py): given pixels, or converted once on first use."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from camera_app.frames import Frame, SourceInfo

INFO = SourceInfo("test", "video", (6, 4))


def counting(image: np.ndarray) -> tuple[Callable[[], np.ndarray], list[int]]:
    calls: list[int] = []

    def convert() -> np.ndarray:
        calls.append(1)
        return image

    return convert, calls


def test_a_frame_built_with_an_image_is_ready_and_sized_by_it() -> None:
    frame = Frame(np.zeros((4, 6, 3), np.uint8), 3, 10, INFO, media_ms=1.5)
    assert frame.image_ready and frame.size_wh == (6, 4)
    assert (frame.frame_id, frame.timestamp_ns, frame.media_ms) == (3, 10, 1.5)
    assert frame.channel_order == "BGR" and frame.lores is None and frame.meta == {}
    assert frame.luma is None and frame.luma_range == "full"


def test_convert_runs_only_when_the_image_is_read_and_only_once() -> None:
    image = np.ones((4, 6, 3), np.uint8)
    convert, calls = counting(image)
    frame = Frame(None, 0, 0, INFO, convert=convert, size_wh=(6, 4))
    assert frame.size_wh == (6, 4) and "not converted" in repr(frame)
    assert not calls and not frame.image_ready
    assert frame.image is image and frame.image is image
    assert calls == [1] and frame.image_ready and frame.size_wh == (6, 4)


def test_threads_asking_at_once_share_one_conversion() -> None:
    image = np.ones((4, 6, 3), np.uint8)
    convert, calls = counting(image)
    frame = Frame(None, 0, 0, INFO, convert=convert, size_wh=(6, 4))
    n = 8
    barrier = threading.Barrier(n)
    got: list[np.ndarray] = []

    def reader() -> None:
        barrier.wait()
        got.append(frame.image)

    threads = [threading.Thread(target=reader) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert calls == [1]
    assert len(got) == n and all(g is image for g in got)


def test_assigning_an_image_replaces_a_pending_conversion() -> None:
    convert, calls = counting(np.ones((4, 6, 3), np.uint8))
    frame = Frame(None, 0, 0, INFO, convert=convert, size_wh=(6, 4))
    drawn = np.zeros((4, 6, 3), np.uint8)
    frame.image = drawn
    assert frame.image is drawn and not calls


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"image": None}, "either image or convert"),
        ({"image": np.zeros((4, 6, 3), np.uint8), "convert": lambda: None}, "either image"),
        ({"image": None, "convert": lambda: None}, "convert needs size_wh"),
        (
            {"image": np.zeros((4, 6, 3), np.uint8), "luma": np.zeros((4, 6, 1), np.uint8)},
            r"luma: expected an HxW plane, got shape \(4, 6, 1\)",
        ),
    ],
    ids=["neither", "both", "no-size", "luma-3d"],
)
def test_bad_constructions_are_refused(kwargs: dict[str, Any], match: str) -> None:
    image = kwargs.pop("image")
    with pytest.raises(ValueError, match=match):
        Frame(image, 0, 0, INFO, **kwargs)
