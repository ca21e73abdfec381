"""Picamera2Source against the fake picamera2 in tests/fakes (same API boundary).

The fake renders a known scene (left half red, right half blue, in true RGB)
in each format's real memory layout with stride padding, so these tests check
byte orders, stride cropping and YUV conversion end to end.
"""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

from camera_app.errors import SourceError
from camera_app.sources.picamera2 import Picamera2Source
from camera_app.sources.picamera2_formats import I420ToRGB, fit_lores, is_pisp

RED = (200, 40, 30)  # the fake's default scene, true RGB
BLUE = (30, 60, 190)
MAIN_WH = (646, 362)  # 646 px rows need stride padding in every RGB format
YUV_TOLERANCE = 3  # rounding + 4:2:0 averaging; a wrong colour space is off by 10+


@pytest.fixture
def fake(fake_picamera2: ModuleType) -> ModuleType:
    return fake_picamera2


def halves(image: np.ndarray, margin: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """Pixels of the left and right halves, away from the boundary."""
    w = image.shape[1]
    return image[:, : w // 2 - margin].reshape(-1, 3), image[:, w // 2 + margin :].reshape(-1, 3)


def assert_colour(pixels: np.ndarray, expected: tuple[int, int, int], tolerance: int) -> None:
    assert pixels.size > 0
    err = np.abs(pixels.astype(int) - np.array(expected)).max()
    assert err <= tolerance, f"expected {expected}, got e.g. {pixels[0]} (max error {err})"


def start_source(fake: ModuleType, platform: str, **kwargs: Any) -> Picamera2Source:
    fake.reset(platform)
    src = Picamera2Source(**{"main_size_wh": MAIN_WH, **kwargs})
    src.start()
    return src


@pytest.mark.parametrize("platform", ["pi4", "pi5"])
@pytest.mark.parametrize("main_format", ["RGB888", "BGR888", "XRGB8888", "XBGR8888"])
@pytest.mark.parametrize("lores_wh", [None, (300, 300), (224, 226), (320, 240)])
def test_colours_sizes_and_release(
    fake: ModuleType, platform: str, main_format: str, lores_wh: tuple[int, int] | None
) -> None:
    src = start_source(fake, platform, main_format=main_format, lores_size_wh=lores_wh)
    config = fake.FAKE.configs[-1]
    if lores_wh is not None:
        assert config["lores"]["format"] == ("YUV420" if platform == "pi4" else "BGR888")
        if platform == "pi4" and lores_wh[0] % 64:
            assert config["lores"]["stride"] > lores_wh[0]  # the fake pads: cropping is exercised
    assert config["main"]["stride"] > MAIN_WH[0] * (3 if main_format.endswith("888") else 4)
    for expected_id in range(3):
        frame = src.read(timeout_s=2.0)
        assert frame is not None and frame.frame_id == expected_id
        assert frame.channel_order == "BGR" and frame.image.dtype == np.uint8
        assert frame.image.shape == (MAIN_WH[1], MAIN_WH[0], 3) and frame.image.flags.c_contiguous
        left, right = halves(frame.image)
        assert_colour(left, RED[::-1], 0)
        assert_colour(right, BLUE[::-1], 0)
        if lores_wh is None:
            assert frame.lores is None
        else:
            assert frame.lores is not None and frame.lores_order == "RGB"
            assert (
                frame.lores.shape == (lores_wh[1], lores_wh[0], 3) and frame.lores.dtype == np.uint8
            )
            tolerance = YUV_TOLERANCE if platform == "pi4" else 0
            left, right = halves(frame.lores)
            assert_colour(left, RED, tolerance)
            assert_colour(right, BLUE, tolerance)
        assert fake.FAKE.outstanding() == []
    src.stop()
    assert fake.FAKE.outstanding() == []
    assert fake.FAKE.opened == {}


def test_start_reports_source_info_and_configures_camera(fake: ModuleType) -> None:
    src = Picamera2Source(
        camera_num=0, main_size_wh=(1280, 720), lores_size_wh=(300, 300), fps=15.0
    )
    info = src.start()
    try:
        assert (info.name, info.kind, info.size_wh, info.fps, info.live) == (
            "picamera2:0",
            "picamera2",
            (1280, 720),
            15.0,
            True,
        )
        config = fake.FAKE.configs[-1]
        assert config["controls"]["FrameDurationLimits"] == (66667, 66667)
        assert (
            config["colour_space"] == fake.ColorSpace.Smpte170m()
        )  # what OpenCV's I420 decoding assumes
        assert config["main"]["format"] == "RGB888" and config["queue"] is True
        assert src.start() is info  # already started: same camera, no reconfigure
        assert len(fake.FAKE.configs) == 1
    finally:
        src.stop()


def test_frames_own_their_pixels_and_carry_sensor_time(fake: ModuleType) -> None:
    src = start_source(fake, "pi4", lores_size_wh=(300, 300))
    try:
        before = time.monotonic_ns()
        first, second = src.read(), src.read()
        assert first is not None and second is not None
        assert not np.shares_memory(first.image, second.image)
        assert first.lores is not None and second.lores is not None
        assert not np.shares_memory(first.lores, second.lores)
        first.image[:] = 0
        first.lores[:] = 0
        third = src.read()
        assert (
            third is not None
            and third.image.max() > 0
            and third.lores is not None
            and third.lores.max() > 0
        )
        assert before <= first.timestamp_ns <= second.timestamp_ns <= time.monotonic_ns()
        assert first.timestamp_ns == first.meta["SensorTimestamp"]
        assert {"ExposureTime", "AnalogueGain"} <= first.meta.keys()
    finally:
        src.stop()


def test_make_array_failure_is_a_source_error_and_releases(fake: ModuleType) -> None:
    src = start_source(fake, "pi5", lores_size_wh=(300, 300))
    fake.FAKE.make_array_error = RuntimeError("mmap failed")
    with pytest.raises(SourceError, match=r"picamera2:0: .*mmap failed"):
        src.read()
    assert fake.FAKE.requests and fake.FAKE.outstanding() == []
    fake.FAKE.make_array_error = None
    assert src.read() is not None
    src.stop()
    assert fake.FAKE.outstanding() == []


def test_capture_failure_is_a_source_error(fake: ModuleType) -> None:
    src = start_source(fake, "pi4")
    fake.FAKE.fail_after_frames = 1
    assert src.read() is not None
    with pytest.raises(
        SourceError, match=r"picamera2:0: capture failed: Camera frontend has timed out"
    ):
        src.read()
    src.stop()
    assert fake.FAKE.outstanding() == []


@pytest.mark.parametrize(
    "has_cancel", [True, False], ids=["picamera2-2024", "no-cancel_all_and_flush"]
)
def test_timeout_raises_in_time_and_late_frame_is_released(
    fake: ModuleType, monkeypatch: pytest.MonkeyPatch, has_cancel: bool
) -> None:
    if not has_cancel:
        monkeypatch.delattr(fake.Picamera2, "cancel_all_and_flush")
    src = start_source(fake, "pi4", lores_size_wh=(300, 300))
    assert src.read() is not None
    fake.FAKE.set_hang(True)
    t0 = time.monotonic()
    with pytest.raises(SourceError, match=r"^picamera2:0: no frame within 0\.3 s$"):
        src.read(timeout_s=0.3)
    assert 0.3 <= time.monotonic() - t0 < 1.5
    fake.FAKE.set_hang(
        False
    )  # the camera recovers: the abandoned job (if still queued) gets a frame
    frame = src.read(timeout_s=2.0)
    assert frame is not None and frame.frame_id == 1
    src.stop()
    assert fake.FAKE.outstanding() == []


def test_stop_from_another_thread_wakes_a_waiting_read(fake: ModuleType) -> None:
    src = start_source(fake, "pi4")
    fake.FAKE.set_hang(True)
    fake.FAKE.job_queued.clear()
    result: list[object] = []
    reader = threading.Thread(target=lambda: result.append(src.read(timeout_s=30.0)))
    t0 = time.monotonic()
    reader.start()
    assert fake.FAKE.job_queued.wait(5.0)  # the reader is now waiting on the camera
    src.stop()
    reader.join(5.0)
    assert not reader.is_alive() and result == [None]
    assert time.monotonic() - t0 < 5.0
    assert fake.FAKE.opened == {} and fake.FAKE.outstanding() == []


def test_stop_is_idempotent_and_read_after_stop_is_none(fake: ModuleType) -> None:
    src = Picamera2Source()
    src.stop()  # never started
    src.start()
    assert src.read() is not None
    src.stop()
    src.stop()
    assert src.read() is None
    assert fake.FAKE.opened == {}
    src.start()  # and it can be started again
    assert src.read() is not None
    src.stop()


def test_read_before_start_is_an_error(fake: ModuleType) -> None:
    with pytest.raises(SourceError, match="before start"):
        Picamera2Source().read()


def test_missing_picamera2_names_the_apt_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "picamera2", None)  # import raises ImportError
    with pytest.raises(SourceError, match=r"python3-picamera2.*--system-site-packages"):
        Picamera2Source().start()


@pytest.mark.parametrize(
    ("cameras", "busy", "camera_num", "message"),
    [
        (1, set(), 1, r"picamera2:1: no camera 1 \(cameras found: 0: imx708"),
        (0, set(), 0, r"picamera2:0: no camera 0 \(cameras found: none"),
        (
            2,
            {1},
            1,
            r"picamera2:1: cannot open camera 1 .*Camera __init__ sequence did not complete.*another",
        ),
    ],
)
def test_camera_missing_or_busy(
    fake: ModuleType, cameras: int, busy: set[int], camera_num: int, message: str
) -> None:
    fake.reset("pi4", cameras=cameras)
    fake.FAKE.busy = busy
    with pytest.raises(SourceError, match=message):
        Picamera2Source(camera_num=camera_num).start()
    assert fake.FAKE.opened == {}


def test_second_source_on_the_same_camera_is_busy(fake: ModuleType) -> None:
    first = Picamera2Source()
    first.start()
    try:
        with pytest.raises(SourceError, match="cannot open camera 0"):
            Picamera2Source().start()
    finally:
        first.stop()


def test_picamera2_without_capture_timeouts_is_refused(
    fake: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        fake.Picamera2, "wait", lambda self, job: job.get_result()
    )  # before Dec 2023
    with pytest.raises(SourceError, match=r"picamera2:0: .*no capture timeouts.*apt full-upgrade"):
        Picamera2Source().start()
    assert fake.FAKE.opened == {}


def test_configure_failure_closes_the_camera(fake: ModuleType) -> None:
    fake.FAKE.configure_error = "Configuration failed"
    with pytest.raises(
        SourceError, match=r"picamera2:0: cannot configure camera 0: Configuration failed"
    ):
        Picamera2Source().start()
    assert fake.FAKE.opened == {}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"main_format": "YUV420"}, "main format 'YUV420'"),
        ({"fps": 0}, "fps > 0"),
        ({"timeout_s": 0}, "timeout_s > 0"),
        ({"camera_num": -1}, "camera_num >= 0"),
        ({"lores_size_wh": (1, 300)}, "lores size"),
    ],
)
def test_bad_options(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(SourceError, match=message):
        Picamera2Source(**kwargs)


@pytest.mark.parametrize(
    ("lores", "main", "expected"),
    [
        ((300, 300), (1280, 720), (300, 300)),
        ((225, 225), (1280, 720), (224, 224)),
        ((640, 640), (640, 480), (480, 480)),
        ((1920, 1080), (1280, 720), (1280, 720)),
    ],
)
def test_fit_lores(
    lores: tuple[int, int], main: tuple[int, int], expected: tuple[int, int]
) -> None:
    assert fit_lores(lores, main) == expected


def test_lores_larger_than_main_is_shrunk_not_rejected(fake: ModuleType) -> None:
    src = start_source(fake, "pi4", lores_size_wh=(640, 640))
    try:
        frame = src.read()
        assert frame is not None and frame.lores is not None and frame.lores.shape == (362, 362, 3)
    finally:
        src.stop()


@pytest.mark.parametrize(
    ("platform_name", "model", "expected"),
    [
        ("PISP", "", True),
        ("VC4", "Raspberry Pi 5 Model B Rev 1.0", False),  # picamera2's probe wins
        (None, "Raspberry Pi 5 Model B Rev 1.0\0", True),
        (None, "Raspberry Pi Compute Module 5 Rev 1.0\0", True),
        (None, "Raspberry Pi 500 Rev 1.0\0", True),
        (None, "Raspberry Pi 4 Model B Rev 1.5\0", False),
        (None, None, False),
    ],
)
def test_is_pisp(
    tmp_path: Path, platform_name: str | None, model: str | None, expected: bool
) -> None:
    cls = type(
        "Cam",
        (),
        {} if platform_name is None else {"platform": type("P", (), {"name": platform_name})},
    )
    path = tmp_path / "model"
    if model is not None:
        path.write_bytes(model.encode())
    assert is_pisp(cls, path) is expected


def test_fake_catches_the_yv12_mistake(fake: ModuleType) -> None:
    """The fake's YUV420 is I420: decoding it as COLOR_YUV420p2RGB (YV12) gives wrong colours."""
    import cv2

    fake.reset("pi4")
    cam = fake.Picamera2(0)
    config = cam.create_video_configuration(main={"size": (320, 240)}, lores={"size": (320, 240)})
    cam.configure(config)
    cam.start()
    with cam.captured_request(wait=2.0) as request:
        yuv = request.make_array("lores")
    cam.close()
    good = cv2.cvtColor(yuv, cv2.COLOR_YUV2RGB_I420)
    bad = cv2.cvtColor(yuv, cv2.COLOR_YUV420p2RGB)
    assert np.abs(good[:, :150].astype(int) - RED).max() <= YUV_TOLERANCE
    assert np.abs(bad[:, :150].astype(int) - RED).max() > 20
    assert np.array_equal(I420ToRGB((320, 240), 320)(yuv), good)
    assert fake.FAKE.outstanding() == []


def scene_bgr(
    size_wh: tuple[int, int], left_rgb: tuple[int, ...], right_rgb: tuple[int, ...]
) -> np.ndarray:
    """The whole expected main image, exactly: the fake's scene in BGR."""
    w, h = size_wh
    img = np.empty((h, w, 3), np.uint8)
    img[:, : w // 2] = left_rgb[::-1]
    img[:, w // 2 :] = right_rgb[::-1]
    return img


def assert_mapped_once_and_released(fake: ModuleType, write: bool = False) -> None:
    """Every request: main mapped exactly once (no make_array), unmapped, and released."""
    assert fake.FAKE.requests and fake.FAKE.outstanding() == []
    for request in fake.FAKE.requests:
        assert request.mappings == [("main", write)] and request.open_mappings == 0


@pytest.mark.parametrize("platform", ["pi4", "pi5"])
@pytest.mark.parametrize("main_format", ["RGB888", "BGR888", "XRGB8888", "XBGR8888"])
@pytest.mark.parametrize("size_wh", [MAIN_WH, (640, 480)], ids=["padded", "unpadded"])
def test_main_image_is_copied_from_the_mapped_buffer(
    fake: ModuleType, platform: str, main_format: str, size_wh: tuple[int, int]
) -> None:
    src = start_source(fake, platform, main_format=main_format, main_size_wh=size_wh)
    bpp = 4 if main_format.startswith("X") else 3
    assert (fake.FAKE.configs[-1]["main"]["stride"] > size_wh[0] * bpp) == (size_wh == MAIN_WH)
    fake.FAKE.make_array_error = RuntimeError("main must not go through make_array")
    try:
        for _ in range(3):
            frame = src.read()
            assert frame is not None and frame.image.flags.c_contiguous
            assert np.array_equal(frame.image, scene_bgr(size_wh, RED, BLUE))
    finally:
        src.stop()
    assert_mapped_once_and_released(fake)


@pytest.mark.parametrize("main_format", ["RGB888", "BGR888", "XRGB8888", "XBGR8888"])
def test_held_frames_keep_their_pixels_and_buffers_are_reused(
    fake: ModuleType, main_format: str
) -> None:
    src = start_source(fake, "pi4", main_format=main_format)

    def read_scene(i: int) -> tuple[Any, np.ndarray]:
        # A different scene per frame (the fake renders it when the buffer is mapped),
        # with R != B on both sides so a channel swap shows.
        left, right = (10 + 9 * i, 100 + i, 250 - 9 * i), (240 - 7 * i, 20 + 3 * i, 5 + 7 * i)
        fake.FAKE.scene_left_rgb, fake.FAKE.scene_right_rgb = left, right
        frame = src.read()
        assert frame is not None
        return frame, scene_bgr(MAIN_WH, left, right)

    try:
        held = [read_scene(i) for i in range(5)]
        for i in range(5, 15):
            frame, expected = read_scene(i)
            assert np.array_equal(frame.image, expected)
        for frame, expected in held:
            assert np.array_equal(frame.image, expected)
        images = [frame.image for frame, _ in held]
        assert all(
            not np.shares_memory(a, b) for j, a in enumerate(images) for b in images[j + 1 :]
        )
        del frame, held, images
        assert src.images is not None
        warm = src.images.pool.allocations
        assert warm <= 5 + 2  # the 5 held, and the last frame plus the one being read
        for i in range(15, 25):
            frame, expected = read_scene(i)
            assert np.array_equal(frame.image, expected)
        assert src.images.pool.allocations == warm  # released buffers were reused
    finally:
        src.stop()
    assert_mapped_once_and_released(fake)


def test_picamera2_without_mapped_array_write_keyword(
    fake: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    """picamera2 before its DMA heap allocator: no ``write=``, and ``__exit__`` closes the
    mmap (as the base ``Sync`` still does), which raises BufferError if a view of it is still
    alive, so nothing may keep one past the ``with`` block."""
    import mmap

    rejected: list[dict[str, Any]] = []
    mapped_array = fake.MappedArray

    class OldMappedArray:
        def __init__(self, request: Any, stream: str, reshape: bool = True) -> None:
            self._inner = mapped_array(request, stream, reshape)

        def __enter__(self) -> OldMappedArray:
            view = self._inner.__enter__().array
            self._mm = mmap.mmap(-1, view.nbytes)
            self._array = np.frombuffer(self._mm, np.uint8).reshape(view.shape)
            self._array[:] = view
            return self

        def __exit__(self, *exc: Any) -> None:
            del self._array
            self._inner.__exit__(*exc)
            self._mm.close()

        @property
        def array(self) -> np.ndarray:
            return self._array

    def old_mapped_array(request: Any, stream: str, reshape: bool = True, **kwargs: Any) -> Any:
        if kwargs:
            rejected.append(kwargs)
            raise TypeError(f"MappedArray.__init__() got an unexpected keyword argument {kwargs}")
        return OldMappedArray(request, stream, reshape)

    monkeypatch.setattr(fake, "MappedArray", old_mapped_array)
    src = start_source(fake, "pi5", main_format="XBGR8888")
    try:
        for _ in range(3):
            frame = src.read()
            assert frame is not None and np.array_equal(frame.image, scene_bgr(MAIN_WH, RED, BLUE))
    finally:
        src.stop()
    assert rejected == [{"write": False}]  # tried once, then remembered
    assert_mapped_once_and_released(fake, write=True)


def test_mapping_failure_is_a_source_error_and_releases(
    fake: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail(self: Any) -> None:
        raise RuntimeError("failed to find buffer in DmaSync")

    src = start_source(fake, "pi4")
    with monkeypatch.context() as m:
        m.setattr(fake.MappedArray, "__enter__", fail)
        with pytest.raises(
            SourceError, match=r"^picamera2:0: cannot read the frame's buffers: failed to find"
        ):
            src.read()
    assert fake.FAKE.requests and fake.FAKE.outstanding() == []
    assert src.read() is not None
    src.stop()
    assert fake.FAKE.outstanding() == []


def test_main_shape_mismatch_is_a_one_line_source_error(fake: ModuleType) -> None:
    src = start_source(fake, "pi4", main_format="XRGB8888")
    assert src.images is not None
    src.images.main_size_wh = (640, 360)  # not what the camera sends
    try:
        with pytest.raises(
            SourceError,
            match=r"^picamera2:0: main image has shape \(362, 646, 4\), expected \(360, 640, 4\)$",
        ):
            src.read()
    finally:
        src.stop()
    assert fake.FAKE.outstanding() == [] and fake.FAKE.requests[0].open_mappings == 0


def test_conversion_that_does_not_write_into_the_buffer_is_an_error(
    fake: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    import cv2

    real = cv2.cvtColor
    monkeypatch.setattr(cv2, "cvtColor", lambda src, code, dst=None: real(src, code))
    src = start_source(fake, "pi4", main_format="BGR888")
    try:
        with pytest.raises(SourceError, match=r"^picamera2:0: main image of shape \(362, 646, 3\)"):
            src.read()
    finally:
        src.stop()
    assert fake.FAKE.outstanding() == []


def test_fake_mapped_array_mirrors_picamera2(fake: ModuleType) -> None:
    """Shapes, views and lifetime of picamera2.request.MappedArray, in the fake."""
    fake.reset("pi4")
    cam = fake.Picamera2(0)
    config = cam.create_video_configuration(
        main={"size": MAIN_WH, "format": "XRGB8888"}, lores={"size": (320, 240)}
    )
    cam.configure(config)
    cam.start()
    w, h = MAIN_WH
    stride = config["main"]["stride"]
    assert stride > w * 4
    with cam.captured_request(wait=2.0) as request:
        with fake.MappedArray(request, "main", write=False) as m:
            view = m.array
            assert view.shape == (h, w, 4) and view.strides == (stride, 4, 1)
            assert not view.flags.c_contiguous and not view.flags.writeable
            assert np.array_equal(view, request.make_array("main"))
            assert tuple(view[0, 0]) == (*RED[::-1], 255)
        with pytest.raises(AttributeError):
            m.array  # noqa: B018 - deleted on exit, as in picamera2
        assert not np.array_equal(view, request.make_array("main"))  # a kept view: garbage
        with fake.MappedArray(request, "main") as m:
            assert m.array.flags.writeable
        with fake.MappedArray(request, "main", reshape=False) as m:
            assert m.array.shape == (h * stride,)
        with fake.MappedArray(request, "lores") as m:
            assert m.array.shape == (240 * 3 // 2, config["lores"]["stride"])
        assert request.mappings == [
            ("main", False),
            ("main", True),
            ("main", True),
            ("lores", True),
        ]
        assert request.open_mappings == 0
    with pytest.raises(RuntimeError, match="after release"):
        fake.MappedArray(request, "main")
    cam.close()
    assert fake.FAKE.outstanding() == []
