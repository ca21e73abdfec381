"""The software path's encoder: frames to H.264 packets a clip can start from."""

from __future__ import annotations

import av
import clipkit
import cv2
import numpy as np
import pytest
from av.video.codeccontext import VideoCodecContext

from camera_app.clips.encoder import FrameEncoder, scaled_size
from camera_app.clips.nal import parameter_sets
from camera_app.recording.encoder import EncoderOptions


@pytest.mark.parametrize(
    ("size", "max_width", "expected"),
    [
        ((1920, 1080), 1280, (1280, 720)),
        ((640, 360), 1280, (640, 360)),
        ((641, 361), 1280, (640, 360)),
        ((1000, 1000), 500, (500, 500)),
    ],
)
def test_frames_are_scaled_down_to_max_width_with_even_sides(
    size: tuple[int, int], max_width: int, expected: tuple[int, int]
) -> None:
    assert scaled_size(size, max_width) == expected


def test_a_key_frame_every_interval_each_with_its_parameter_sets() -> None:
    pk = clipkit.packets(45, fps=15, keyframe_interval_s=1.0)
    assert len(pk) == 45  # zerolatency: one packet per frame, no delay
    keys = [i for i, p in enumerate(pk) if p.keyframe]
    assert keys == [0, 15, 30]
    assert all(parameter_sets("h264", pk[i].data) for i in keys)  # any can start a file
    assert parameter_sets("h264", pk[1].data) is None
    assert [p.pts_ns for p in pk] == [clipkit.frame_time_ns(i, 15) for i in range(45)]
    assert {p.stream.codec for p in pk} == {"h264"} and pk[0].stream.size_wh == (320, 180)


def test_big_frames_are_encoded_at_max_width_in_either_channel_order() -> None:
    bgr = cv2.resize(clipkit.scene(7), (1280, 720))
    enc = FrameEncoder((1280, 720), max_width=640, options=EncoderOptions(codec="libx264"))
    assert enc.size_wh == (640, 360) and enc.stream.size_wh == (640, 360)
    out = enc.encode(bgr, 0) + enc.encode(np.ascontiguousarray(bgr[..., ::-1]), 100_000_000, "RGB")
    assert [p.keyframe for p in out] == [True, False]
    decoder = av.CodecContext.create("h264", "r")
    assert isinstance(decoder, VideoCodecContext)
    pictures = [f for p in out for f in decoder.decode(av.Packet(p.data))]
    pictures += decoder.decode(None)
    a, b = (f.to_ndarray(format="bgr24").astype(int) for f in pictures)
    assert np.abs(a - b).mean() < 3  # the same picture: RGB frames were not swapped


def test_a_frame_of_another_size_is_refused() -> None:
    enc = FrameEncoder((320, 180), options=EncoderOptions(codec="libx264"))
    with pytest.raises(ValueError, match="size changed"):
        enc.encode(np.zeros((90, 160, 3), np.uint8), 0)
