"""Parameter sets in Annex B H.264/H.265 access units.

A clip file can start at any key frame of the stream only if the decoder
gets the stream's parameter sets (SPS/PPS, and VPS for H.265) before it:
either out of band (``StreamInfo.extradata``) or in the key frame itself.
libx264 (``repeat-headers``) and picamera2's encoder (``repeat=True``)
repeat them before every key frame; some encoders send them once. The clip
writer keeps the last ones seen and puts them in front of a first key
frame that lacks them.
"""

from __future__ import annotations

import re

START_CODE = re.compile(b"\x00\x00\x01")
H264_PARAMETER_SETS = frozenset({7, 8})  # SPS, PPS
HEVC_PARAMETER_SETS = frozenset({32, 33, 34})  # VPS, SPS, PPS


def nal_units(data: bytes) -> list[tuple[int, bytes]]:
    """(header byte, NAL unit without its start code) for each NAL unit."""
    starts = [m.end() for m in START_CODE.finditer(data)]
    out = []
    for i, begin in enumerate(starts):
        end = starts[i + 1] - 3 if i + 1 < len(starts) else len(data)
        unit = data[begin:end]
        if i + 1 < len(starts) and unit.endswith(b"\x00"):
            unit = unit[:-1]  # the leading zero of a 4-byte start code
        if unit:
            out.append((unit[0], unit))
    return out


def nal_type(codec: str, header: int) -> int:
    return (header >> 1) & 0x3F if codec == "hevc" else header & 0x1F


def _is_slice(codec: str, kind: int) -> bool:
    return kind < 32 if codec == "hevc" else 1 <= kind <= 5


def parameter_sets(codec: str, data: bytes) -> bytes | None:
    """The parameter-set NAL units before the first slice of ``data``
    (Annex B), with 4-byte start codes; None when it has none. Only the
    head of the access unit is scanned."""
    wanted = HEVC_PARAMETER_SETS if codec == "hevc" else H264_PARAMETER_SETS
    found = []
    starts = START_CODE.finditer(data)
    begin = next(starts, None)
    while begin is not None and begin.end() < len(data):
        kind = nal_type(codec, data[begin.end()])
        if _is_slice(codec, kind):
            break  # parameter sets come first; the slice is not scanned
        following = next(starts, None)
        end = following.start() if following is not None else len(data)
        unit = data[begin.end() : end]
        if following is not None and unit.endswith(b"\x00"):
            unit = unit[:-1]  # the leading zero of a 4-byte start code
        if kind in wanted:
            found.append(b"\x00\x00\x00\x01" + unit)
        begin = following
    return b"".join(found) if found else None


def is_annex_b(data: bytes) -> bool:
    return data.startswith(b"\x00\x00\x01") or data.startswith(b"\x00\x00\x00\x01")
