"""SIGINT/SIGTERM handling from the first instant of the CLI (camera_app/signals.py).

The whole-process behaviour (signals at random moments of ``camera-app
run``) is in tests/commands/test_signals.py.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator

import pytest

from camera_app.signals import (
    Interrupted,
    StopSignals,
    install_stop_signals,
    installed_stop_signals,
)


@pytest.fixture()
def exits() -> list[int]:
    """What ``force_exit`` was called with."""
    return []


@pytest.fixture()
def stop_signals(exits: list[int]) -> Iterator[StopSignals]:
    before = {s: signal.getsignal(s) for s in StopSignals.SIGNALS}
    signals = StopSignals(force_exit=exits.append)
    signals.install()
    yield signals
    signals.restore()
    assert {s: signal.getsignal(s) for s in StopSignals.SIGNALS} == before


@pytest.mark.parametrize(
    ("signum", "exit_code"), [(signal.SIGTERM, 0), (signal.SIGINT, 130)], ids=["TERM", "INT"]
)
def test_signal_during_start_up_raises_interrupted(
    stop_signals: StopSignals, signum: signal.Signals, exit_code: int
) -> None:
    with pytest.raises(Interrupted) as raised:
        signal.raise_signal(signum)
    assert raised.value.signum == signum
    assert raised.value.exit_code == exit_code
    assert stop_signals.startup_signum == signum
    assert not isinstance(raised.value, Exception)  # `except Exception` cleanup lets it through


def test_after_hand_over_the_first_signal_stops_the_second_exits(
    stop_signals: StopSignals, exits: list[int]
) -> None:
    stops: list[str] = []
    stop_signals.hand_over(lambda: stops.append("stop"))
    signal.raise_signal(signal.SIGINT)  # no exception: the pipeline finishes
    assert stops == ["stop"]
    assert stop_signals.startup_signum is None
    signal.raise_signal(signal.SIGTERM)
    assert stops == ["stop"]
    assert exits == [128 + signal.SIGTERM]


def test_second_signal_during_start_up_exits_at_once(
    stop_signals: StopSignals, exits: list[int]
) -> None:
    with pytest.raises(Interrupted):
        signal.raise_signal(signal.SIGTERM)
    signal.raise_signal(signal.SIGINT)  # e.g. while the start-up cleans up
    assert exits == [128 + signal.SIGINT]


def test_check_raises_again_a_signal_swallowed_during_start_up(
    stop_signals: StopSignals,
) -> None:
    stop_signals.check()  # nothing received: a no-op
    try:
        signal.raise_signal(signal.SIGINT)
    except BaseException:  # C code that clears the error, or turns it into another
        pass
    with pytest.raises(Interrupted) as raised:
        stop_signals.check()
    assert raised.value.exit_code == 130
    stop_signals.hand_over(lambda: None)
    stop_signals.check()  # the stop belongs to the pipeline now


def test_hand_over_after_a_swallowed_signal_stops_at_once(stop_signals: StopSignals) -> None:
    """C code may turn the interruption into another exception and carry on;
    the pipeline handed the stop afterwards is stopped before it runs."""
    try:
        signal.raise_signal(signal.SIGTERM)
    except BaseException as e:
        assert isinstance(e, Interrupted)
    stops: list[str] = []
    stop_signals.hand_over(lambda: stops.append("stop"))
    assert stops == ["stop"]


def test_install_stop_signals_off_the_main_thread_is_inert() -> None:
    out: list[StopSignals] = []
    thread = threading.Thread(target=lambda: out.append(install_stop_signals()))
    thread.start()
    thread.join(5)
    assert len(out) == 1 and not out[0].installed
    assert installed_stop_signals() is None


def test_install_stop_signals_is_the_process_wide_instance() -> None:
    before = signal.getsignal(signal.SIGTERM)
    signals = install_stop_signals()
    try:
        assert signals.installed
        assert installed_stop_signals() is signals
        assert install_stop_signals() is signals
        assert signal.getsignal(signal.SIGTERM) != before
    finally:
        signals.restore()
    assert installed_stop_signals() is None
    assert signal.getsignal(signal.SIGTERM) == before
