"""Fake of ``picamera2.encoders.encoder``: the base every encoder shares.

From picamera2 0.3.36 (BSD 2-Clause, Copyright (c) 2021 Raspberry Pi), with
the same state and the same contract:

* ``start(quality)`` raises ``RuntimeError("Encoder already running")`` when
  running; else resets ``frames_encoded`` and ``firsttimestamp``, calls
  ``_setup(quality)``, sets ``_running``, starts every output
  (``Output.start()``) and then ``_start()``.
* ``stop()`` raises ``RuntimeError("Encoder already stopped")`` when not
  running; else clears ``_running``, calls ``_stop()`` (which drains or
  flushes the encoder through the outputs) and then stops every output.
* ``encode(stream, request)`` is what the camera's event loop calls for each
  request; it calls ``_encode`` under the lock while running.
* ``outputframe(frame, keyframe, timestamp, packet, audio)`` hands one
  encoded frame to every output. ``timestamp`` is in microseconds since the
  first frame the encoder saw: ``_timestamp`` keeps that frame's
  ``SensorTimestamp`` (ns, CLOCK_MONOTONIC) // 1000 in ``firsttimestamp``.

Left out: audio, camera sync and the ``pts`` file. ``_timestamp`` reads the
fake request's ``get_metadata()`` where the real one reads libcamera's
``request.request.metadata[controls.SensorTimestamp]`` (the same number).
"""

from __future__ import annotations

import threading
from enum import Enum
from fractions import Fraction
from typing import Any

from ..outputs import Output
from ..request import MappedArray

FORMATS = ("YUV420", "YVU420", "NV12", "NV21", "YUYV", "RGB888", "BGR888", "XBGR8888", "XRGB8888")


class Quality(Enum):
    VERY_LOW = 0
    LOW = 1
    MEDIUM = 2
    HIGH = 3
    VERY_HIGH = 4


class Encoder:
    def __init__(self, framerate: float = 30) -> None:
        self._width = 0
        self._height = 0
        self._stride = 0
        self._format: str | None = None
        self._output: list[Any] = []
        self._running = False
        self._name: str | None = None
        self._framerate = framerate
        self._lock = threading.Lock()
        self.firsttimestamp: int | None = None
        self.frame_skip_count = 1
        self._skip_count = 0
        self._output_lock = threading.Lock()
        self.audio = False
        self.frames_encoded = 0

    @property
    def running(self) -> bool:
        return self._running

    @property
    def width(self) -> int:
        return self._width

    @width.setter
    def width(self, value: int) -> None:
        if not isinstance(value, int):
            raise RuntimeError("Width must be integer")
        self._width = value

    @property
    def height(self) -> int:
        return self._height

    @height.setter
    def height(self, value: int) -> None:
        if not isinstance(value, int):
            raise RuntimeError("Height must be integer")
        self._height = value

    @property
    def size(self) -> tuple[int, int]:
        return (self._width, self._height)

    @size.setter
    def size(self, value: tuple[int, int]) -> None:
        if not isinstance(value, tuple) or len(value) != 2:
            raise RuntimeError("Size must be a tuple of two integers")
        self.width, self.height = value

    @property
    def stride(self) -> int:
        return self._stride

    @stride.setter
    def stride(self, value: int) -> None:
        if not isinstance(value, int):
            raise RuntimeError("Stride must be integer")
        self._stride = value

    @property
    def format(self) -> str | None:
        return self._format

    @format.setter
    def format(self, value: str) -> None:
        if value not in FORMATS:  # formats.assert_format_valid
            raise ValueError(f"Invalid format: {value}")
        self._format = value

    @property
    def output(self) -> Any:
        if len(self._output) == 1:
            return self._output[0]
        return self._output

    @output.setter
    def output(self, value: Any) -> None:
        if isinstance(value, list):
            for out in value:
                if not isinstance(out, Output):
                    raise RuntimeError("Must pass Output")
        elif isinstance(value, Output):
            value = [value]
        else:
            raise RuntimeError("Must pass Output")
        for output in value:
            if self._running and output not in self._output:
                self.send_streams(output)
        self._output = value

    @property
    def name(self) -> str | None:
        return self._name

    @name.setter
    def name(self, value: str) -> None:
        if not isinstance(value, str):
            raise RuntimeError("Name must be string")
        self._name = value

    def encode(self, stream: Any, request: Any) -> None:
        if self._skip_count == 0:
            with self._lock:
                if not self._running:
                    return
                self._encode(stream, request)
        self._skip_count = (self._skip_count + 1) % self.frame_skip_count
        self.frames_encoded += 1

    def _encode(self, stream: Any, request: Any) -> None:
        timestamp_us = self._timestamp(request)
        with MappedArray(request, stream, reshape=False) as m:
            self.outputframe(bytes(m.array), keyframe=True, timestamp=timestamp_us)

    def send_streams(self, output: Any) -> None:
        self._send_streams(output)

    def _send_streams(self, output: Any) -> None:
        table = {
            "YUV420": "yuv420p",
            "BGR888": "rgb24",
            "RGB888": "bgr24",
            "XBGR8888": "rgba",
            "XRGB8888": "bgra",
        }
        pix_fmt = table.get(self._format or "")
        rate = Fraction(1000000, self._framerate)
        output._add_stream(
            "video", "rawvideo", pix_fmt=pix_fmt, rate=rate, width=self.width, height=self.height
        )

    def start(self, quality: Quality | None = None) -> None:
        with self._lock:
            if self._running:
                raise RuntimeError("Encoder already running")
            self.frames_encoded = 0
            self._setup(quality)
            self._running = True
            self.firsttimestamp = None
            for out in self._output:
                out.start()
            self._start()

    def _start(self) -> None:
        for out in self._output:
            self._send_streams(out)

    def stop(self) -> None:
        with self._lock:
            if not self._running:
                raise RuntimeError("Encoder already stopped")
            self._running = False
            self._stop()
            for out in self._output:
                out.stop()

    def _stop(self) -> None:
        pass

    def outputframe(
        self,
        frame: Any,
        keyframe: bool = True,
        timestamp: int | None = None,
        packet: Any = None,
        audio: bool = False,
    ) -> None:
        with self._output_lock:
            for out in self._output:
                out.outputframe(frame, keyframe, timestamp, packet, audio)

    def _setup(self, quality: Quality | None) -> None:
        pass

    def _timestamp(self, request: Any) -> int:
        ts = int(request.get_metadata()["SensorTimestamp"] / 1000)  # ns to us
        if self.firsttimestamp is None:
            self.firsttimestamp = ts
            return 0
        return ts - self.firsttimestamp
