"""SIGTERM and SIGINT at random moments of ``camera-app run``'s first 2 s.

systemd stops a unit at any instant, including while it imports numpy and
OpenCV or loads the model. The CLI installs its handlers first thing (see
camera_app.signals.StopSignals), so wherever a signal lands the process
exits cleanly: SIGTERM 0; SIGINT 130 during start-up and 0 once the run
has started (camera_app/errors.py); within 2 s; no traceback.

Before that first thing is the interpreter's own start-up (site, about
20-50 ms after exec), which no Python code can cover: there SIGTERM kills
the process (systemd counts that as a clean stop) and SIGINT gets Python's
default handling (a KeyboardInterrupt traceback, or nothing when C code
swallows it). A moment that falls there is moved to the instant camera_app's
handlers are in place, read from the process's caught signals (``SigCgt``
in /proc/PID/status); the report counts them.
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from camera_app.cli import main

REPO = Path(__file__).resolve().parents[2]
SEED = 18
TRIES = 20
FIRST_S = 2.0
EXIT_WITHIN_S = 2.0
BOOT_TIMEOUT_S = 10.0

pytestmark = pytest.mark.skipif(
    not Path("/proc/self/status").is_file(), reason="reads /proc/PID/status (Linux)"
)


def handlers_installed(pid: int) -> bool:
    """True once camera_app's handlers are in place: SIGTERM is caught
    (Python itself never catches it; camera_app installs it after SIGINT)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("SigCgt:"):
                    return bool(int(line.split()[1], 16) >> (signal.SIGTERM - 1) & 1)
    except OSError:  # already gone
        pass
    return False


@dataclass
class Try:
    at_s: float
    sent_s: float
    moved: bool
    """The interpreter was still starting at ``at_s``: sent at ``sent_s``,
    once camera_app's handlers were in place."""
    rc: int | None
    exit_s: float
    stderr: str

    @property
    def running(self) -> bool:
        """The pipeline had started (it logs "running ..." when it does)."""
        return any(" INFO" in line and ": running " in line for line in self.stderr.splitlines())

    def __str__(self) -> str:
        where = "running" if self.running else "start-up"
        moved = f" (moved to {self.sent_s:.3f} s: interpreter start-up)" if self.moved else ""
        tail = self.stderr.strip().splitlines()[-1:] if "Traceback" in self.stderr else []
        return (
            f"at {self.at_s:.3f} s{moved}, {where}: rc {self.rc}, "
            f"exited in {self.exit_s:.2f} s {tail}"
        )


def signal_at(cmd: list[str], sig: signal.Signals, at_s: float) -> Try:
    t0 = time.monotonic()
    proc = subprocess.Popen(
        cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=REPO
    )
    wait = threading.Event().wait
    try:
        wait(max(0.0, t0 + at_s - time.monotonic()))  # the stimulus: the moment is the test
        moved = not handlers_installed(proc.pid)
        # /proc is polled: there is no event for another process's handlers
        while moved and not handlers_installed(proc.pid):
            if proc.poll() is not None or time.monotonic() - t0 > BOOT_TIMEOUT_S:
                break
            wait(0.001)
        if proc.poll() is not None:
            raise AssertionError(f"run ended before {at_s:.3f} s:\n{proc.communicate()[1]}")
        proc.send_signal(sig)
        sent = time.monotonic()
        try:
            _, err = proc.communicate(timeout=EXIT_WITHIN_S + 3)
            rc: int | None = proc.returncode
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
            rc = None
        return Try(at_s, sent - t0, moved, rc, time.monotonic() - sent, err)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.timeout(TRIES * (FIRST_S + EXIT_WITHIN_S + 3))  # bounded per try, not per test
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_at_random_moments_exits_cleanly(
    looping_run: Callable[..., list[str]], sig: signal.Signals
) -> None:
    cmd = looping_run("--threads", "1")
    rng = random.Random(SEED + sig)
    tries = [signal_at(cmd, sig, rng.uniform(0.0, FIRST_S)) for _ in range(TRIES)]
    report = "\n".join(map(str, tries))
    print(report)
    for t in tries:
        assert t.rc is not None, f"{t}: still running, killed\n{t.stderr}"
        assert t.exit_s < EXIT_WITHIN_S, f"{t}: too slow to exit\n{report}"
        assert "Traceback" not in t.stderr, f"{t}\n{t.stderr}"
        if sig == signal.SIGTERM:
            assert t.rc == 0, report
        elif "SIGINT during start-up" in t.stderr:
            assert t.rc == 130, report  # (even if the pipeline was then started and stopped)
        elif t.running:
            assert t.rc == 0, report
        else:  # 130 while starting; 0 if the pipeline had just been handed the stop
            assert t.rc in (130, 0), report
    startup = [t for t in tries if not t.running]  # (the running phase: test_run.py too)
    assert startup, f"no signal landed during the start-up:\n{report}"
    if sig == signal.SIGINT:
        assert any(t.rc == 130 for t in startup), report


# -- in process: where the stop lands decides what is cleaned up ---------------------
@pytest.fixture()
def run_args(models_dir: Path, videos_dir: Path, tmp_path: Path) -> list[str]:
    return [
        "run",
        "--model",
        str(models_dir / "ssd_mobilenet_v1_coco_quant.tflite"),
        "--source",
        str(videos_dir / "one-by-one-person-detection.mp4"),
        "--jsonl",
        str(tmp_path / "d.jsonl"),
        "--threads",
        "1",
    ]


@pytest.fixture()
def handlers_restored() -> Iterator[None]:
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    yield
    assert {s: signal.getsignal(s) for s in before} == before


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 0), (signal.SIGINT, 130)])
def test_stop_while_the_model_loads_abandons_the_start_up(
    run_args: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    handlers_restored: None,
    sig: signal.Signals,
    code: int,
) -> None:
    """The source and the sinks are open when the signal lands: they are
    closed, the earlier output is left as it was, nothing runs."""
    import camera_app.app

    jsonl = tmp_path / "d.jsonl"
    jsonl.write_text('{"frame_id": 0, "detections": []}\n')  # an earlier run's output
    real_model = camera_app.app.Model
    sources: list[Any] = []
    real_make_source = camera_app.app.make_source

    def make_source(*args: Any, **kwargs: Any) -> Any:
        sources.append(real_make_source(*args, **kwargs))
        return sources[-1]

    def model_then_signal(*args: Any, **kwargs: Any) -> Any:
        model = real_model(*args, **kwargs)
        signal.raise_signal(sig)  # the handler runs as the load returns to Python
        raise AssertionError("the signal did not interrupt the start-up")
        return model

    monkeypatch.setattr(camera_app.app, "Model", model_then_signal)
    monkeypatch.setattr(camera_app.app, "make_source", make_source)
    assert main(run_args) == code
    err = capsys.readouterr().err
    assert "Traceback" not in err and "running" not in err
    assert jsonl.read_text() == '{"frame_id": 0, "detections": []}\n'
    assert len(sources) == 1 and sources[0]._stopping.is_set()  # the source was stopped


def test_stop_turned_into_another_error_still_exits_cleanly(
    run_args: list[str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    handlers_restored: None,
) -> None:
    """numpy's C code turns an interruption of its ``datetime`` import into
    an ImportError: the stop came first, so it is a stop, not a crash."""
    import camera_app.commands.run as run_command

    def build_run(*args: Any, **kwargs: Any) -> Any:
        try:
            signal.raise_signal(signal.SIGTERM)
        except BaseException as e:
            raise ImportError('PyCapsule_Import could not import module "datetime"') from e
        raise AssertionError("the signal did not interrupt the start-up")

    monkeypatch.setattr(run_command, "build_run", build_run)
    assert main(run_args) == 0
    assert "Traceback" not in capsys.readouterr().err


def test_stop_swallowed_during_the_build_ends_the_start_up_before_the_run(
    run_args: list[str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    handlers_restored: None,
) -> None:
    """An extension module's init that clears the interruption (the TFLite
    runtime's import does): the next checkpoint raises it again, and the
    pipeline built never runs."""
    import camera_app.commands.run as run_command

    built: list[Any] = []
    real_build = run_command.build_run

    def build_run(*args: Any, **kwargs: Any) -> Any:
        try:
            signal.raise_signal(signal.SIGINT)
        except BaseException:
            pass  # lost on the way
        built.append(real_build(*args, **kwargs))
        return built[-1]

    monkeypatch.setattr(run_command, "build_run", build_run)
    assert main(run_args) == 130
    assert "running" not in capsys.readouterr().err
    assert built[0].pipeline.stats.captured == 0
    assert built[0].pipeline.source._stopping.is_set()


def test_stop_before_the_pipeline_takes_it_closes_the_run(
    run_args: list[str],
    monkeypatch: pytest.MonkeyPatch,
    handlers_restored: None,
) -> None:
    """Between the end of start-up and the hand-over nothing has run yet:
    the sinks and the source built are closed (the pipeline would have)."""
    import camera_app.commands.run as run_command

    built: list[Any] = []
    closed: list[str] = []
    real_build, real_hand = run_command.build_run, run_command._hand_stops_to

    def counted(name: str, close: Callable[[], None]) -> Callable[[], None]:
        def wrapper() -> None:
            closed.append(name)
            close()

        return wrapper

    def build_run(*args: Any, **kwargs: Any) -> Any:
        r = real_build(*args, **kwargs)
        for sink in r.sinks:
            monkeypatch.setattr(sink, "close", counted(sink.name, sink.close))
        built.append(r)
        return r

    def signal_then_hand(pipeline: Any) -> bool:
        signal.raise_signal(signal.SIGTERM)
        return real_hand(pipeline)

    monkeypatch.setattr(run_command, "build_run", build_run)
    monkeypatch.setattr(run_command, "_hand_stops_to", signal_then_hand)
    assert main(run_args) == 0
    assert closed == ["jsonl"]
    assert built[0].pipeline.source._stopping.is_set()
    assert built[0].pipeline.stats.captured == 0  # nothing ran


def test_the_cli_installs_its_handlers_before_the_heavy_imports() -> None:
    """What runs before the handlers are in place stays small: importing
    camera_app.cli pulls in no numpy, OpenCV, PyAV or TFLite runtime."""
    code = (
        "import sys, camera_app.cli\n"
        "heavy = {'numpy', 'cv2', 'av', 'ai_edge_litert', 'tflite_runtime'}\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & heavy))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True
    )
    assert out.stdout.strip() == "[]", out.stdout
