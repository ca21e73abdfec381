"""Fixtures for the command tests."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest


@pytest.fixture
def looping_run(models_dir: Path, videos_dir: Path) -> Callable[..., list[str]]:
    """``looping_run(*extra)``: the command line of ``camera-app run`` on the
    fixture SSD and clip, replayed in realtime and looped (a camera that never
    ends), with ``extra`` flags after."""

    def cmd(*extra: str) -> list[str]:
        return [
            sys.executable, "-m", "camera_app", "run",
            "--model", str(models_dir / "ssd_mobilenet_v1_coco_quant.tflite"),
            "--source", str(videos_dir / "one-by-one-person-detection.mp4"),
            "--realtime", "--loop", *extra,
        ]  # fmt: skip

    return cmd
