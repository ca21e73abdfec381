"""Parameter sets in Annex B access units."""

from __future__ import annotations

import clipkit

from camera_app.clips.nal import is_annex_b, nal_type, nal_units, parameter_sets


def test_sps_and_pps_are_found_at_the_head_of_a_key_frame() -> None:
    key, other = clipkit.packets(2)[:2]
    found = parameter_sets("h264", key.data)
    assert found is not None and key.data.startswith(found)
    kinds = [nal_type("h264", h) for h, _ in nal_units(found)]
    assert kinds == [7, 8]
    assert parameter_sets("h264", other.data) is None
    assert is_annex_b(key.data) and not is_annex_b(b"\x01\x02")


def test_hevc_types_and_odd_input() -> None:
    vps, sps, pps, idr = (bytes([t << 1, 1, 0xAA]) for t in (32, 33, 34, 19))
    au = b"".join(b"\x00\x00\x00\x01" + u for u in (vps, sps, pps, idr))
    assert parameter_sets("hevc", au) == b"".join(b"\x00\x00\x00\x01" + u for u in (vps, sps, pps))  # fmt: skip
    assert parameter_sets("h264", b"") is None
    assert parameter_sets("h264", b"\x00\x00\x01") is None
