"""Thread priorities: workers may yield to inference (Linux only).

Inference comes first. While the pipeline runs, a thread holding the GIL is
asked to hand it over after 1 ms instead of Python's 5 ms
(``switch_interval_s``), so the inference thread is not left waiting
between ``invoke()`` calls by a sink running Python code. On Linux the
capture and sink threads can also lower their own priority (``worker_nice``;
threads they start, such as FFmpeg's, inherit it), so that when decoding,
drawing and encoding want more CPU than the cores have left, they wait
instead of the model. Off by default: nice values rank threads against
every process on the machine, not only this one. Measured with a test run
beside the bench, niced workers starved behind it and took inference down
with them (1080p with recording: 0.46 to 0.65 x bare, while the one-thread
loop held); on a quiet machine they gained 0.02 x bare at most.
"""

from __future__ import annotations

import logging
import os
import sys
import threading

log = logging.getLogger(__name__)


def lower_thread_priority(increment: int) -> bool:
    """Make the calling thread ``increment`` nicer; False where that is not possible.

    Linux keeps a nice value per thread and never needs a privilege to raise
    it; elsewhere ``PRIO_PROCESS`` would mean the whole process, so nothing
    is done."""
    if increment <= 0 or not sys.platform.startswith("linux"):
        return False
    tid = threading.get_native_id()
    try:
        now = os.getpriority(os.PRIO_PROCESS, tid)
        os.setpriority(os.PRIO_PROCESS, tid, min(19, now + increment))
    except OSError as e:
        log.debug("cannot lower the priority of thread %s: %s", threading.current_thread().name, e)
        return False
    return True
