"""A fake ``picamera2`` package for tests on machines without a Raspberry Pi camera.

It reproduces the API boundary camera_app uses (see ``picamera2.py`` and
``request.py`` in this folder for what is copied from the real library and
how faithfully), renders a known scene in each pixel format's true memory
layout, and counts every request so tests can assert none leaked.

Versions: the camera, requests and jobs follow picamera2 0.3.2x; the encoders
(``encoders/``: ``Encoder``, the Pi 4's V4L2 ``H264Encoder`` emulated with
libx264, the Pi 5's ``LibavH264Encoder`` copied as is, ``H264Encoder`` bound
per platform) and outputs (``outputs/``: ``Output``, ``CircularOutput2``, copied
as is) follow picamera2 0.3.36 (raspberrypi/picamera2 ``pyproject.toml``,
CHANGELOG "0.3.36 Beta Release 35"), as do ``start_encoder``/``stop_encoder``.

Tests put ``tests/fakes`` first on ``sys.path`` (``monkeypatch.syspath_prepend``),
``import picamera2``, call :func:`reset`, and steer the "hardware" through
:data:`FAKE` (``picamera2.fake``). ``reset``, ``FAKE`` and the ``Fake*`` names
do not exist in the real package.
"""

from __future__ import annotations

from concurrent.futures import CancelledError, TimeoutError

from . import encoders, outputs
from ._libcamera import ColorSpace, Transform
from .fake import DEFAULT_CAMERA, FAKE, FakeState
from .job import Job
from .picamera2 import Picamera2
from .platform import Platform, get_platform
from .request import CompletedRequest, MappedArray

__all__ = [
    "FAKE",
    "CancelledError",
    "ColorSpace",
    "CompletedRequest",
    "FakeState",
    "Job",
    "MappedArray",
    "Picamera2",
    "Platform",
    "TimeoutError",
    "Transform",
    "encoders",
    "get_platform",
    "outputs",
    "reset",
]


def reset(platform: str = "pi4", cameras: int = 1) -> FakeState:
    """Forget everything: close open cameras, clear knobs and records."""
    if platform not in ("pi4", "pi5"):
        raise ValueError(f"platform must be 'pi4' or 'pi5', not {platform!r}")
    for cam in list(FAKE.opened.values()):
        cam.stop()
        for encoder in list(cam.encoders):  # hygiene: close() would leave them running
            if encoder.running:
                cam.stop_encoder(encoder)
        cam.close()
    infos = [
        dict(DEFAULT_CAMERA, Id=f"{DEFAULT_CAMERA['Id']}/{i}" if i else DEFAULT_CAMERA["Id"])
        for i in range(cameras)
    ]
    fresh = FakeState(platform=platform, cameras=infos)
    for name in fresh.__dataclass_fields__:
        setattr(FAKE, name, getattr(fresh, name))
    Picamera2.platform = get_platform()
    encoders.bind_platform()
    return FAKE
