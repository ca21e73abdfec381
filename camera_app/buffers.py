"""Reusing frame-sized buffers instead of allocating one per frame.

A full-HD BGR frame is 6 MB. Allocating a fresh one for every decoded or
annotated frame costs more than copying it: the kernel hands out new pages
and zeroes them (about 2.5 ms per 1080p frame on the bench machine, as much
as the decode itself). A :class:`BufferPool` keeps the buffers it handed
out and gives one back when nothing refers to it any more.

"Nothing refers to it" is CPython's own reference count: a frame, a result,
a queue entry or a numpy view of the buffer (views keep their base alive)
all hold a reference, so a buffer whose only holder is the pool can be
overwritten safely. The count a free buffer has at the check is measured
once, on this interpreter, rather than assumed.
"""

from __future__ import annotations

import sys
import threading

import numpy as np


class BufferPool:
    """Up to ``capacity`` reusable arrays; more are allocated (and counted)
    when every pooled one is still in use, so a slow consumer never sees its
    buffer overwritten. Thread-safe."""

    def __init__(self, capacity: int = 16) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1, got {capacity}")
        self.capacity = capacity
        self._buffers: list[np.ndarray] = []
        self._lock = threading.Lock()
        self.allocations = 0
        """Arrays created so far (pooled or not); flat once warmed up."""

    def get(self, shape: tuple[int, ...], dtype: np.dtype | type = np.uint8) -> np.ndarray:
        """An array of ``shape``/``dtype`` nobody else holds (contents undefined)."""
        dt = np.dtype(dtype)
        with self._lock:
            for i in range(len(self._buffers)):
                if _is_free(self._buffers, i):
                    buf = self._buffers[i]
                    if buf.shape == shape and buf.dtype == dt:
                        return buf
            buf = np.empty(shape, dt)
            self.allocations += 1
            if len(self._buffers) < self.capacity:
                self._buffers.append(buf)
            else:  # replace a free buffer of another size (the stream changed size)
                for i in range(len(self._buffers)):
                    if _is_free(self._buffers, i):
                        self._buffers[i] = buf
                        break
            return buf

    def __len__(self) -> int:
        return len(self._buffers)

    def clear(self) -> None:
        with self._lock:
            self._buffers.clear()


def _refs(buffers: list[np.ndarray], i: int) -> int:
    return sys.getrefcount(buffers[i])


def _free_refs() -> int:
    """The count ``_refs`` gives for a buffer only the pool's list holds."""
    probe = [np.empty(1, np.uint8)]
    return _refs(probe, 0)


_FREE_REFS = _free_refs()


def _is_free(buffers: list[np.ndarray], i: int) -> bool:
    return _refs(buffers, i) <= _FREE_REFS
