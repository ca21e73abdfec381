"""Helpers for the clips tests: frames that say which they are, real H.264
packets made from them, and reading back which frames a file holds.

Each frame carries its number as a strip of black and white squares at the
top right (:func:`stamp`), which survives H.264 at modest quality, so a
test can tell exactly which frames of the source a clip begins and ends
with (:func:`frames_in`).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import av.error
import cv2
import numpy as np

from camera_app.clips.encoder import FrameEncoder
from camera_app.clips.packets import EncodedPacket
from camera_app.recording.encoder import EncoderOptions

BITS = 12
"""Frame numbers up to 4095."""


def stamp(image: np.ndarray, n: int, block: int = 12) -> np.ndarray:
    """``image`` with ``n`` drawn as BITS squares (white = 1) at the top right."""
    out = image.copy()
    w = out.shape[1]
    x0 = w - BITS * block
    for bit in range(BITS):
        value = 255 if (n >> (BITS - 1 - bit)) & 1 else 0
        out[0:block, x0 + bit * block : x0 + (bit + 1) * block] = value
    return out


def read_stamp(image: np.ndarray, block: int = 12) -> int:
    """The number :func:`stamp` drew (``image`` in the stamped size or scaled)."""
    grey = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    w = grey.shape[1]
    x0 = w - BITS * block
    n = 0
    for bit in range(BITS):
        x = x0 + bit * block
        cell = grey[block // 4 : block * 3 // 4, x + block // 4 : x + block * 3 // 4]
        n = (n << 1) | int(cell.mean() > 127)
    return n


def scene(i: int, size_wh: tuple[int, int] = (320, 180)) -> np.ndarray:
    """A moving picture (so P frames are not empty), stamped with ``i``."""
    w, h = size_wh
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.stack(
        [(xx * 2 + i * 7) % 256, (yy * 3 + i * 5) % 256, ((xx + yy) + i * 3) % 256], axis=-1
    ).astype(np.uint8)
    cv2.circle(img, ((i * 9) % w, h // 2), 20, (255, 255, 255), -1)
    return stamp(img, i)


def packets(
    n: int,
    fps: float = 10.0,
    size_wh: tuple[int, int] = (320, 180),
    keyframe_interval_s: float = 1.0,
    t0_ns: int = 1_000_000_000_000,
    first: int = 0,
) -> list[EncodedPacket]:
    """Real H.264 packets of frames ``first`` .. ``first + n - 1`` of :func:`scene`,
    frame ``i`` at ``t0_ns + i / fps``."""
    enc = FrameEncoder(
        size_wh,
        options=EncoderOptions(
            codec="libx264", crf=23, keyframe_interval_s=keyframe_interval_s, fps=fps
        ),
    )
    out: list[EncodedPacket] = []
    for i in range(first, first + n):
        out += enc.encode(scene(i, size_wh), frame_time_ns(i, fps, t0_ns))
    return out + enc.flush()


def frame_time_ns(i: int, fps: float = 10.0, t0_ns: int = 1_000_000_000_000) -> int:
    return t0_ns + round(i * 1e9 / fps)


@dataclass(frozen=True)
class FileFrames:
    numbers: list[int]
    """The stamp of every decoded frame, in order."""
    times_s: list[float]
    """Their presentation times in the file."""
    codec: str
    size_wh: tuple[int, int]
    decode_errors: int


def frames_in(path: Path, block: int = 12) -> FileFrames:
    """Decode the whole file (counting frames that fail to decode)."""
    numbers, times = [], []
    errors = 0
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        codec = stream.codec_context.name
        size = (stream.codec_context.width, stream.codec_context.height)
        for packet in container.demux(stream):
            try:
                frames = packet.decode()
            except av.error.FFmpegError:
                errors += 1
                continue
            for frame in frames:
                image = frame.to_ndarray(format="bgr24")
                numbers.append(read_stamp(image, block))
                tb = frame.time_base or Fraction(1, 90000)
                times.append(float((frame.pts or 0) * tb))
    return FileFrames(numbers, times, codec, size, errors)
