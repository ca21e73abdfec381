"""Inference gate (motion, tracks, keep-alive, rate cap) and the motion ON/OFF state."""

from __future__ import annotations

import numpy as np
import pytest

from camera_app.motion import GateCounts, GateDecision, InferenceGate, MotionConfig, MotionState

S = 1_000_000_000


def ts30(i: int) -> int:
    """Frame ``i`` of a 30 fps source, in ns (rounded like a real clock)."""
    return i * S // 30


def decisions(
    gate: InferenceGate, motion: list[bool], tracks: list[int] | None = None
) -> list[GateDecision]:
    tracks = tracks or [0] * len(motion)
    return [
        gate.decide(ts30(i), motion=m, active_tracks=t)
        for i, (m, t) in enumerate(zip(motion, tracks, strict=True))
    ]


@pytest.mark.parametrize(
    ("motion", "tracks", "since_s", "infer", "reason"),
    [
        (True, 0, 0.1, True, "motion"),
        (False, 2, 0.1, False, "no_motion"),  # tracks without motion: every 0.5 s
        (False, 2, 0.5, True, "tracks"),
        (True, 2, 0.1, True, "motion"),
        (False, 0, 0.1, False, "no_motion"),
        (False, 0, 4.9, False, "no_motion"),
        (False, 0, 5.0, True, "keepalive"),
        (False, 0, 60.0, True, "keepalive"),
    ],
)
def test_one_decision_after_an_inference(
    motion: bool, tracks: int, since_s: float, infer: bool, reason: str
) -> None:
    gate = InferenceGate(keepalive_s=5.0)
    assert gate.decide(0, motion=False) == GateDecision(True, "first")
    assert gate.decide(round(since_s * S), motion=motion, active_tracks=tracks) == GateDecision(
        infer,
        reason,  # type: ignore[arg-type]
    )


def test_still_scene_infers_only_the_keepalive_frames() -> None:
    gate = InferenceGate(keepalive_s=5.0)
    out = decisions(gate, [False] * 600)  # 20 s at 30 fps
    inferred = [i for i, d in enumerate(out) if d.infer]
    assert inferred == [0, 150, 300, 450]
    assert [out[i].reason for i in inferred] == ["first", "keepalive", "keepalive", "keepalive"]
    assert gate.counts == GateCounts(inferred=4, skipped_no_motion=596, skipped_rate=0)
    assert gate.counts.total == 600


def test_keepalive_zero_never_fires() -> None:
    gate = InferenceGate(keepalive_s=0)
    assert sum(d.infer for d in decisions(gate, [False] * 900)) == 1  # the first frame


def test_active_tracks_keep_inference_running_without_motion() -> None:
    tracks = [0] * 30 + [1] * 60 + [0] * 30
    out = decisions(InferenceGate(keepalive_s=5.0, tracks_interval_s=0), [False] * 120, tracks)
    assert all(d.infer and d.reason == "tracks" for d in out[30:90])
    assert not any(d.infer for d in out[1:30] + out[90:])


def test_still_tracked_objects_are_inferred_every_tracks_interval() -> None:
    """A tracked object that does not move (a person standing, a TV screen)
    keeps its track matched at 2 Hz by default, not at the source's rate;
    motion still wants every frame."""
    tracks = [0] * 30 + [1] * 90 + [0] * 30
    motion = [False] * 90 + [True] * 15 + [False] * 45
    out = decisions(InferenceGate(keepalive_s=5.0), motion, tracks)
    inferred = [i for i, d in enumerate(out) if d.infer]
    assert inferred == [0, 30, 45, 60, 75, *range(90, 105), 119]
    assert {out[i].reason for i in (30, 45, 60, 75, 119)} == {"tracks"}
    assert not any(d.infer for d in out[120:])


def test_motion_gating_off_wants_every_frame() -> None:
    gate = InferenceGate(motion_gating=False)
    out = decisions(gate, [False] * 50)
    assert all(d.infer for d in out) and {d.reason for d in out[1:]} == {"ungated"}


@pytest.mark.parametrize("jitter_ms", [0.0, 5.0, 12.0])
@pytest.mark.parametrize("motion_gating", [True, False])
def test_fps_cap_5_on_a_30fps_source_gives_5_per_second(
    jitter_ms: float, motion_gating: bool
) -> None:
    """60 s of a 30 fps source with motion throughout, capture times jittered
    by up to ``jitter_ms``: 5 +- 0.5 inferences in every one-second window."""
    rng = np.random.default_rng(0)
    gate = InferenceGate(motion_gating=motion_gating, fps=5)
    times = [ts30(i) + round(rng.uniform(-jitter_ms, jitter_ms) * 1e6) for i in range(1800)]
    times = [max(t, times[i - 1] if i else 0) for i, t in enumerate(times)]  # still in order
    inferred = [t for t in times if gate.decide(t, motion=True).infer]
    per_second = np.histogram(inferred, bins=np.arange(0, 61) * S)[0]
    assert len(inferred) / 60 == pytest.approx(5, abs=0.1)
    assert per_second.min() >= 4 and per_second.max() <= 6  # whole counts per window
    assert abs(np.mean(per_second) - 5) <= 0.5
    # and over any 2 s the rate is within 5 +- 0.5
    two = per_second[:-1] + per_second[1:]
    assert two.min() >= 9 and two.max() <= 11
    assert gate.counts == GateCounts(len(inferred), 0, 1800 - len(inferred))


def test_fps_cap_exact_timestamps_give_every_sixth_frame() -> None:
    gate = InferenceGate(fps=5)
    inferred = [i for i, d in enumerate(decisions(gate, [True] * 300)) if d.infer]
    assert len(inferred) == 50
    assert set(np.diff(inferred)) <= {6, 7}  # 200 ms apart, the next frame when one is early


def test_fps_cap_after_a_pause_starts_again_without_a_burst() -> None:
    gate = InferenceGate(fps=5)
    motion = [True] * 30 + [False] * 90 + [True] * 30
    inferred = [i for i, d in enumerate(decisions(gate, motion)) if d.infer]
    assert inferred[:5] == [0, 6, 12, 18, 24]
    after = [i for i in inferred if i >= 120]
    assert after[0] == 120 and set(np.diff(after)) <= {6, 7}


def test_keepalive_due_but_rate_capped_waits_for_the_cap() -> None:
    gate = InferenceGate(keepalive_s=0.1, fps=2)
    out = decisions(gate, [False] * 31)
    assert [i for i, d in enumerate(out) if d.infer] == [0, 15, 30]
    assert out[3].reason == "rate" and out[1].reason == "no_motion"


def test_same_frames_and_timestamps_give_the_same_decisions() -> None:
    rng = np.random.default_rng(7)
    motion = list(rng.random(900) < 0.3)
    tracks = list(rng.integers(0, 2, 900) * (rng.random(900) < 0.2))
    a, b = InferenceGate(fps=5), InferenceGate(fps=5)
    assert decisions(a, motion, tracks) == decisions(b, motion, tracks)
    assert a.counts == b.counts and a.counts.skipped_rate > 0 and a.counts.skipped_no_motion > 0


def test_timestamps_going_back_restart_the_schedule() -> None:
    gate = InferenceGate(keepalive_s=5.0, fps=5)
    decisions(gate, [False] * 60)
    assert gate.decide(ts30(3), motion=False) == GateDecision(True, "first")
    assert gate.decide(ts30(4), motion=True) == GateDecision(False, "rate")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"keepalive_s": -1}, "keepalive_s"),
        ({"fps": 0}, "fps"),
        ({"fps": float("nan")}, "fps"),
        ({"tracks_interval_s": -0.1}, "tracks_interval_s"),
    ],
)
def test_bad_gate_settings_are_refused(kwargs: dict[str, float], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        InferenceGate(**kwargs)  # type: ignore[arg-type]


def test_motion_state_on_at_once_off_after_the_delay() -> None:
    state = MotionState(off_delay_s=2.0)
    assert state.on is None
    assert state.update(0, False) is False  # the first frame reports the state
    assert state.update(S // 30, False) is None
    assert state.update(S, True) is True
    assert state.update(S + S // 30, True) is None
    assert state.update(2 * S, False) is None  # 1 s without motion
    assert state.update(int(2.9 * S), True) is None  # motion again: the delay restarts
    assert state.update(int(4.8 * S), False) is None
    assert state.update(int(4.9 * S), False) is False  # 2 s after the last motion
    assert state.on is False
    assert state.update(5 * S, False) is None


def test_motion_state_off_delay_zero_and_time_going_back() -> None:
    state = MotionState(off_delay_s=0)
    assert [state.update(i, m) for i, m in enumerate([True, False, True])] == [True, False, True]
    state = MotionState(off_delay_s=1.0)
    state.update(100 * S, True)
    assert state.update(5 * S, False) is None  # a replay looped: the delay counts from here
    assert state.update(6 * S, False) is False
    with pytest.raises(ValueError, match="off_delay_s"):
        MotionState(off_delay_s=-1)


def test_gate_from_config() -> None:
    gate = InferenceGate.from_config(MotionConfig(enabled=True, keepalive_s=2.0), fps=5.0)
    assert (gate.motion_gating, gate.keepalive_ns, gate.period_ns) == (True, 2 * S, S // 5)
    off = InferenceGate.from_config(MotionConfig(), fps=None)
    assert (off.motion_gating, off.period_ns) == (False, None)
