"""Runtime fallback, delegate specs and model-file errors (camera_app/inference/runtime.py)."""

from __future__ import annotations

import gc
import os
import signal
import sys
import types
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from camera_app.errors import DelegateError, ModelError, RuntimeNotFoundError
from camera_app.inference import runtime
from camera_app.inference.runtime import (
    EDGETPU_LIBRARY,
    RUNTIMES,
    DelegateSpec,
    Runtime,
    create_interpreter,
    default_threads,
    find_runtime,
    load_delegates,
)

SSD = "ssd_mobilenet_v1_coco_quant.tflite"


@pytest.fixture(autouse=True)
def fresh_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test starts with no runtime cached (and leaves the real cache alone)."""
    monkeypatch.setattr(runtime, "_cached", {})


class FakeInterpreter:
    """Records how it was built; enough of the interpreter API for create_interpreter."""

    def __init__(self, **kwargs: Any) -> None:
        self.kwargs = kwargs
        self.allocated = False

    def allocate_tensors(self) -> None:
        self.allocated = True


def fake_load_delegate(library: str, options: dict[str, str] | None = None) -> object:
    return object()


def hide(monkeypatch: pytest.MonkeyPatch, package: str) -> None:
    """Make ``import package`` (and its submodules we use) raise ImportError."""
    for name in (package, f"{package}.interpreter", f"{package}.lite"):
        monkeypatch.setitem(sys.modules, name, None)


def install_fake(monkeypatch: pytest.MonkeyPatch, package: str) -> None:
    """Put a stand-in for ``package`` in sys.modules, as if it were installed."""
    if package == "tensorflow":
        tf = types.ModuleType("tensorflow")
        tf.__version__ = "2.99.0"  # type: ignore[attr-defined]
        tf.lite = types.SimpleNamespace(  # type: ignore[attr-defined]
            Interpreter=FakeInterpreter,
            experimental=types.SimpleNamespace(load_delegate=fake_load_delegate),
        )
        monkeypatch.setitem(sys.modules, "tensorflow", tf)
        return
    top = types.ModuleType(package)
    top.__version__ = "2.14.0"  # type: ignore[attr-defined]
    sub = types.ModuleType(f"{package}.interpreter")
    sub.Interpreter = FakeInterpreter  # type: ignore[attr-defined]
    sub.load_delegate = fake_load_delegate  # type: ignore[attr-defined]
    top.interpreter = sub  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, package, top)
    monkeypatch.setitem(sys.modules, f"{package}.interpreter", sub)


# (packages hidden, packages faked, runtime expected)
FALLBACK_CASES = [
    ((), ("tflite_runtime", "tensorflow"), "ai_edge_litert"),
    (("ai_edge_litert",), ("tflite_runtime", "tensorflow"), "tflite_runtime"),
    (("ai_edge_litert",), ("tflite_runtime",), "tflite_runtime"),
    (("ai_edge_litert", "tflite_runtime"), ("tensorflow",), "tensorflow"),
    (("tflite_runtime", "tensorflow"), ("ai_edge_litert",), "ai_edge_litert"),
]


@pytest.mark.parametrize(("hidden", "faked", "expected"), FALLBACK_CASES)
def test_fallback_order(
    monkeypatch: pytest.MonkeyPatch,
    hidden: tuple[str, ...],
    faked: tuple[str, ...],
    expected: str,
) -> None:
    for package in RUNTIMES:
        if package in hidden:
            hide(monkeypatch, package)
        elif package in faked:
            install_fake(monkeypatch, package)
    if expected == "ai_edge_litert" and "ai_edge_litert" not in faked:
        pytest.importorskip("ai_edge_litert", reason="the real LiteRT runtime is not installed")
    rt = find_runtime()
    assert rt.name == expected
    assert callable(rt.interpreter_cls)
    assert callable(rt.load_delegate)
    assert rt.version not in ("", None)


def test_fallback_reports_the_fake_versions(monkeypatch: pytest.MonkeyPatch) -> None:
    hide(monkeypatch, "ai_edge_litert")
    install_fake(monkeypatch, "tflite_runtime")
    assert find_runtime().version == "2.14.0"
    runtime._cached.clear()
    hide(monkeypatch, "tflite_runtime")
    install_fake(monkeypatch, "tensorflow")
    assert find_runtime().version == "2.99.0"


def test_explicit_order_is_honoured(monkeypatch: pytest.MonkeyPatch) -> None:
    install_fake(monkeypatch, "tensorflow")
    install_fake(monkeypatch, "tflite_runtime")
    assert find_runtime(("tensorflow", "tflite_runtime")).name == "tensorflow"
    assert find_runtime(("tflite_runtime", "tensorflow")).name == "tflite_runtime"


def test_no_runtime_installed_names_the_pip_package(monkeypatch: pytest.MonkeyPatch) -> None:
    for package in RUNTIMES:
        hide(monkeypatch, package)
    with pytest.raises(RuntimeNotFoundError) as info:
        find_runtime()
    message = str(info.value)
    assert "pip install ai-edge-litert" in message
    assert "tflite-runtime" in message
    for package in RUNTIMES:
        assert package in message
    assert "\n" not in message
    assert isinstance(info.value, ModelError)  # the CLI reports it as one line


def test_runtime_is_cached(monkeypatch: pytest.MonkeyPatch) -> None:
    hide(monkeypatch, "ai_edge_litert")
    install_fake(monkeypatch, "tflite_runtime")
    first = find_runtime()
    # Found once, not imported again on every model load.
    hide(monkeypatch, "tflite_runtime")
    assert find_runtime() is first


# -- delegate specs ---------------------------------------------------------------

PARSE_CASES = [
    ("edgetpu", EDGETPU_LIBRARY, {}),
    ("edgetpu:usb", EDGETPU_LIBRARY, {"device": "usb"}),
    ("edgetpu:pci", EDGETPU_LIBRARY, {"device": "pci"}),
    ("edgetpu:usb:0", EDGETPU_LIBRARY, {"device": "usb:0"}),
    (" edgetpu:pci ", EDGETPU_LIBRARY, {"device": "pci"}),
    ("/x/lib.so", "/x/lib.so", {}),
    ("/x/lib.so;a=1;b=2", "/x/lib.so", {"a": "1", "b": "2"}),
    ("/x/lib.so; a = 1 ;b=x=y", "/x/lib.so", {"a": "1", "b": "x=y"}),
    ("/x/libhexagon.so;backend=htp", "/x/libhexagon.so", {"backend": "htp"}),
]


@pytest.mark.parametrize(("spec", "library", "options"), PARSE_CASES)
def test_delegate_spec_parse(spec: str, library: str, options: dict[str, str]) -> None:
    parsed = DelegateSpec.parse(spec)
    assert parsed.library == library
    assert parsed.options == options


@pytest.mark.parametrize("spec", ["/x/lib.so;novalue", "/x/lib.so;=1", "/x/lib.so;a=1;b"])
def test_delegate_spec_bad_option(spec: str) -> None:
    with pytest.raises(DelegateError, match="expected key=value") as info:
        DelegateSpec.parse(spec)
    assert spec in str(info.value)


def _real_runtime() -> Runtime:
    pytest.importorskip("ai_edge_litert", reason="the real LiteRT runtime is not installed")
    return find_runtime()


@pytest.mark.parametrize(
    ("spec", "hint"),
    [
        ("/nonexistent/libnodelegate.so", ""),
        ("edgetpu", "libedgetpu1-std"),
        ("edgetpu:usb:0", "libedgetpu1-std"),
        # A real shared library that is not a TFLite delegate (no plugin symbols).
        ("libm.so.6", ""),
    ],
)
def test_delegate_that_cannot_load(capfd: pytest.CaptureFixture[str], spec: str, hint: str) -> None:
    rt = _real_runtime()
    parsed = DelegateSpec.parse(spec)
    with pytest.raises(DelegateError) as info:
        load_delegates(rt, [parsed])
    message = str(info.value)
    del info  # drop the frames that hold a half-built delegate, then collect it
    assert parsed.library in message
    assert hint in message
    assert "\n" not in message
    gc.collect()
    err = capfd.readouterr().err
    assert "Traceback" not in err
    assert "Exception ignored" not in err


def test_no_delegates_loads_nothing() -> None:
    assert load_delegates(_real_runtime(), []) == []


# -- model files ------------------------------------------------------------------


def _missing(tmp: Path, models: Path) -> Path:
    return tmp / "nosuch.tflite"


def _directory(tmp: Path, models: Path) -> Path:
    d = tmp / "folder.tflite"
    d.mkdir()
    return d


def _text_file(tmp: Path, models: Path) -> Path:
    p = tmp / "notes.tflite"
    p.write_text("this is not a model\n")
    return p


def _empty(tmp: Path, models: Path) -> Path:
    p = tmp / "empty.tflite"
    p.write_bytes(b"")
    return p


def _truncated(tmp: Path, models: Path) -> Path:
    p = tmp / "truncated.tflite"
    p.write_bytes((models / SSD).read_bytes()[:100_000])
    return p


def _identifier_only(tmp: Path, models: Path) -> Path:
    p = tmp / "header.tflite"
    p.write_bytes(b"\x1c\x00\x00\x00TFL3" + b"\x00" * 64)
    return p


MODEL_FILE_CASES: list[tuple[Callable[[Path, Path], Path], str]] = [
    (_missing, "not found"),
    (_directory, "not a file"),
    (_text_file, "not a TFLite model"),
    (_empty, "not a TFLite model"),
    (_truncated, "cannot be loaded"),
    (_identifier_only, "cannot be loaded"),
]


@pytest.mark.parametrize(("make", "expected"), MODEL_FILE_CASES)
def test_bad_model_file(
    tmp_path: Path,
    models_dir: Path,
    capfd: pytest.CaptureFixture[str],
    make: Callable[[Path, Path], Path],
    expected: str,
) -> None:
    path = make(tmp_path, models_dir)
    with pytest.raises(ModelError) as info:
        create_interpreter(path, runtime=_real_runtime())
    message = str(info.value)
    assert expected in message
    assert str(path) in message
    assert "\n" not in message
    assert "Traceback" not in capfd.readouterr().err


def test_interpreter_failure_is_one_line(tmp_path: Path, models_dir: Path) -> None:
    class Broken(FakeInterpreter):
        def allocate_tensors(self) -> None:
            raise RuntimeError("first line\nsecond line\nthird line")

    rt = Runtime("fake", Broken, fake_load_delegate)
    with pytest.raises(ModelError) as info:
        create_interpreter(models_dir / SSD, runtime=rt)
    assert str(info.value) == f"{models_dir / SSD} cannot be loaded by fake: first line"


# -- threads ----------------------------------------------------------------------


def test_default_threads_is_the_core_count() -> None:
    assert default_threads() == len(os.sched_getaffinity(0))
    assert default_threads() >= 1


@pytest.mark.parametrize(("num_threads", "expected"), [(None, "cores"), (1, 1), (3, 3)])
def test_num_threads_reaches_the_interpreter(
    models_dir: Path, num_threads: int | None, expected: int | str
) -> None:
    rt = Runtime("fake", FakeInterpreter, fake_load_delegate)
    interp, used = create_interpreter(models_dir / SSD, num_threads=num_threads, runtime=rt)
    assert used is rt
    assert interp.allocated
    want = len(os.sched_getaffinity(0)) if expected == "cores" else expected
    assert interp.kwargs["num_threads"] == want
    assert interp.kwargs["model_path"] == str(models_dir / SSD)
    assert "experimental_delegates" not in interp.kwargs


def test_real_interpreter_loads(models_dir: Path) -> None:
    interp, rt = create_interpreter(models_dir / SSD, runtime=_real_runtime())
    assert rt.name == "ai_edge_litert"
    assert list(interp.get_input_details()[0]["shape"]) == [1, 300, 300, 3]


def test_a_stop_during_a_failed_import_does_not_try_the_next_runtime(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """SIGTERM while ai_edge_litert imports can make that import fail; the
    next runtime (TensorFlow: seconds to import) must not be started then."""
    from camera_app.signals import Interrupted

    hide(monkeypatch, "ai_edge_litert")
    install_fake(monkeypatch, "tensorflow")
    tried: list[str] = []
    real_import = runtime._import_runtime

    def spy(name: str) -> runtime.Runtime:
        tried.append(name)
        return real_import(name)

    def stopped() -> None:
        raise Interrupted(signal.SIGTERM)

    monkeypatch.setattr(runtime, "_import_runtime", spy)
    monkeypatch.setattr(runtime, "checkpoint", stopped)
    with pytest.raises(Interrupted):
        find_runtime()
    assert tried == ["ai_edge_litert"]


def test_tensorflows_deprecation_warning_is_not_printed(
    monkeypatch: pytest.MonkeyPatch, models_dir: Path
) -> None:
    class DeprecatedInterpreter(FakeInterpreter):
        def __init__(self, **kwargs: Any) -> None:
            warnings.warn(  # what tensorflow.lite's Interpreter says on every load
                "    Warning: tf.lite.Interpreter is deprecated and is scheduled for deletion in\n"
                "    TF 2.20. Please use the LiteRT interpreter from the ai_edge_litert package.",
                stacklevel=2,
            )
            super().__init__(**kwargs)

    rt = runtime.Runtime("tensorflow", DeprecatedInterpreter, fake_load_delegate, "2.99.0")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        interp, _ = create_interpreter(models_dir / SSD, runtime=rt)
    assert interp.allocated
    assert caught == []
