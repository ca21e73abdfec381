"""A preview window on the desktop (X11, or XWayland under Wayland), drawn with Tk.

``opencv-python-headless`` has no windows and picamera2's OpenGL preview fails
over VNC, so this is plain Tkinter (``python3-tk``). Frames go in as binary
PPM, which Tk 8.6 reads natively (no Pillow), scaled to the window (aspect
kept) and converted to RGB in one preallocated buffer. Tk is single-threaded:
the root is made on the sink's thread and every Tk call, ``close`` included,
happens there.

Xlib's default answer to an X error or a lost X server is ``exit(1)`` of the
whole process (recordings left unfinished). X errors are ignored instead, and
a lost server asks the pipeline to stop and parks the window's thread for
good (Tk cannot be used again and must not return into Xlib), so the other
sinks still close cleanly.
"""

from __future__ import annotations

import gc
import logging
import os
import time
from collections.abc import Mapping
from types import ModuleType
from typing import Any

import cv2
import numpy as np

from camera_app.errors import SinkError
from camera_app.events import Event, SourceEvent
from camera_app.results import FrameResult
from camera_app.sinks.overlay import AnnotatingSink, Annotator
from camera_app.sinks.x11 import unwatch_x_connection, watch_x_connection

log = logging.getLogger(__name__)

DEFAULT_MAX_FPS = 30.0
WAITING_SIZE_WH = (640, 360)
SCREEN_FRACTION = 0.9
"""A window opened at the frame's size is shrunk to fit this much of the screen."""


def check_desktop(env: Mapping[str, str] = os.environ) -> None:
    """Raise a one-line ``SinkError`` when no X display can be reached."""
    if env.get("DISPLAY"):
        return
    if env.get("WAYLAND_DISPLAY"):
        raise SinkError(
            "--preview window draws through X11 (XWayland) but DISPLAY is not set; "
            "run it from the desktop session, or use --preview web"
        )
    raise SinkError(
        "--preview window needs a desktop session: DISPLAY/WAYLAND_DISPLAY is not set "
        "(use --preview web on a headless Pi)"
    )


def import_tkinter() -> ModuleType:
    try:
        import tkinter
    except ImportError as e:
        raise SinkError("tkinter is missing: sudo apt install python3-tk") from e
    return tkinter


# -- drawing --------------------------------------------------------------
class PpmBuffer:
    """A binary PPM (P6) image in one preallocated buffer; ``rgb`` views its pixels."""

    def __init__(self, size_wh: tuple[int, int]) -> None:
        w, h = size_wh
        header = f"P6 {w} {h} 255\n".encode("ascii")
        self.size_wh = size_wh
        self.raw = bytearray(len(header) + w * h * 3)
        self.raw[: len(header)] = header
        self.rgb = np.frombuffer(self.raw, np.uint8, offset=len(header)).reshape(h, w, 3)

    def fill(self, image_bgr: np.ndarray) -> np.ndarray:
        """Scale ``image_bgr`` to this size and store it as RGB; returns ``rgb``."""
        h, w = image_bgr.shape[:2]
        if (w, h) != self.size_wh:
            shrink = self.size_wh[0] < w
            how = cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
            image_bgr = cv2.resize(image_bgr, self.size_wh, interpolation=how)
        cv2.cvtColor(image_bgr, cv2.COLOR_BGR2RGB, dst=self.rgb)
        return self.rgb

    def tobytes(self) -> bytes:
        return bytes(self.raw)


def fit_size_wh(image_wh: tuple[int, int], area_wh: tuple[int, int]) -> tuple[int, int]:
    """The largest size with the image's aspect ratio that fits in ``area_wh``."""
    scale = min(area_wh[0] / image_wh[0], area_wh[1] / image_wh[1])
    return max(1, int(image_wh[0] * scale + 1e-6)), max(1, int(image_wh[1] * scale + 1e-6))


def draw_tag(rgb: np.ndarray, text: str, top_right: bool, color_rgb: tuple[int, int, int]) -> None:
    """A label on a dark box at the top-left or top-right corner of ``rgb``."""
    h, w = rgb.shape[:2]
    scale = max(0.5, min(w, h) / 600)
    thick = max(1, round(scale * 2))
    (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)
    x = max(0, w - tw - 12) if top_right else 0
    cv2.rectangle(rgb, (x, 0), (x + tw + 12, th + base + 12), (0, 0, 0), cv2.FILLED)
    cv2.putText(
        rgb, text, (x + 6, th + 6), cv2.FONT_HERSHEY_SIMPLEX, scale, color_rgb, thick, cv2.LINE_AA
    )


class WindowPreviewSink(AnnotatingSink):
    """The annotated stream in a resizable desktop window.

    Keys: ``q``/Escape quit (the run stops), space pauses the display, ``f``
    toggles fullscreen. Closing the window stops the run too.
    """

    name = "window"
    lossless = False

    def __init__(
        self,
        title: str = "camera-app",
        annotator: Annotator | None = None,
        max_fps: float | None = None,
        size_wh: tuple[int, int] | None = None,
    ) -> None:
        check_desktop()
        self._tk = import_tkinter()
        if max_fps is not None and not max_fps > 0:
            raise SinkError(f"--preview window: max fps must be > 0, got {max_fps}")
        if size_wh is not None and min(size_wh) < 1:
            raise SinkError(f"--preview window: window size must be positive, got {size_wh}")
        self.title = title
        self.annotator = annotator or Annotator()
        self.min_interval_s = 1.0 / (max_fps or DEFAULT_MAX_FPS)
        self.size_wh = size_wh
        self.frames_shown = 0
        self.paused = False
        self.fullscreen = False
        self.quit_requested = False
        self.shown_result: FrameResult | None = None
        """The result whose frame is on screen."""
        self.display_size_wh: tuple[int, int] | None = None
        """The size the frame is drawn at inside the window."""
        self._root: Any = None
        self._label: Any = None
        self._photo: Any = None
        self._buffer: PpmBuffer | None = None
        self._image: np.ndarray | None = None
        self._new_image = False
        self._dirty = False
        self._area_wh = size_wh or WAITING_SIZE_WH
        self._sized = size_wh is not None
        self._last_draw_s = -float("inf")
        self._banner: str | None = None
        self._broken = False

    # -- sink protocol (all on the sink's thread) -------------------------
    def handle(self, result: FrameResult) -> None:
        if self._broken:
            return
        now = time.monotonic()
        if not self.paused and now - self._last_draw_s >= self.min_interval_s:
            self._image = self.annotator.annotate(result)
            self.shown_result = result
            self._new_image = self._dirty = True
            self._last_draw_s = now
        self._pump()

    def idle(self) -> None:
        if not self._broken:
            self._pump()

    def on_event(self, event: Event) -> None:
        if not isinstance(event, SourceEvent):
            return
        if event.kind == "source_down":
            self._banner = f"camera down: {event.message}" if event.message else "camera down"
        elif event.kind == "source_up":
            self._banner = None
        self._dirty = True

    def close(self) -> None:
        root, self._root = self._root, None
        if root is None:
            return
        self._photo = self._label = None
        try:
            root.destroy()
        except self._tk.TclError:
            pass
        del root
        gc.collect()  # the Tcl interpreter must be deleted on the thread that made it
        unwatch_x_connection()
        log.info("preview window closed after %d frames", self.frames_shown)

    # -- Tk ---------------------------------------------------------------
    def _pump(self) -> None:
        try:
            root = self._ensure_root()
            if self._dirty:
                self._draw()
            root.update()
            if self._dirty and not self._broken:  # a key or a resize
                self._draw()
                root.update_idletasks()
        except self._tk.TclError as e:
            self._lost(f"the window failed: {e}")

    def _ensure_root(self) -> Any:
        if self._root is not None:
            return self._root
        tk = self._tk
        watch_x_connection(lambda: self._lost("the X server went away"))
        try:
            root = tk.Tk(className="camera-app")
        except tk.TclError as e:
            unwatch_x_connection()
            raise SinkError(
                f"--preview window: cannot open a window on DISPLAY={os.environ.get('DISPLAY')}: "
                f"{e} (check the desktop session and XAUTHORITY, or use --preview web)"
            ) from e
        root.report_callback_exception = lambda *exc: log.error(
            "preview window: a key or window handler failed", exc_info=exc
        )
        root.title(self.title)
        root.configure(background="black")
        root.geometry("{}x{}".format(*self._area_wh))
        root.protocol("WM_DELETE_WINDOW", lambda: self._stop("window closed"))
        root.bind("<KeyPress>", self._on_key)
        root.bind("<Destroy>", lambda e: self._on_destroy(e, root))
        label = tk.Label(root, text="waiting for frames...", fg="white", bg="black", bd=0)
        label.configure(highlightthickness=0)
        label.pack(fill="both", expand=True)
        label.bind("<Configure>", self._on_resize)
        self._root, self._label = root, label
        log.info("preview window open on DISPLAY=%s", os.environ.get("DISPLAY"))
        return root

    def _draw(self) -> None:
        self._dirty = False
        image = self._image
        if image is None:
            return
        h, w = image.shape[:2]
        if not self._sized:  # first frame: open at its size, shrunk to fit the screen
            self._sized = True
            screen_wh = (self._root.winfo_screenwidth(), self._root.winfo_screenheight())
            limit_wh = (int(screen_wh[0] * SCREEN_FRACTION), int(screen_wh[1] * SCREEN_FRACTION))
            self._area_wh = (
                fit_size_wh((w, h), limit_wh) if w > limit_wh[0] or h > limit_wh[1] else (w, h)
            )
            self._root.geometry("{}x{}".format(*self._area_wh))
        size_wh = fit_size_wh((w, h), self._area_wh)
        if self._buffer is None or self._buffer.size_wh != size_wh:
            self._buffer = PpmBuffer(size_wh)
        rgb = self._buffer.fill(image)
        if self._banner:
            draw_tag(rgb, self._banner, top_right=False, color_rgb=(255, 80, 80))
        if self.paused:
            draw_tag(rgb, "PAUSED", top_right=True, color_rgb=(255, 255, 255))
        data = self._buffer.tobytes()
        if self._photo is not None and self.display_size_wh == size_wh:
            self._photo.configure(data=data, format="PPM")
        else:
            self._photo = self._tk.PhotoImage(master=self._root, data=data, format="PPM")
            self._label.configure(image=self._photo)
        self.display_size_wh = size_wh
        if self._new_image:
            self._new_image = False
            self.frames_shown += 1

    def _on_key(self, event: Any) -> None:
        key = str(event.keysym).lower()
        if key in ("q", "escape"):
            self._stop(f"key {event.keysym}")
        elif key == "space":
            self.paused = not self.paused
            self._dirty = True
            log.info("preview %s", "paused" if self.paused else "resumed")
        elif key == "f":
            self.fullscreen = not self.fullscreen
            self._root.attributes("-fullscreen", self.fullscreen)

    def _on_resize(self, event: Any) -> None:
        area_wh = (int(event.width), int(event.height))
        if area_wh != self._area_wh and min(area_wh) > 1:
            self._area_wh = area_wh
            self._dirty = True

    def _on_destroy(self, event: Any, root: Any) -> None:
        if event.widget is root and self._root is not None:
            self._lost("the window was destroyed")

    def _lost(self, why: str) -> None:
        """The window cannot be used any more: stop, with a warning."""
        if not self._broken:
            self._broken = True
            log.warning("preview window: %s; stopping", why)
        self._stop(why, quiet=True)

    def _stop(self, why: str, quiet: bool = False) -> None:
        if not (self.quit_requested or quiet):
            log.info("preview window: %s, stopping", why)
        self.quit_requested = True
        if self.request_stop is not None:
            self.request_stop()
