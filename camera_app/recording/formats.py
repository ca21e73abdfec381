"""File types and the codecs they hold (no PyAV import: config checks use it)."""

from __future__ import annotations

CONTAINERS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska", ".avi": "avi"}
"""File suffix -> FFmpeg muxer."""
CODECS = {
    "mp4": ("h264",),
    "mov": ("h264", "mjpeg"),
    "matroska": ("mjpeg", "h264"),
    "avi": ("mjpeg",),
}
"""Muxer -> codecs allowed in it, the default first."""


def container_for(suffix: str) -> str:
    try:
        return CONTAINERS[suffix.lower()]
    except KeyError:
        raise ValueError(
            f"unsupported file type {suffix or '(none)'}; expected one of "
            f"{', '.join(sorted(CONTAINERS))}"
        ) from None
