"""Motion detection and inference gating (issue 15).

``MotionDetector`` finds motion on a small grey frame; ``InferenceGate``
decides per frame whether inference runs (motion, active tracks, a
keep-alive, a detect-rate cap); ``MotionState`` is the ON/OFF state with an
off-delay; ``MotionAnnotator`` draws it all for ``--motion-debug``.
"""

from camera_app.motion.annotate import MotionAnnotator
from camera_app.motion.config import DetectRateConfig, MotionConfig, check_mask_fits, check_motion
from camera_app.motion.detector import MotionDetection, MotionDetector, MotionResult
from camera_app.motion.gate import GateCounts, GateDecision, InferenceGate, MotionState

__all__ = [
    "DetectRateConfig",
    "GateCounts",
    "GateDecision",
    "InferenceGate",
    "MotionAnnotator",
    "MotionConfig",
    "MotionDetection",
    "MotionDetector",
    "MotionResult",
    "MotionState",
    "check_mask_fits",
    "check_motion",
]
