"""The pipeline: capture, gate, inference, analysis and sinks on their own threads.

    capture thread --[HandOff]--> inference thread --[HandOff]--> analysis thread
      (gate: infer or not)            (the model)                 (processors)
                                                      --[HandOff per sink]--> sink threads

The capture thread asks the gate (``FrameGate``: motion, detect rate) whether
a frame is worth inferring; a frame that is not skips preprocessing and
inference but still reaches the sinks that want such frames
(``FrameResult.inferred`` False, carrying the last tracked objects), so
previews and recordings keep the source's rate. Sinks that read only
inferred results and events (JSONL, events, snapshots: ``wants_gated =
False``) are not sent them. When no sink wants them, the capture thread
counts such a frame itself and drops it, unless the inference thread has a
frame in hand (then it queues behind, so a hung interpreter still stops the
watchdog): on a still scene the inference thread sleeps. Inferred results
go through the analysis processors (filters, tracking, zones, lines,
events) in order; the events they raise are queued to every sink in order
with the results and never dropped.

The analysis processors run on a thread of their own when inference leaves
a core free, beside the next invoke instead of between two (tracking, zones
and events cost about 0.7 ms a frame here: 5% of the SSD's invoke); when
inference uses every core they run on the inference thread after each
invoke, for the reason given for preprocessing below. Either way they see
every inferred result, in order (the hand-off to them blocks, never drops):
:class:`~camera_app.pipeline.results.ResultStage`.

When inference leaves a core free (fewer inference threads than cores), the
capture thread also preprocesses each frame (``Model.prepare``: resize,
colour, cast into a pooled input array), so the inference thread, which
bounds throughput, only copies the input in, invokes and decodes. When
inference uses every core, preprocessing stays on the inference thread,
between invokes: done beside an invoke it would take a core from one of
the runtime's workers, and the whole invoke waits for that worker.

Live sources: every hand-off keeps the newest items and drops (and counts)
the oldest, so inference always runs on the freshest frame and nothing can
stall it. Every-frame replay: hand-offs block instead, so no frame is lost
and results are deterministic (sinks marked ``lossless = False``, such as
previews, still drop). Every wait has a timeout and checks the stop event;
the first error in any thread stops the pipeline and is re-raised by
``run()`` in the main thread after every sink has been closed.

Inference comes first: see :mod:`camera_app.pipeline.priority`.
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
