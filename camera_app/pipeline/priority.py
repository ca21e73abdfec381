"""Thread priorities: workers may yield to inference (Linux only)."""

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
