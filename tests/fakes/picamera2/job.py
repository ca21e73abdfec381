"""Fake of ``picamera2.job``: work the camera event loop completes for a caller.

Same contract as the real ``Job``: a list of ``() -> (done, result)``
functions tried once per frame, a ``concurrent.futures.Future`` for the
result, ``get_result(timeout)`` raising ``TimeoutError`` (which does not cancel
the job), ``cancel()`` making ``get_result`` raise ``CancelledError``, and an
optional ``signal_function(job)`` called when the job finishes.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import CancelledError, Future
from typing import Any

JobFunction = Callable[[], tuple[bool, Any]]


class Job:
    def __init__(
        self, functions: list[JobFunction], signal_function: Callable[[Job], None] | None = None
    ) -> None:
        self._functions = list(functions)
        self._future: Future[Any] = Future()
        self._future.set_running_or_notify_cancel()
        self._signal_function = signal_function
        self._result: Any = None
        self.calls = 0

    def execute(self) -> bool:
        """Run the pending functions; True once the job is finished."""
        assert self._functions, "Job already completed!"
        try:
            while self._functions:
                done, result = self._functions[0]()
                self.calls += 1
                if not done:
                    break
                self._functions.pop(0)
                self._result = result
        except Exception as e:
            self._future.set_exception(e)
            self._functions = []
        return not self._functions

    def signal(self) -> None:
        assert not self._functions, "Job not finished!"
        if not self._future.done():
            self._future.set_result(self._result)
        if self._signal_function:
            self._signal_function(self)

    def get_result(self, timeout: float | None = None) -> Any:
        return self._future.result(timeout=timeout)

    def cancel(self) -> None:
        self._future.set_exception(CancelledError())
