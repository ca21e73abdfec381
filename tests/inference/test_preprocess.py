"""Frame -> input tensor (camera_app/inference/preprocess.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import cv2
import numpy as np
import pytest

from camera_app.errors import ModelError
from camera_app.inference.preprocess import Preprocessor, build_lut
from camera_app.inference.types import InputTransform, TensorInfo

PM1 = (127.5, 127.5, 127.5)
ZERO = (0.0, 0.0, 0.0)
ONE = (1.0, 1.0, 1.0)
U255 = (255.0, 255.0, 255.0)
IMAGENET_MEAN = (123.675, 116.28, 103.53)
IMAGENET_STD = (58.395, 57.12, 57.375)

P = np.arange(256, dtype=np.float64)


def tensor(
    shape: tuple[int, ...], dtype: Any, scale: float = 0.0, zero_point: int = 0
) -> TensorInfo:
    return TensorInfo("input", 0, shape, np.dtype(dtype), scale, zero_point)


def per_channel(f: Callable[[np.ndarray, int], np.ndarray]) -> np.ndarray:
    """(256, 3) expected input values, one column per channel."""
    return np.stack([f(P, c) for c in range(3)], axis=1)


# (dtype, scale, zero point, mean, std, raw uint8, expected (256, 3) values or None = identity)
LUT_CASES = [
    pytest.param(
        np.float32,
        0.0,
        0,
        PM1,
        PM1,
        True,
        per_channel(lambda p, c: (p - 127.5) / 127.5),
        id="float32 [-1,1]",
    ),
    pytest.param(
        np.float32, 0.0, 0, ZERO, U255, True, per_channel(lambda p, c: p / 255), id="float32 [0,1]"
    ),
    pytest.param(
        np.float32,
        0.0,
        0,
        IMAGENET_MEAN,
        IMAGENET_STD,
        True,
        per_channel(lambda p, c: (p - IMAGENET_MEAN[c]) / IMAGENET_STD[c]),
        id="float32 imagenet mean/std per channel",
    ),
    pytest.param(np.uint8, 1 / 128, 128, PM1, PM1, True, None, id="uint8 raw"),
    pytest.param(np.uint8, 0.0, 0, PM1, PM1, True, None, id="uint8 unquantised raw"),
    pytest.param(
        np.uint8,
        1 / 128,
        128,
        PM1,
        PM1,
        False,
        per_channel(lambda p, c: np.clip(np.round((p - 127.5) / 127.5 * 128 + 128), 0, 255)),
        id="uint8 explicit normalisation",
    ),
    pytest.param(
        np.uint8,
        1 / 255,
        0,
        ZERO,
        U255,
        False,
        per_channel(lambda p, c: p),
        id="uint8 explicit [0,1] is the identity",
    ),
    pytest.param(
        np.int8,
        1 / 255,
        -128,
        ZERO,
        U255,
        False,
        per_channel(lambda p, c: p - 128),
        id="int8 yolo q=p-128",
    ),
    pytest.param(
        np.int8,
        1 / 128,
        0,
        PM1,
        PM1,
        False,
        per_channel(lambda p, c: np.clip(np.round((p - 127.5) / 127.5 * 128), -128, 127)),
        id="int8 [-1,1] saturates",
    ),
    pytest.param(
        np.int32, 0.0, 0, PM1, PM1, False, per_channel(lambda p, c: p), id="int32 raw pixels"
    ),
    pytest.param(
        np.int32,
        1 / 255,
        7,
        ZERO,
        U255,
        False,
        per_channel(lambda p, c: p + 7),
        id="int32 quantised",
    ),
]


@pytest.mark.parametrize(("dtype", "scale", "zp", "mean", "std", "raw", "expected"), LUT_CASES)
def test_lut(
    dtype: Any, scale: float, zp: int, mean: Any, std: Any, raw: bool, expected: np.ndarray | None
) -> None:
    t = tensor((1, 16, 16, 3), dtype, scale, zp)
    lut = build_lut(t, mean, std, raw)
    if expected is None:
        assert lut is None
    else:
        assert lut is not None
        assert lut.shape == (1, 256, 3)
        assert lut.dtype == np.dtype(dtype)
        np.testing.assert_allclose(lut[0].astype(np.float64), expected, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize(("dtype", "scale", "zp", "mean", "std", "raw", "expected"), LUT_CASES)
def test_every_pixel_value_reaches_the_tensor(
    dtype: Any, scale: float, zp: int, mean: Any, std: Any, raw: bool, expected: np.ndarray | None
) -> None:
    """All 256 values through the whole path (resize-free copy, colour swap, cv2.LUT)."""
    t = tensor((1, 16, 16, 3), dtype, scale, zp)
    pre = Preprocessor(t, "stretch", mean, std, raw_uint8=raw)
    gray = np.arange(256, dtype=np.uint8).reshape(16, 16)
    rgb = np.stack([gray, gray, gray], axis=2)
    out = np.zeros((16, 16, 3), np.dtype(dtype))
    pre(rgb, "RGB", out)
    want = per_channel(lambda p, c: p) if expected is None else expected
    got = out.reshape(256, 3).astype(np.float64)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("dtype", [np.float16, np.float64, np.bool_])
def test_unsupported_input_dtype(dtype: Any) -> None:
    with pytest.raises(ModelError, match="unsupported dtype"):
        build_lut(tensor((1, 8, 8, 3), dtype), PM1, PM1, False)


@pytest.mark.parametrize("shape", [(1, 3, 224, 224), (2, 8, 8, 3), (1, 8, 8), (1, 8, 8, 4)])
def test_non_image_input_is_refused(shape: tuple[int, ...]) -> None:
    with pytest.raises(ModelError, match="NHWC"):
        Preprocessor(tensor(shape, np.uint8), "stretch", PM1, PM1)


# -- colour order -----------------------------------------------------------------

RED_BGR = (0, 0, 255)
RED_RGB = (255, 0, 0)


# (model colour, frame order, pixel in that order, expected channel holding 255)
COLOR_CASES = [
    ("RGB", "BGR", RED_BGR, 0),
    ("BGR", "BGR", RED_BGR, 2),
    ("RGB", "RGB", RED_RGB, 0),
    ("BGR", "RGB", RED_RGB, 2),
]


@pytest.mark.parametrize(("model_color", "order", "pixel", "channel"), COLOR_CASES)
@pytest.mark.parametrize(
    ("dtype", "mean", "std", "raw", "full"),
    [(np.uint8, PM1, PM1, True, 255), (np.float32, ZERO, U255, True, 1.0)],
)
def test_color_order(
    model_color: Any,
    order: Any,
    pixel: tuple[int, int, int],
    channel: int,
    dtype: Any,
    mean: Any,
    std: Any,
    raw: bool,
    full: float,
) -> None:
    pre = Preprocessor(
        tensor((1, 8, 8, 3), dtype), "stretch", mean, std, color=model_color, raw_uint8=raw
    )
    image = np.empty((16, 24, 3), np.uint8)
    image[:] = pixel
    out = np.zeros((8, 8, 3), dtype)
    pre(image, order, out)
    assert np.all(out[..., channel] == full)
    for other in {0, 1, 2} - {channel}:
        assert np.all(out[..., other] == 0)


# -- gray models --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dtype", "raw"), [(np.uint8, True), (np.float32, True), (np.uint8, False)]
)
@pytest.mark.parametrize("order", ["BGR", "RGB"])
def test_gray_model(dtype: Any, raw: bool, order: Any) -> None:
    pre = Preprocessor(tensor((1, 6, 10, 1), dtype), "stretch", ZERO, ONE, raw_uint8=raw)
    assert pre.color == "GRAY"
    image = np.zeros((12, 20, 3), np.uint8)
    image[...] = RED_BGR if order == "BGR" else RED_RGB
    out = np.zeros((6, 10, 1), dtype)
    pre(image, order, out)
    luma = cv2.cvtColor(np.uint8([[RED_BGR]]), cv2.COLOR_BGR2GRAY)[0, 0]  # 76
    assert np.all(out == luma)


# -- geometry -----------------------------------------------------------------------


def marker_frame(size_wh: tuple[int, int], center_xy: tuple[int, int], half: int = 6) -> np.ndarray:
    """A white BGR frame with a black square centred on ``center_xy``."""
    w, h = size_wh
    image = np.full((h, w, 3), 255, np.uint8)
    x, y = center_xy
    image[y - half : y + half, x - half : x + half] = 0
    return image


def marker_center(out: np.ndarray) -> np.ndarray:
    ys, xs = np.nonzero(out[..., 0] < 64)
    assert len(xs), "marker not found in the model input"
    return np.array([xs.mean() + 0.5, ys.mean() + 0.5])


def run_uint8(
    resize: Any,
    model_wh: tuple[int, int],
    image: np.ndarray,
    frame_wh: tuple[int, int] | None = None,
    pad: int = 114,
) -> tuple[np.ndarray, InputTransform]:
    w, h = model_wh
    pre = Preprocessor(tensor((1, h, w, 3), np.uint8), resize, ZERO, U255, pad_value=pad)
    out = np.zeros((h, w, 3), np.uint8)
    t = pre(image, "BGR", out, frame_wh)
    return out, t


@pytest.mark.parametrize(
    ("frame_wh", "pad_axis", "pad_px"),
    [((200, 100), 0, 25), ((100, 200), 1, 25), ((400, 100), 0, 37), ((100, 100), None, 0)],
)
def test_letterbox_pads_and_centres(
    frame_wh: tuple[int, int], pad_axis: int | None, pad_px: int
) -> None:
    w, h = frame_wh
    out, t = run_uint8("letterbox", (100, 100), np.full((h, w, 3), 255, np.uint8))
    assert t.frame_wh == frame_wh
    assert t.scale_x == t.scale_y
    if pad_axis is None:
        assert np.all(out == 255)
        return
    before = out[:pad_px] if pad_axis == 0 else out[:, :pad_px]
    after = out[100 - pad_px :] if pad_axis == 0 else out[:, 100 - pad_px :]
    assert np.all(before == 114)
    assert np.all(after == 114)
    content = (
        out[pad_px + 1 : 100 - pad_px - 1]
        if pad_axis == 0
        else out[:, pad_px + 1 : 100 - pad_px - 1]
    )
    assert np.all(content == 255)
    assert (t.pad_x, t.pad_y) == ((0, pad_px) if pad_axis == 0 else (pad_px, 0))


@pytest.mark.parametrize("resize", ["letterbox", "stretch"])
@pytest.mark.parametrize(
    ("frame_wh", "marker_xy"),
    [
        ((640, 480), (150, 50)),
        ((480, 640), (400, 600)),
        ((1352, 900), (1000, 120)),
        ((300, 300), (40, 250)),
    ],
)
def test_marker_round_trip(
    resize: Any, frame_wh: tuple[int, int], marker_xy: tuple[int, int]
) -> None:
    """A point in the frame lands where the transform says, and maps back to itself."""
    out, t = run_uint8(resize, (160, 120), marker_frame(frame_wh, marker_xy, half=12))
    found = marker_center(out)
    expected_model_xy = (
        marker_xy[0] * t.scale_x + t.pad_x,
        marker_xy[1] * t.scale_y + t.pad_y,
    )
    np.testing.assert_allclose(found, expected_model_xy, atol=1.0)
    back = t.points_to_frame(found[None])[0]
    np.testing.assert_allclose(back, marker_xy, atol=1.5 / min(t.scale_x, t.scale_y))
    norm = t.points_to_frame((found / (160, 120))[None], normalized=True)[0]
    np.testing.assert_allclose(norm, back, atol=1e-3)


def test_stretch_fills_the_input() -> None:
    out, t = run_uint8("stretch", (100, 100), np.full((50, 300, 3), 255, np.uint8))
    assert np.all(out == 255)
    assert (t.pad_x, t.pad_y) == (0, 0)
    assert (t.scale_x, t.scale_y) == pytest.approx((100 / 300, 100 / 50))


def test_letterbox_repads_when_the_frame_size_changes() -> None:
    pre = Preprocessor(tensor((1, 100, 100, 3), np.uint8), "letterbox", ZERO, U255, pad_value=114)
    out = np.zeros((100, 100, 3), np.uint8)
    pre(np.full((100, 200, 3), 255, np.uint8), "BGR", out)  # wide: pads top and bottom
    pre(np.full((200, 100, 3), 255, np.uint8), "BGR", out)  # tall: pads left and right
    assert np.all(out[:, :25] == 114)
    assert np.all(out[:, 75:] == 114)
    assert np.all(out[:25, 26:74] == 255)  # the old top pad is now content


@pytest.mark.parametrize("resize", ["letterbox", "stretch"])
@pytest.mark.parametrize(
    ("frame_wh", "lores_wh"), [((1280, 960), (320, 240)), ((1920, 1080), (640, 360))]
)
def test_lores_image_reports_frame_pixels(
    resize: Any, frame_wh: tuple[int, int], lores_wh: tuple[int, int]
) -> None:
    """picamera2's lores stream: same field of view, smaller; results in main-frame pixels."""
    k = frame_wh[0] / lores_wh[0]
    marker_main = (int(0.7 * frame_wh[0]), int(0.2 * frame_wh[1]))
    lores = marker_frame(lores_wh, (round(marker_main[0] / k), round(marker_main[1] / k)), half=8)
    out, t = run_uint8(resize, (160, 120), lores, frame_wh=frame_wh)
    assert t.frame_wh == frame_wh
    back = t.points_to_frame(marker_center(out)[None])[0]
    np.testing.assert_allclose(back, marker_main, atol=2.0 * k)


# -- buffers --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dtype", "resize", "frames_wh"),
    [
        (np.float32, "letterbox", [(640, 480)] * 3),
        (np.uint8, "letterbox", [(640, 480)] * 3),
        (np.int8, "stretch", [(640, 480)] * 3),
        (np.uint8, "stretch", [(640, 480), (320, 240), (1280, 720)]),
    ],
)
def test_buffers_are_reused(dtype: Any, resize: Any, frames_wh: list[tuple[int, int]]) -> None:
    pre = Preprocessor(
        tensor((1, 96, 128, 3), dtype, 1 / 255, -128), resize, ZERO, U255, raw_uint8=False
    )
    out = np.zeros((96, 128, 3), dtype)
    ids: list[tuple[int, ...]] = []
    rng = np.random.default_rng(0)
    for w, h in frames_wh:
        pre(rng.integers(0, 256, (h, w, 3), dtype=np.uint8), "BGR", out)
        ids.append((id(pre._resized), id(pre._staged), id(pre.lut)))
    assert ids[0] == ids[1] == ids[2]
    if dtype != np.uint8:
        assert pre._staged is not None
    if resize == "letterbox":
        content = id(pre._content)
        pre(rng.integers(0, 256, (480, 640, 3), dtype=np.uint8), "BGR", out)
        assert id(pre._content) == content


def test_same_frame_same_tensor() -> None:
    pre = Preprocessor(tensor((1, 96, 128, 3), np.float32), "letterbox", PM1, PM1)
    image = np.random.default_rng(1).integers(0, 256, (480, 640, 3), dtype=np.uint8)
    first = np.zeros((96, 128, 3), np.float32)
    second = np.zeros((96, 128, 3), np.float32)
    pre(image, "BGR", first)
    pre(image, "BGR", second)
    np.testing.assert_array_equal(first, second)
