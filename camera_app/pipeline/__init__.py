"""The pipeline: capture, gate, inference, analysis and sinks on their own threads.

See :mod:`camera_app.pipeline.core` for the design.
"""

from camera_app.pipeline.core import Pipeline
from camera_app.pipeline.gate import INFER, FrameGate, GateDecision
from camera_app.pipeline.handoff import POLL_S, HandOff, Stopped
from camera_app.pipeline.options import PipelineOptions
from camera_app.pipeline.pacing import Pacing
from camera_app.pipeline.priority import lower_thread_priority

__all__ = [
    "INFER",
    "POLL_S",
    "FrameGate",
    "GateDecision",
    "HandOff",
    "Pacing",
    "Pipeline",
    "PipelineOptions",
    "Stopped",
    "lower_thread_priority",
]
