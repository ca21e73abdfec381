"""The capture thread: read frames, ask the gate, preprocess, hand over."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from camera_app.errors import CameraAppError, RunError, SourceError, SourceLostError
from camera_app.frames import Frame
from camera_app.inference.model import Prepared
from camera_app.pipeline.gate import INFER, FrameGate
from camera_app.pipeline.handoff import HandOff, Stopped
from camera_app.pipeline.priority import lower_thread_priority
from camera_app.pipeline.sink_runner import END
from camera_app.sources.base import Source
from camera_app.stats import PipelineStats

log = logging.getLogger(__name__)

Fail = Callable[..., None]
"""``fail(error, cause=None, abort=True)``: record the first error and stop."""


def capture_loop(
    source: Source,
    frames: HandOff[Any],
    *,
    stop: threading.Event,
    stop_reason: Callable[[], str | None],
    stats: PipelineStats,
    gate: FrameGate | None,
    prepare: Callable[[Frame], Prepared] | None,
    limit: int | None,
    read_timeout_s: float,
    worker_nice: int,
    fail: Fail,
    keep_gated: bool = True,
) -> None:
    """Until the source ends, ``stop`` is set or ``limit`` frames were read.
    Errors stop the pipeline but let the frames already handed over be
    inferred (``abort=False``); the end marker always follows. Logs why
    capture ended: the source ended, or the stop's ``stop_reason()``.

    ``keep_gated=False`` (no sink wants frames that were not inferred): a
    frame the gate skips is counted here (``stats.on_gated``) instead of
    crossing to the inference thread to be counted there, as long as that
    thread has nothing in hand (``frames.unfinished == 0``, so
    ``stats.frames_through`` still stops when inference hangs). On a still
    scene the inference thread then sleeps and no result is built per frame."""
    captured = 0
    ended = ""  # why capture ended by itself
    lower_thread_priority(worker_nice)
    try:
        while not stop.is_set():
            frame = source.read(read_timeout_s)
            if frame is None:
                if not stop.is_set():  # not a read woken by the stop
                    ended = "source ended"
                break
            stats.on_captured(frame.timestamp_ns)
            decision = INFER if gate is None else gate.check(frame)
            if not decision.infer and not keep_gated and frames.unfinished == 0:
                stats.on_gated(decision.reason or "gate")  # nobody would see its result
            else:
                prepared = None
                if prepare is not None and decision.infer:
                    try:
                        prepared = prepare(frame)
                    except BaseException as e:
                        fail(
                            e
                            if isinstance(e, CameraAppError)
                            else RunError(f"preprocessing failed: {e!r}"),
                            e,
                            abort=False,
                        )
                        break
                frames.put((frame, prepared, decision))
            captured += 1
            if limit is not None and captured >= limit:
                ended = f"max frames reached ({limit})"
                break
    except Stopped:
        pass
    except SourceError as e:
        if not stop.is_set():
            fail(e, abort=False)
    except BaseException as e:
        fail(SourceLostError(f"capture failed: {e}"), e, abort=False)
    finally:
        frames.put(END, force=True)
        if ended == "source ended":
            log.info("source ended after %d frames", captured)
        else:
            why = ended or stop_reason() or "stop requested"
            log.info("capture stopped after %d frames: %s", captured, why)
