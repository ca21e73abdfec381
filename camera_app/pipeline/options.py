"""What a pipeline is built with."""

from __future__ import annotations

from dataclasses import dataclass

from camera_app.pipeline.pacing import Pacing


@dataclass(frozen=True, slots=True)
class PipelineOptions:
    pacing: Pacing | None = None
    """None: every frame for files, live for cameras and streams."""
    queue_size: int = 2
    sink_queue_size: int = 8
    max_frames: int | None = None
    duration_s: float | None = None
    read_timeout_s: float = 5.0
    worker_nice: int = 0
    """Capture and sink threads run this much nicer than inference (Linux;
    0: same priority). See the module docstring before raising it."""
    preprocess_on_capture: bool | None = None
    """Preprocess on the capture thread (True) or the inference thread
    (False); None: on capture when inference threads < cores."""
    analysis_thread: bool | None = None
    """Run the analysis processors (tracking, zones, events) on a thread of
    their own, beside the next invoke (True) or on the inference thread after
    each invoke (False); None: their own thread when inference threads < cores."""
    switch_interval_s: float | None = 0.001
    """``sys.setswitchinterval`` while running (None: leave it alone)."""
