"""The pipeline's gate: motion detection and the detect rate on the capture thread.

:class:`MotionFrameGate` runs :class:`MotionDetector` on each captured frame
(the lores stream when the source has one: on a Pi that is a small image
already, so the detector only resizes a little; else the frame's decoded Y
plane, ``Frame.luma``, when it has one: a video file's frames are then
never converted to BGR just for the detector), asks :class:`InferenceGate`
whether to infer, and tells the pipeline. It runs before preprocessing, so a
still scene costs the detector's fraction of a millisecond per frame (the
``motion`` timing in the stats), not an inference. Time is media time when a
file is replayed every frame, so the same clip gives the same decisions on
any machine; capture time otherwise.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from camera_app.frames import Frame, LumaRange
from camera_app.motion.config import MotionConfig, check_mask_fits
from camera_app.motion.detector import MotionDetector
from camera_app.motion.gate import TRACKS_INTERVAL_S, InferenceGate
from camera_app.pipeline.gate import GateDecision
from camera_app.stats import PipelineStats

log = logging.getLogger(__name__)

TIMING = "motion"
"""The detector's time per frame, ms, in ``PipelineStats.timings`` (the bench
reports it as a stage)."""


class MotionFrameGate:
    """``FrameGate`` for the pipeline (``Pipeline(gate=...)``)."""

    def __init__(
        self,
        motion: MotionConfig,
        fps: float | None,
        *,
        every_frame: bool,
        active_tracks: Callable[[], int] = lambda: 0,
        stats: PipelineStats | None = None,
        keep_changed: bool = False,
        tracks_interval_s: float = TRACKS_INTERVAL_S,
    ) -> None:
        """``active_tracks`` is read on the capture thread (a count the
        tracking stage keeps); ``tracks_interval_s`` should stay well below
        ``[tracker] max_disappeared_s`` (see :class:`InferenceGate`)."""
        self.config = motion
        self.detector = (
            MotionDetector(motion, keep_changed=keep_changed) if motion.enabled else None
        )
        self.gate = InferenceGate.from_config(motion, fps, tracks_interval_s)
        self.every_frame = every_frame
        self.active_tracks = active_tracks
        self.stats = stats
        self._checked_size: tuple[int, int] | None = None

    def _time_ns(self, frame: Frame) -> int:
        if self.every_frame and frame.media_ms is not None:
            return round(frame.media_ms * 1e6)
        return frame.timestamp_ns

    def check(self, frame: Frame) -> GateDecision:
        ts = self._time_ns(frame)
        motion = None
        if self.detector is not None:
            if self._checked_size != frame.size_wh:  # pixel masks must fit the frame
                check_mask_fits(self.config, frame.size_wh)
                self._checked_size = frame.size_wh
            grey_range: LumaRange = "full"
            if frame.lores is not None:
                image, order = frame.lores, frame.lores_order
            elif frame.luma is not None:
                image, order, grey_range = frame.luma, frame.channel_order, frame.luma_range
            else:
                image, order = frame.image, frame.channel_order
            t0 = time.perf_counter_ns()
            found = self.detector.detect(
                image, ts, frame_size_wh=frame.size_wh, channel_order=order, grey_range=grey_range
            )
            motion = found.to_motion()
            if self.stats is not None:
                self.stats.motion = found.motion
                self.stats.on_timing(TIMING, (time.perf_counter_ns() - t0) / 1e6)
        decision = self.gate.decide(
            ts,
            motion=True if motion is None else motion.detected,
            active_tracks=self.active_tracks(),
        )
        return GateDecision(decision.infer, "" if decision.infer else decision.reason, motion)
