"""The pre-roll ring: whole GOPs from a key frame, bounded in seconds and bytes."""

from __future__ import annotations

import pytest

from camera_app.clips.packets import EncodedPacket, StreamInfo
from camera_app.clips.ring import PacketRing

STREAM = StreamInfo("h264", (320, 180))
S = 1_000_000_000


def pkt(t_s: float, key: bool, size: int = 100) -> EncodedPacket:
    return EncodedPacket(b"\0" * size, round(t_s * S), key, STREAM)


def gops(n_s: int, fps: int = 10, key_every: int = 10, size: int = 100) -> list[EncodedPacket]:
    return [pkt(i / fps, i % key_every == 0, size) for i in range(n_s * fps)]


def test_it_starts_on_a_key_frame_and_refuses_what_comes_before_one() -> None:
    ring = PacketRing(5.0, 10**6)
    assert not ring.append(pkt(0.0, False)) and not ring.append(pkt(0.1, False))
    assert len(ring) == 0 and ring.dropped == 2 and ring.oldest_ns is None
    assert ring.append(pkt(0.2, True)) and ring.append(pkt(0.3, False))
    assert ring.keyframes_ns() == [round(0.2 * S)] and len(ring) == 2


def test_it_keeps_at_least_max_s_and_drops_whole_gops_from_the_front() -> None:
    ring = PacketRing(3.0, 10**6)
    for p in gops(20):  # 20 s, a key frame every second
        ring.append(p)
        assert ring.oldest_ns is not None and ring.oldest_ns % S == 0  # a key frame
        newest = ring.newest_ns
        assert newest is not None
        # never less than 3 s once 3 s were seen, never a whole GOP more than needed
        if newest >= 3 * S:
            assert 3.0 <= ring.span_s < 4.0, ring.span_s
    assert ring.keyframes_ns() == [16 * S, 17 * S, 18 * S, 19 * S]
    assert ring.dropped == 0  # aged out, not lost to the byte budget
    assert ring.bytes == 100 * len(ring)


def test_the_byte_budget_wins_over_seconds_dropping_the_oldest_gops() -> None:
    ring = PacketRing(10.0, 2500)  # 10 packets of 100 bytes a GOP: room for 2.5 GOPs
    for p in gops(6):
        ring.append(p)
        assert ring.bytes <= 2500
    assert ring.keyframes_ns() == [4 * S, 5 * S]
    assert ring.dropped == 40  # GOPs 0-3 went before their time


def test_a_gop_bigger_than_the_budget_is_dropped_until_the_next_key_frame() -> None:
    ring = PacketRing(10.0, 1000)
    for i in range(15):  # one GOP of 1500 bytes, then the next key frame
        ring.append(pkt(i / 10, i in (0, 15), 100))
    assert len(ring) == 0 and ring.bytes == 0
    assert not ring.append(pkt(1.5, False))  # still no key frame
    assert ring.append(pkt(1.6, True)) and len(ring) == 1


@pytest.mark.parametrize(
    ("target_s", "latest_s", "expected_s"),
    [
        (5.0, None, 5),  # a key frame exactly there
        (5.4, None, 5),  # nearest: before
        (5.6, None, 6),  # nearest: after (within half a GOP)
        (5.6, 5.9, 5),  # not after the event's own start
        (-3.0, None, 0),  # before everything held: the oldest
        (30.0, None, 9),  # after everything: the newest
    ],
)
def test_a_clip_starts_at_the_nearest_key_frame_not_after_its_event(
    target_s: float, latest_s: float | None, expected_s: int
) -> None:
    ring = PacketRing(60.0, 10**6)
    for p in gops(10):
        ring.append(p)
    latest = None if latest_s is None else round(latest_s * S)
    assert ring.start_for(round(target_s * S), latest) == expected_s * S


def test_since_yields_from_the_key_frame_up_to_a_time() -> None:
    ring = PacketRing(60.0, 10**6)
    for p in gops(5):
        ring.append(p)
    got = list(ring.since(2 * S, round(3.25 * S)))
    assert got[0].keyframe and got[0].pts_ns == 2 * S
    assert [p.pts_ns for p in got] == [round((20 + i) / 10 * S) for i in range(13)]
    assert list(ring.since(round(2.5 * S))) == []  # not a key frame: nothing
    ring.clear()
    assert len(ring) == 0 and ring.bytes == 0 and ring.start_for(0) is None


def test_bad_bounds_are_refused() -> None:
    with pytest.raises(ValueError, match="positive"):
        PacketRing(0, 100)
