"""One clip file: starts on a key frame, parameter sets in front when missing."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import clipkit
import pytest

from camera_app.clips.nal import parameter_sets
from camera_app.clips.writer import ClipFile
from camera_app.recording.files import OutputFile


def test_a_clip_from_a_later_key_frame_plays_when_only_the_first_carried_sps_pps(
    tmp_path: Path,
) -> None:
    """Some encoders send SPS/PPS once: the writer puts the last ones seen
    in front of a clip's first key frame."""
    pk = clipkit.packets(30)
    headers = parameter_sets("h264", pk[0].data)
    assert headers is not None
    stripped = [
        replace(p, data=p.data[len(headers) :]) if p.keyframe and i else p for i, p in enumerate(pk)
    ]
    assert parameter_sets("h264", stripped[10].data) is None
    path = tmp_path / "clip.mp4"
    clip = ClipFile(OutputFile.create([path]), stripped[10].stream, 10.0, headers)
    for p in stripped[10:]:
        clip.write(p)
    clip.finish()
    got = clipkit.frames_in(path)
    assert got.numbers == list(range(10, 30)) and got.decode_errors == 0
    assert clip.duration_s == pytest.approx(1.9)


def test_a_clip_must_start_with_a_key_frame(tmp_path: Path) -> None:
    pk = clipkit.packets(3)
    clip = ClipFile(OutputFile.create([tmp_path / "c.mp4"]), pk[0].stream)
    with pytest.raises(ValueError, match="key frame"):
        clip.write(pk[1])
    clip.abort()
    assert not (tmp_path / "c.mp4").exists()  # nothing written: nothing left


def test_decode_times_go_into_the_file_as_they_are(tmp_path: Path) -> None:
    """A stream with B-frames publishes decode times: they are kept."""
    pk = clipkit.packets(20)
    timed = [replace(p, dts_ns=p.pts_ns - 100_000_000) for p in pk]
    path = tmp_path / "b.mp4"
    clip = ClipFile(OutputFile.create([path]), pk[0].stream)
    for p in timed:
        clip.write(p)
    clip.finish()
    got = clipkit.frames_in(path)
    assert got.numbers == list(range(20))
    assert got.times_s[-1] - got.times_s[0] == pytest.approx(1.9, abs=0.01)
