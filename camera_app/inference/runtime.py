"""Create a TFLite interpreter from whichever runtime is installed.

Order: ``ai_edge_litert`` (LiteRT, the maintained runtime: Python 3.9-3.13,
numpy 2), then ``tflite_runtime`` (stopped at 2.14: no wheels for Python
3.12+, built against numpy 1.x), then ``tensorflow.lite`` (full TensorFlow,
heavy, but sometimes already installed on a workstation).
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib
import logging
import os
import sys
import tempfile
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from camera_app.errors import DelegateError, ModelError, RuntimeNotFoundError
from camera_app.signals import checkpoint

log = logging.getLogger(__name__)

RUNTIMES: tuple[str, ...] = ("ai_edge_litert", "tflite_runtime", "tensorflow")

EDGETPU_LIBRARY = "libedgetpu.so.1"


@dataclass(frozen=True, slots=True)
class Runtime:
    """The interpreter class and delegate loader of one installed runtime."""

    name: str
    interpreter_cls: Callable[..., Any]
    load_delegate: Callable[..., Any]
    version: str = "?"


@dataclass(frozen=True, slots=True)
class DelegateSpec:
    """An external delegate: a shared library and its options.

    ``edgetpu`` (optionally ``edgetpu:usb``, ``edgetpu:pci``, ``edgetpu:usb:0``)
    is shorthand for the Coral Edge TPU library.
    """

    library: str
    options: dict[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, spec: str) -> DelegateSpec:
        """``edgetpu[:device]`` or ``/path/lib.so[;key=value;...]``."""
        spec = spec.strip()
        if spec == "edgetpu" or spec.startswith("edgetpu:"):
            device = spec.partition(":")[2]
            return cls(EDGETPU_LIBRARY, {"device": device} if device else {})
        lib, *opts = spec.split(";")
        if not lib.strip():
            raise DelegateError(f"delegate {spec!r}: expected edgetpu[:device] or a library path")
        options: dict[str, str] = {}
        for opt in opts:
            key, sep, value = opt.partition("=")
            if not sep or not key.strip():
                raise DelegateError(f"delegate option {opt!r} in {spec!r}: expected key=value")
            options[key.strip()] = value.strip()
        return cls(lib, options)


def _import_runtime(name: str) -> Runtime:
    if name == "ai_edge_litert":
        mod = importlib.import_module("ai_edge_litert.interpreter")
        try:
            from importlib.metadata import version

            ver = version("ai-edge-litert")
        except Exception:
            ver = "?"
        return Runtime(name, mod.Interpreter, mod.load_delegate, ver)
    if name == "tflite_runtime":
        mod = importlib.import_module("tflite_runtime.interpreter")
        ver = getattr(importlib.import_module("tflite_runtime"), "__version__", "?")
        return Runtime(name, mod.Interpreter, mod.load_delegate, ver)
    if name == "tensorflow":
        tf = importlib.import_module("tensorflow")
        return Runtime(
            name, tf.lite.Interpreter, tf.lite.experimental.load_delegate, tf.__version__
        )
    raise ValueError(f"unknown runtime {name!r}; expected one of {', '.join(RUNTIMES)}")


_cached: dict[tuple[str, ...], Runtime] = {}


def find_runtime(order: Sequence[str] = RUNTIMES) -> Runtime:
    """The first runtime in ``order`` that imports; raises if none does."""
    key = tuple(order)
    if key in _cached:
        return _cached[key]
    errors = []
    for name in order:
        try:
            rt = _import_runtime(name)
        except ImportError as e:
            # a stop during the import can leave it failing: stop, rather than
            # import the next runtime (TensorFlow takes seconds)
            checkpoint()
            errors.append(f"{name}: {e}")
            continue
        log.debug("TFLite runtime: %s %s", rt.name, rt.version)
        _cached[key] = rt
        return rt
    raise RuntimeNotFoundError(
        "no TFLite runtime installed: pip install ai-edge-litert "
        "(or tflite-runtime on Python <= 3.11) [" + "; ".join(errors) + "]"
    )


def default_threads() -> int:
    """LiteRT defaults to one thread; use every core this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - non-Linux
        return max(1, os.cpu_count() or 1)


def _hint(spec: DelegateSpec) -> str:
    if spec.library == EDGETPU_LIBRARY:
        return " (is the Coral runtime libedgetpu1-std installed and the TPU plugged in?)"
    return ""


def load_delegates(runtime: Runtime, specs: Sequence[DelegateSpec]) -> list[Any]:
    delegates = []
    for spec in specs:
        try:
            # Probe first: LiteRT's Delegate.__del__ raises noisily when
            # load_delegate fails inside its constructor.
            lib = ctypes.CDLL(spec.library)
        except OSError as e:
            raise DelegateError(f"delegate {spec.library} failed to load{_hint(spec)}: {e}") from e
        if not hasattr(lib, "tflite_plugin_create_delegate"):
            raise DelegateError(
                f"delegate {spec.library} is not a TFLite delegate "
                "(it has no tflite_plugin_create_delegate)"
            )
        try:
            delegates.append(runtime.load_delegate(spec.library, spec.options))
        except (ValueError, OSError, RuntimeError) as e:
            first = str(e).splitlines()[0] if str(e) else repr(e)
            raise DelegateError(
                f"delegate {spec.library} failed to load{_hint(spec)}: {first}"
            ) from e
    return delegates


@contextlib.contextmanager
def _native_stderr_to_log() -> Iterator[None]:
    """Route what the C++ runtime prints on fd 2 (``INFO: Created TensorFlow
    Lite XNNPACK delegate for CPU.``) to this module's logger, so a user's
    terminal shows our log lines and one-line errors only. Used once per
    model load, before any worker thread runs."""
    try:
        saved = os.dup(2)
    except OSError:  # no fd 2 (some service managers): nothing to redirect
        yield
        return
    with tempfile.TemporaryFile() as tmp:
        sys.stderr.flush()
        os.dup2(tmp.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            tmp.seek(0)
            text = tmp.read().decode(errors="replace")
    for line in text.splitlines():
        if line.startswith("INFO:") or not line.strip():
            log.debug("runtime: %s", line)
        else:
            log.warning("runtime: %s", line)


def create_interpreter(
    model_path: str | Path,
    num_threads: int | None = None,
    delegates: Sequence[DelegateSpec] = (),
    runtime: Runtime | None = None,
) -> tuple[Any, Runtime]:
    """Build and allocate an interpreter; returns it and the runtime used.

    Errors are ``ModelError`` with a one-line message naming the file.
    """
    path = Path(model_path)
    if not path.is_file():
        raise ModelError(
            f"model file not found: {path}"
            if not path.exists()
            else f"model path is not a file: {path}"
        )
    try:
        with path.open("rb") as fh:
            head = fh.read(8)
    except OSError as e:
        raise ModelError(f"model file {path}: cannot read it ({e.strerror})") from e
    if len(head) < 8 or head[4:8] != b"TFL3":
        raise ModelError(f"{path} is not a TFLite model (no TFL3 flatbuffer identifier)")
    rt = runtime or find_runtime()
    threads = num_threads if num_threads is not None else default_threads()
    loaded = load_delegates(rt, delegates)
    kwargs: dict[str, Any] = {"model_path": str(path), "num_threads": threads}
    if loaded:
        kwargs["experimental_delegates"] = loaded
    try:
        with _native_stderr_to_log(), warnings.catch_warnings():
            # tensorflow.lite's "tf.lite.Interpreter is deprecated" (every
            # load): the runtime in use is in the log and `camera-app doctor`
            warnings.filterwarnings("ignore", message=r"(?s).*Interpreter is deprecated")
            interp = rt.interpreter_cls(**kwargs)
            interp.allocate_tensors()
    except (ValueError, RuntimeError) as e:
        msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ModelError(f"{path} cannot be loaded by {rt.name}: {msg}") from e
    log.debug("loaded %s with %s, %d threads", path, rt.name, threads)
    return interp, rt
