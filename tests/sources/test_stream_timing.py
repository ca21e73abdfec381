"""Presentation and decode times of a network stream's packets (camera_app/sources/stream_timing.py)."""

from __future__ import annotations

import itertools
from fractions import Fraction

import pytest

from camera_app.sources.stream_timing import NS, PacketTimer, ReorderError, reorder_depth

TB = Fraction(1, 90000)
FRAME = 3000  # ticks of one frame at 30 fps
FRAME_NS = 33_333_333
# Decode-order GOPs in frames (I P B B ...), as cameras and x264 send them.
NO_B = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]
IPBB = [0, 3, 1, 2, 6, 4, 5, 9, 7, 8, 12, 10, 11]
PYRAMID = [0, 4, 2, 1, 3, 8, 6, 5, 7, 12, 10, 9, 11]  # x264 b-pyramid: depth 2


@pytest.mark.parametrize(
    ("order", "depth"), [(NO_B, 0), (IPBB, 1), (PYRAMID, 2), ([], 0), ([5], 0)]
)
def test_reorder_depth(order: list[int], depth: int) -> None:
    assert reorder_depth(order) == depth


def run(
    order: list[int], arrivals: list[int] | None = None, first_pts: int | None = 0, **kw: object
) -> tuple[PacketTimer[int], list[tuple[int, int, int]]]:
    """Push packets (frame numbers in decode order); (frame, pts_ns, dts_ns) in push order."""
    base = 10 * NS
    timer: PacketTimer[int] = PacketTimer(TB, now_ns=lambda: 0, **kw)  # type: ignore[arg-type]
    out = []
    for i, frame in enumerate(order):
        pts = None if i == 0 and first_pts is None else 1_000_000 + frame * FRAME
        arrival = base + (arrivals[i] if arrivals else i * FRAME_NS + 50_000_000)
        out += [(t.item, t.pts_ns, t.dts_ns) for t in timer.push(frame, pts, arrival)]
    return timer, out


@pytest.mark.parametrize(("order", "depth"), [(NO_B, 0), (IPBB, 1), (PYRAMID, 2)])
def test_decode_times_increase_and_precede_presentation(order: list[int], depth: int) -> None:
    timer, out = run(order * 1)
    assert timer.depth == depth and timer.frame_ticks == FRAME
    assert [f for f, _, _ in out] == order  # all of them, in decode order
    dts = [d for _, _, d in out]
    assert all(b > a for a, b in itertools.pairwise(dts))
    assert all(p >= d for _, p, d in out)
    # Presentation times are the stream's, one frame apart in display order.
    by_frame = sorted((f, p) for f, p, _ in out)
    steps = {round((b - a) / 1000) for (_, a), (_, b) in itertools.pairwise(by_frame)}
    assert steps == {FRAME_NS // 1000}
    if depth == 0:
        assert all(p == d for _, p, d in out)


def test_the_first_packet_without_a_time_gets_one_before_the_next() -> None:
    """FFmpeg's RTSP demuxer gives the first packet (the key frame) no pts."""
    timer, out = run(IPBB, first_pts=None)
    assert timer.depth == 1
    pts = dict((f, p) for f, p, _ in out)
    assert pts[1] - pts[0] == pytest.approx(FRAME_NS, abs=1)


def test_packets_are_held_until_the_depth_is_known_then_all_come_out() -> None:
    timer: PacketTimer[int] = PacketTimer(TB, lookahead=4, now_ns=lambda: 0)
    got = [len(timer.push(f, f * FRAME, f * FRAME_NS)) for f in IPBB[:6]]
    assert got == [0, 0, 0, 4, 1, 1]


def test_deeper_reordering_than_learned_is_an_error() -> None:
    timer: PacketTimer[int] = PacketTimer(TB, lookahead=4, now_ns=lambda: 0)
    for f in NO_B[:4]:
        timer.push(f, f * FRAME, f * FRAME_NS)
    timer.push(5, 5 * FRAME, 5 * FRAME_NS)
    with pytest.raises(ReorderError, match="reordered deeper than 0 frames"):
        timer.push(4, 4 * FRAME, 6 * FRAME_NS)


def test_nothing_is_stamped_after_it_arrived() -> None:
    """A burst at the start (the demuxer buffered) and a camera clock running
    fast: stamps are never later than arrival, and still increase."""
    arrivals = [0] * 6 + [i * 30_000_000 for i in range(6, 200)]  # 30 ms apart: fast clock
    _, out = run(NO_B * 0 + list(range(200)), arrivals=arrivals)
    base = 10 * NS
    assert all(d <= base + a for (_, _, d), a in zip(out, arrivals, strict=True))
    dts = [d for _, _, d in out]
    assert all(b > a for a, b in itertools.pairwise(dts))


def test_a_slow_camera_clock_is_followed_without_jumps() -> None:
    """Frames stamped 1/30 s apart but arriving 34 ms apart: the lag would grow
    by 0.7 ms a frame; the anchor creeps up (at most 1 ms a packet) so stamps
    stay within about max_lag of arrival."""
    n = 3000
    arrivals = [i * 34_000_000 for i in range(n)]
    _, out = run(list(range(n)), arrivals=arrivals, window=30, max_lag_ns=100_000_000)
    base = 10 * NS
    lags = [base + a - d for (_, _, d), a in zip(out, arrivals, strict=True)]
    assert max(lags[-500:]) < 150_000_000  # bounded, not 2 s
    steps = [b - a for (_, _, a), (_, _, b) in itertools.pairwise(out)]
    assert max(steps) <= FRAME_NS + 1_000_001 and min(steps) > 0  # no jumps
