"""The desktop preview window on a real X server (Xvfb), driven with xdotool.

Screenshots are read straight from the X server (``xwd``) and saved to
``test-artifacts/``. Waits are polls of a condition against a deadline.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from camera_app.errors import SinkError
from camera_app.events import SourceEvent
from camera_app.inference.model import Model, load_model
from camera_app.pipeline import Pipeline, PipelineOptions
from camera_app.results import FrameResult
from camera_app.sinks.overlay import Annotator, color_of, draw_result
from camera_app.sinks.window import PpmBuffer, WindowPreviewSink, fit_size_wh
from camera_app.sources import SourceOptions, open_source

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
VIDEO = "face-demographics-walking.gif"  # 480x270, a person in 28 of 35 frames
VIDEO_WH = (480, 270)
DEADLINE_S = 20.0
XVFB_ARGS = ("-screen", "0", "1280x800x24", "-nolisten", "tcp", "-terminate")


def wait_for(condition: Callable[[], object], what: str, timeout_s: float = DEADLINE_S) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(0.02)


# -- a real X server ------------------------------------------------------
def xlib() -> ctypes.CDLL:
    lib = ctypes.CDLL(ctypes.util.find_library("X11"))
    lib.XOpenDisplay.restype = ctypes.c_void_p
    lib.XOpenDisplay.argtypes = [ctypes.c_char_p]
    lib.XInternAtom.restype = ctypes.c_ulong
    lib.XInternAtom.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
    lib.XSendEvent.argtypes = [
        ctypes.c_void_p,
        ctypes.c_ulong,
        ctypes.c_int,
        ctypes.c_long,
        ctypes.c_void_p,
    ]
    lib.XFlush.argtypes = lib.XCloseDisplay.argtypes = [ctypes.c_void_p]
    return lib


class Xvfb:
    """An Xvfb on a free display number, ready once a client could connect.

    It runs with ``-terminate`` and this object holds a connection to it, so
    the server also goes away if the test process dies without cleaning up.
    """

    def __init__(self) -> None:
        if shutil.which("Xvfb") is None:
            pytest.skip("Xvfb is not installed (apt install xvfb xdotool x11-apps)")
        for tool in ("xdotool", "xwd"):
            if shutil.which(tool) is None:
                pytest.skip(f"{tool} is not installed (apt install xdotool x11-apps)")
        self._xlib = xlib()
        for num in range(90 + os.getpid() % 50, 400):
            if Path(f"/tmp/.X11-unix/X{num}").exists() or Path(f"/tmp/.X{num}-lock").exists():
                continue
            self.display = f":{num}"
            self.proc = subprocess.Popen(
                ["Xvfb", self.display, *XVFB_ARGS],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            socket = Path(f"/tmp/.X11-unix/X{num}")
            deadline = time.monotonic() + 10
            self._keepalive = None
            while self.proc.poll() is None:
                if socket.exists():
                    self._keepalive = self._xlib.XOpenDisplay(self.display.encode())
                    if self._keepalive:
                        return
                if time.monotonic() > deadline:
                    self.stop()
                    raise AssertionError(f"Xvfb {self.display} did not start in 10 s")
                time.sleep(0.02)
        raise AssertionError("no free X display number")

    def env(self) -> dict[str, str]:
        return {**os.environ, "DISPLAY": self.display}

    def run(self, *args: str) -> str:
        return subprocess.run(
            args, env=self.env(), check=True, capture_output=True, text=True, timeout=10
        ).stdout

    def window_id(self, title: str) -> int:
        return int(self.run("xdotool", "search", "--sync", "--name", f"^{title}$").split()[0])

    def geometry_xywh(self, wid: int) -> tuple[int, int, int, int]:
        shell = dict(
            line.split("=")
            for line in self.run("xdotool", "getwindowgeometry", "--shell", str(wid)).split()
        )
        return int(shell["X"]), int(shell["Y"]), int(shell["WIDTH"]), int(shell["HEIGHT"])

    def screenshot_bgr(self) -> np.ndarray:
        return parse_xwd(
            subprocess.run(
                ["xwd", "-root", "-silent"], env=self.env(), check=True, capture_output=True
            ).stdout
        )

    def send_wm_delete(self, wid: int) -> None:
        """What a window manager sends when the close button is clicked."""
        send_wm_delete_window(self.display, wid)

    def stop(self) -> None:
        if self.proc.poll() is None:
            if self._keepalive:  # (not once the server is gone: Xlib would exit)
                self._xlib.XCloseDisplay(self._keepalive)
            self.proc.terminate()
            self.proc.wait(10)


def parse_xwd(data: bytes) -> np.ndarray:
    """A ZPixmap TrueColor XWD dump (as ``xwd`` writes it) as a BGR image."""
    header = np.frombuffer(data[:100], ">u4")
    header_size, _, pixmap_format, _, width, height = (int(v) for v in header[:6])
    byte_order, bits_per_pixel, bytes_per_line = int(header[7]), int(header[11]), int(header[12])
    masks = [int(m) for m in header[14:17]]
    ncolors = int(header[19])
    assert pixmap_format == 2 and bits_per_pixel == 32, "expected a 32-bit ZPixmap"
    start = header_size + ncolors * 12
    rows = np.frombuffer(data[start : start + bytes_per_line * height], np.uint8)
    pixels = (
        rows.reshape(height, bytes_per_line)[:, : width * 4]
        .copy()
        .view("<u4" if byte_order == 0 else ">u4")
    )
    channels = [(pixels & m) >> (int(m) & -int(m)).bit_length() - 1 for m in masks]  # r, g, b
    return np.dstack([channels[2], channels[1], channels[0]]).astype(np.uint8)


class _XClientMessageEvent(ctypes.Structure):
    _fields_ = [
        ("type", ctypes.c_int),
        ("serial", ctypes.c_ulong),
        ("send_event", ctypes.c_int),
        ("display", ctypes.c_void_p),
        ("window", ctypes.c_ulong),
        ("message_type", ctypes.c_ulong),
        ("format", ctypes.c_int),
        ("data", ctypes.c_long * 5),
        ("pad", ctypes.c_long * 24),  # XEvent is a union of 24 longs
    ]


def send_wm_delete_window(display: str, wid: int) -> None:
    lib = xlib()
    dpy = lib.XOpenDisplay(display.encode())
    assert dpy, f"cannot open {display}"
    event = _XClientMessageEvent(type=33, window=wid, format=32)  # 33: ClientMessage
    event.message_type = lib.XInternAtom(dpy, b"WM_PROTOCOLS", 0)
    event.data[0] = lib.XInternAtom(dpy, b"WM_DELETE_WINDOW", 0)
    assert lib.XSendEvent(dpy, wid, 0, 0, ctypes.byref(event))
    lib.XFlush(dpy)
    lib.XCloseDisplay(dpy)


@pytest.fixture(scope="module")
def xvfb() -> Iterator[Xvfb]:
    server = Xvfb()
    yield server
    server.stop()


@pytest.fixture
def display(xvfb: Xvfb, monkeypatch: pytest.MonkeyPatch) -> Xvfb:
    monkeypatch.setenv("DISPLAY", xvfb.display)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    return xvfb


# -- a real pipeline ------------------------------------------------------
@pytest.fixture(scope="module")
def ssd(fixtures_dir: Path) -> Iterator[Model]:
    models = fixtures_dir / "models"
    with load_model(
        str(models / "ssd_mobilenet_v1_coco_quant.tflite"), labels=str(models / "coco_labels.txt")
    ) as model:
        yield model


class Run:
    """``Pipeline.run()`` on a thread, with its outcome."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self.error: BaseException | None = None
        self.ended_s: float | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            self.pipeline.run()
        except BaseException as e:
            self.error = e
        finally:
            self.ended_s = time.monotonic()

    def wait_ended(self, timeout_s: float = 10.0) -> float:
        """Seconds from now until run() returned; re-raises its error."""
        t0 = time.monotonic()
        self.thread.join(timeout_s)
        assert not self.thread.is_alive(), f"run() still running after {timeout_s} s"
        if self.error is not None:
            raise self.error
        assert self.ended_s is not None
        return max(0.0, self.ended_s - t0)


def start_preview(videos_dir: Path, model: Model, sink: WindowPreviewSink) -> tuple[Run, Pipeline]:
    source = open_source(str(videos_dir / VIDEO), SourceOptions(loop=True))
    pipeline = Pipeline(source, model, [sink], PipelineOptions(duration_s=60))
    run = Run(pipeline)
    wait_for(lambda: sink.frames_shown >= 3 or run.ended_s, "the first frames on screen")
    assert run.ended_s is None, f"run ended early: {run.error!r}"
    return run, pipeline


# -- without an X server ----------------------------------------------------
@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, "needs a desktop session: DISPLAY/WAYLAND_DISPLAY is not set"),
        ({"WAYLAND_DISPLAY": "wayland-0"}, "DISPLAY is not set"),
        ({"DISPLAY": ""}, "needs a desktop session"),
    ],
)
def test_no_display_is_a_one_line_error(
    env: dict[str, str], expected: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(SinkError, match=expected) as info:
        WindowPreviewSink()
    assert "\n" not in str(info.value) and "--preview web" in str(info.value)


def test_missing_tkinter_names_the_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISPLAY", ":0")
    monkeypatch.setitem(sys.modules, "tkinter", None)  # makes `import tkinter` fail
    with pytest.raises(SinkError, match=r"^tkinter is missing: sudo apt install python3-tk$"):
        WindowPreviewSink()


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [({"max_fps": 0}, "max fps must be > 0"), ({"size_wh": (0, 10)}, "must be positive")],
)
def test_bad_options(kwargs: dict, expected: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISPLAY", ":0")
    with pytest.raises(SinkError, match=expected):
        WindowPreviewSink(**kwargs)


def test_unreachable_display_fails_the_run_with_one_line(
    monkeypatch: pytest.MonkeyPatch, videos_dir: Path, ssd: Model
) -> None:
    monkeypatch.setenv("DISPLAY", ":399")  # no server there
    source = open_source(str(videos_dir / VIDEO), SourceOptions(loop=True))
    pipeline = Pipeline(source, ssd, [WindowPreviewSink()], PipelineOptions(duration_s=30))
    with pytest.raises(SinkError, match=r"cannot open a window on DISPLAY=:399") as info:
        pipeline.run()
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("image_wh", "area_wh", "expected_wh"),
    [
        ((480, 270), (480, 270), (480, 270)),
        ((480, 270), (400, 400), (400, 225)),
        ((480, 270), (1000, 270), (480, 270)),
        ((1280, 720), (640, 480), (640, 360)),
        ((640, 480), (1280, 800), (1066, 800)),
        ((100, 1), (10, 10), (10, 1)),
    ],
)
def test_fit_size_keeps_aspect(
    image_wh: tuple[int, int], area_wh: tuple[int, int], expected_wh: tuple[int, int]
) -> None:
    assert fit_size_wh(image_wh, area_wh) == expected_wh


@pytest.mark.parametrize("size_wh", [(64, 48), (32, 24), (128, 96)])
def test_ppm_buffer_holds_the_scaled_rgb_image(size_wh: tuple[int, int]) -> None:
    bgr = np.zeros((48, 64, 3), np.uint8)
    bgr[:, :32] = (255, 0, 0)  # blue left half
    bgr[:, 32:] = (0, 0, 255)  # red right half
    buffer = PpmBuffer(size_wh)
    buffer.fill(bgr)
    decoded = cv2.imdecode(np.frombuffer(buffer.tobytes(), np.uint8), cv2.IMREAD_COLOR)
    assert decoded is not None and decoded.shape == (size_wh[1], size_wh[0], 3)
    np.testing.assert_array_equal(
        decoded,
        cv2.resize(
            bgr, size_wh, interpolation=cv2.INTER_AREA if size_wh[0] < 64 else cv2.INTER_LINEAR
        ),
    )
    assert tuple(decoded[0, 0]) == (255, 0, 0) and tuple(decoded[-1, -1]) == (0, 0, 255)


# -- on a real X server ------------------------------------------------------
def displayed_crop(xvfb: Xvfb, wid: int, sink: WindowPreviewSink) -> tuple[np.ndarray, np.ndarray]:
    """The screenshot and the part of it where the sink drew the frame."""
    x, y, w, h = xvfb.geometry_xywh(wid)
    assert sink.display_size_wh is not None
    dw, dh = sink.display_size_wh
    x0, y0 = x + (w - dw) // 2, y + (h - dh) // 2  # Tk's label centres its image
    screen = xvfb.screenshot_bgr()
    return screen, screen[y0 : y0 + dh, x0 : x0 + dw]


def box_colour_share(crop: np.ndarray, result: FrameResult, index: int) -> float:
    """How much of detection ``index``'s outline shows its class colour."""
    h, w = crop.shape[:2]
    x1, y1, x2, y2 = (round(float(v)) for v in result.detections.xyxy[index])
    x1, x2 = max(0, min(x1, w - 1)), max(0, min(x2, w - 1))
    y1, y2 = max(0, min(y1, h - 1)), max(0, min(y2, h - 1))
    colour = np.array(color_of(int(result.detections.class_id[index])), np.int16)
    hits = np.all(np.abs(crop.astype(np.int16) - colour) <= 2, axis=2)
    near = cv2.dilate(hits.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    outline = [near[y1, x] for x in range(x1, x2 + 1)] + [near[y2, x] for x in range(x1, x2 + 1)]
    outline += [near[y, x1] for y in range(y1, y2 + 1)] + [near[y, x2] for y in range(y1, y2 + 1)]
    return float(np.mean(outline))


def key(xvfb: Xvfb, wid: int, name: str) -> None:
    """A real key press (XTEST) into the window, focused first as a click would."""
    xvfb.run("xdotool", "windowfocus", "--sync", str(wid), "key", name)


def test_window_shows_the_annotated_frame_and_pauses(
    display: Xvfb, videos_dir: Path, ssd: Model
) -> None:
    title = "camera-app-screenshot"
    sink = WindowPreviewSink(title=title, annotator=Annotator(), size_wh=VIDEO_WH)
    run, pipeline = start_preview(videos_dir, ssd, sink)
    wid = display.window_id(title)
    for _ in range(10):  # pause on a frame with a detection (28 of 35 frames have one)
        key(display, wid, "space")
        wait_for(lambda: sink.paused, "the display to pause")
        assert sink.shown_result is not None
        if len(sink.shown_result.detections):
            break
        shown = sink.frames_shown
        key(display, wid, "space")

        def resumed(n: int = shown) -> bool:
            return not sink.paused and sink.frames_shown > n

        wait_for(resumed, "the display to resume")
    result = sink.shown_result
    assert result is not None and len(result.detections) > 0
    assert sink.display_size_wh == VIDEO_WH  # drawn at 1:1, pixels compare exactly

    def paused_tag_on_screen() -> bool:
        crop = displayed_crop(display, wid, sink)[1]
        return bool(np.count_nonzero(np.all(crop[:30, -120:] == 0, axis=2)) > 1000)

    wait_for(paused_tag_on_screen, "PAUSED on the screen")
    screen, crop = displayed_crop(display, wid, sink)
    ARTIFACTS.mkdir(exist_ok=True)
    cv2.imwrite(str(ARTIFACTS / "window_preview.png"), screen)

    expected = draw_result(result.frame.image.copy(), result)  # the HUD aside
    same = np.all(np.abs(crop.astype(np.int16) - expected) <= 2, axis=2)
    assert same[40:-40].mean() > 0.97, "the window does not show the shown result's frame"
    for i in range(len(result.detections)):
        assert box_colour_share(crop, result, i) > 0.6, f"box {i} not drawn in its colour"
        assert box_colour_share(result.frame.image, result, i) < 0.3, "the check is vacuous"

    shown, processed = sink.frames_shown, pipeline.stats.processed
    wait_for(lambda: pipeline.stats.processed >= processed + 10, "inference to go on")
    assert sink.frames_shown == shown, "the display changed while paused"
    key(display, wid, "space")
    wait_for(lambda: sink.frames_shown > shown, "the display to resume")
    key(display, wid, "q")
    assert run.wait_ended() < 4.0
    assert sink.quit_requested


@pytest.mark.parametrize(
    "how",
    ["key q", "key Escape", "close button", "window destroyed"],
)
def test_closing_the_window_stops_the_run(
    how: str, display: Xvfb, videos_dir: Path, ssd: Model
) -> None:
    title = f"camera-app-close-{how.replace(' ', '-')}"
    sink = WindowPreviewSink(title=title)
    run, pipeline = start_preview(videos_dir, ssd, sink)
    wid = display.window_id(title)
    if how.startswith("key "):
        key(display, wid, how.removeprefix("key "))
    elif how == "close button":
        display.send_wm_delete(wid)
    else:
        display.run("xdotool", "windowclose", str(wid))
    assert run.wait_ended() < 4.0
    assert sink.quit_requested and pipeline.stopping


def test_resizing_scales_the_frame_keeping_its_aspect(
    display: Xvfb, videos_dir: Path, ssd: Model
) -> None:
    title = "camera-app-resize"
    sink = WindowPreviewSink(title=title)
    run, _ = start_preview(videos_dir, ssd, sink)
    assert sink.display_size_wh == VIDEO_WH  # opened at the frame's size
    wid = display.window_id(title)
    for area_wh, expected_wh in [((400, 400), (400, 225)), ((960, 600), (960, 540))]:
        display.run("xdotool", "windowsize", str(wid), *map(str, area_wh))

        def drawn_at(size_wh: tuple[int, int] = expected_wh) -> bool:
            return sink.display_size_wh == size_wh

        wait_for(drawn_at, f"a frame drawn at {expected_wh}")
        crop = displayed_crop(display, wid, sink)[1]
        assert crop.shape[:2] == expected_wh[::-1] and crop.std() > 10  # a picture, not blank
    key(display, wid, "q")
    run.wait_ended()


def test_camera_down_is_shown_on_the_frame(display: Xvfb, videos_dir: Path, ssd: Model) -> None:
    title = "camera-app-down"
    sink = WindowPreviewSink(title=title)
    run, pipeline = start_preview(videos_dir, ssd, sink)
    wid = display.window_id(title)

    def banner_on_screen() -> bool:
        corner = displayed_crop(display, wid, sink)[1][:30, :200].astype(np.int16)
        red_text = (corner[..., 2] > 200) & (corner[..., 1] < 130) & (corner[..., 0] < 130)
        return bool(np.count_nonzero(red_text) > 30)

    assert not banner_on_screen()
    pipeline.emit(SourceEvent("source_down", "no frame for 2 s"))
    wait_for(banner_on_screen, "the camera-down banner")
    pipeline.emit(SourceEvent("source_up"))
    wait_for(lambda: not banner_on_screen(), "the banner to go")
    key(display, wid, "q")
    run.wait_ended()


SUBPROCESS = textwrap.dedent(
    """
    import logging, sys
    from camera_app.inference.model import load_model
    from camera_app.pipeline import Pipeline, PipelineOptions
    from camera_app.sinks.overlay import Annotator
    from camera_app.sinks.record import RecordSink
    from camera_app.sinks.window import WindowPreviewSink
    from camera_app.sources import SourceOptions, open_source

    logging.basicConfig(level=logging.WARNING)
    fixtures, video, out = sys.argv[1:]
    model = load_model(f"{fixtures}/models/ssd_mobilenet_v1_coco_quant.tflite")
    annotator = Annotator()
    window = WindowPreviewSink(title="camera-app-process", annotator=annotator)
    sinks = [window, RecordSink(out, annotator=annotator)]
    source = open_source(f"{fixtures}/videos/{video}", SourceOptions(loop=True))
    pipeline = Pipeline(source, model, sinks, PipelineOptions(duration_s=60))
    said = False

    def tick():
        global said
        if not said and window.frames_shown >= 3:
            said = True
            print("shown", flush=True)

    stats = pipeline.run(tick)
    print("ended", stats.processed, flush=True)
    """
)


@pytest.mark.parametrize("how", ["quit key", "X server killed"])
def test_the_process_ends_cleanly(
    how: str, fixtures_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Also when the X server dies under the window: Xlib's default is exit(1)."""
    xvfb = Xvfb()  # its own server: this test may kill it
    try:
        out = tmp_path / "run.avi"
        proc = subprocess.Popen(
            [sys.executable, "-c", SUBPROCESS, str(fixtures_dir), VIDEO, str(out)],
            env=xvfb.env(),
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert proc.stdout is not None
            first = proc.stdout.readline()  # the script prints once the window shows frames
            assert first.strip() == "shown", proc.communicate(timeout=10)
            if how == "quit key":
                key(xvfb, xvfb.window_id("camera-app-process"), "q")
            else:
                xvfb.proc.send_signal(signal.SIGKILL)
            stdout, stderr = proc.communicate(timeout=20)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        assert proc.returncode == 0, stderr
        assert stdout.startswith("ended"), stdout
        assert "Traceback" not in stderr and "Tcl_AsyncDelete" not in stderr, stderr
        if how == "X server killed":
            assert "the X server went away" in stderr
        video = cv2.VideoCapture(str(out))
        assert video.get(cv2.CAP_PROP_FRAME_COUNT) >= 3, "the recording was not finished"
    finally:
        xvfb.stop()
