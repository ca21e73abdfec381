"""Command line: ``camera-app run|detect|inspect|bench|convert|check-config``.

Errors a user can cause print one line (``camera-app: error: ...``) and exit
non-zero (2 for bad arguments or configuration); ``--debug`` shows the
traceback instead. ``--debug`` and ``--log-level`` go before or after the
command.

SIGINT and SIGTERM are handled from the first instant of :func:`main`,
before the heavy imports (see :mod:`camera_app.signals`): a stop during
start-up abandons it (exit 0 for SIGTERM, 130 for SIGINT), a stop once a
run has started ends it cleanly (exit 0). So this module imports little at
the top; the rest comes after the handlers are in place.
"""

from __future__ import annotations

import sys
from signal import SIGINT

from camera_app.signals import (
    Interrupted,
    StopSignals,
    install_stop_signals,
    installed_stop_signals,
)

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs an import before the handlers are installed
    import argparse
    from collections.abc import Callable, Sequence
    from typing import Any

    Handler = Callable[[argparse.Namespace], int]

LOG_LEVELS = ("debug", "info", "warning", "error")


def build_parser() -> argparse.ArgumentParser:
    from camera_app import __version__
    from camera_app.commands import detect, inspect, run
    from camera_app.commands.args import Parser

    parser = Parser(prog="camera-app", description="Real-time camera vision for the Raspberry Pi.")
    parser.add_argument("--version", action="version", version=f"camera-app {__version__}")
    _add_logging_args(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    for module in (run, detect, inspect):
        module.register(sub)
    _register_optional(sub)
    for command in sub.choices.values():
        _add_logging_args(command, after_command=True)
    return parser


def _add_logging_args(parser: argparse.ArgumentParser, after_command: bool = False) -> None:
    """``--debug`` and ``--log-level`` on ``parser`` and on every (sub)command
    below it: ``camera-app run --debug`` as well as ``camera-app --debug run``.

    After the command the default is "not given" (``SUPPRESS``), so an
    absent flag keeps what was given before the command."""
    import argparse

    if any("--debug" in a.option_strings for a in parser._actions):
        return  # a command under two names (aliases)
    given_before = argparse.SUPPRESS
    parser.add_argument(
        "--debug",
        action="store_true",
        default=given_before if after_command else False,
        help="debug logs and tracebacks",
    )
    parser.add_argument(
        "--log-level", default=given_before if after_command else None, choices=LOG_LEVELS
    )
    for action in parser._actions:  # nested commands: models list|pull
        if isinstance(action, argparse._SubParsersAction):
            for command in action.choices.values():
                _add_logging_args(command, after_command=True)


def _register_optional(sub: Any) -> None:
    """Commands whose modules may be absent from a trimmed install."""
    import importlib

    for name in ("bench", "convert", "check_config", "models", "doctor", "mqtt_clean"):
        try:
            mod = importlib.import_module(f"camera_app.commands.{name}")
        except ModuleNotFoundError as e:
            if e.name != f"camera_app.commands.{name}":
                raise
            continue
        mod.register(sub)


def setup_logging(level: str) -> None:
    from camera_app.logs import setup_logging as setup

    setup(level)


def main(argv: Sequence[str] | None = None) -> int:
    """The ``camera-app`` program; returns the exit code (see camera_app.errors).

    With ``argv`` None (the program itself) the signal handlers stay until
    the process ends, so a signal while the interpreter shuts down is still
    a clean stop; given ``argv`` (a caller in the same process, tests) the
    previous handlers are put back on return.
    """
    outer = installed_stop_signals()
    signals = outer or StopSignals()
    owner = outer is None
    try:
        if owner:
            install_stop_signals(signals)  # first: from here on a stop is clean
        code = _main(sys.argv[1:] if argv is None else list(argv), signals)
    except Interrupted as e:
        return _interrupted(e.signum)
    except KeyboardInterrupt:  # a SIGINT from before the handlers, raised as they are installed
        return _interrupted(SIGINT)
    except BaseException as e:
        if signals.startup_signum is None:
            raise
        # The stop came first and what failed after it is its consequence:
        # C code turns the exception into another (numpy's import of
        # datetime into an ImportError), or cleanup failed on the way out.
        return _interrupted(signals.startup_signum, e)
    else:
        if signals.startup_signum is not None:  # the interruption was swallowed on the way
            return _interrupted(signals.startup_signum)
        return code
    finally:
        if owner and signals.installed:
            if argv is not None:
                signals.restore()
            else:
                signals.hand_over(_nothing)  # the command is over: nothing left to abandon


def _main(args_list: list[str], signals: StopSignals) -> int:
    from camera_app.errors import EXIT_INTERRUPTED, EXIT_USAGE, CameraAppError
    from camera_app.native import detach_python_stderr

    debug = "--debug" in args_list
    try:
        parser = build_parser()
        args = parser.parse_args(args_list)
        signals.check()  # the imports are done: a stop they swallowed ends here
        level = args.log_level or (
            "debug" if args.debug else getattr(args, "default_log_level", "info")
        )
        if getattr(args, "quiet", False) and not args.log_level and not args.debug:
            level = "warning"
        setup_logging(level)
        detach_python_stderr()  # native noise captured around native calls stays out of our logs
        if args.command is None:
            parser.print_help(sys.stderr)
            return EXIT_USAGE
        handler: Handler = args.handler
        return handler(args)
    except CameraAppError as e:
        if signals.startup_signum is not None:
            raise  # the stop came first: see main
        if debug:
            raise
        print(f"camera-app: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:  # SIGINT where our handlers are not installed (not the main thread)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return 0


def _interrupted(signum: int, after: BaseException | None = None) -> int:
    import logging
    import signal

    log = logging.getLogger("camera_app")
    log.info("%s during start-up: not started", signal.Signals(signum).name)
    if after is not None:
        log.debug("after the stop request: %r", after)
    return Interrupted(signum).exit_code


def _nothing() -> None:
    pass


if __name__ == "__main__":
    raise SystemExit(main())
