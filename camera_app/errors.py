"""Exception classes, and the one rule for exit codes.

Every error a user can cause is a :class:`CameraAppError`: the CLI prints
``camera-app: error: <message>`` as a single line and exits with the
error's ``exit_code`` (``--debug`` shows the traceback instead). Anything
else is a bug and shows a traceback.

Exit codes, the same for every command:

``0``
    Success, or stopped on request: SIGTERM at any moment (start-up
    included), SIGINT (Ctrl-C) once the run has started. A service stopped
    by systemd did not fail.
``1`` (:data:`EXIT_FAILED`, :class:`RunError` and its subclasses)
    The run started, then failed: the camera died and reconnecting is off,
    a video could not be read on, a disk filled up, the model crashed.
    Retrying the same command may work.
``2`` (:data:`EXIT_USAGE`, every other :class:`CameraAppError`)
    camera-app refused to start because what it was given is wrong or
    unusable: a bad flag or config key, a missing or unreadable file, a
    file that is not a model (or not an image, or not a video), an
    unsupported source string, a camera that does not exist
    (``/dev/video99``), a stream that cannot be opened, an output it cannot
    create (``--record x.xyz``, a folder that does not exist), a delegate
    or runtime that is not installed. Fix the command, the configuration
    or the thing it names, then retry.
``130`` (:data:`EXIT_INTERRUPTED`)
    SIGINT during start-up (imports, model load, opening the source and
    outputs; the handlers are installed at the CLI's first line,
    :mod:`camera_app.signals`): nothing was started, the shell's convention
    for an interrupted command. Once the pipeline has the stop, SIGINT ends
    the run like SIGTERM: 0. Before camera_app's first line (the
    interpreter's own start-up, tens of ms) a signal gets Python's default
    handling.

Library code picks the class by *when* it fails, not by which component:
``SourceError`` when a source cannot be opened, ``SourceLostError`` when
one stops delivering during the run; ``SinkError`` when an output cannot
be opened, ``SinkFailedError`` when writing to it fails later;
``ModelError`` for a model that cannot be loaded, ``InferenceError`` for
one that fails while running. Each ``*Failed``/``*Lost`` class is also a
``RunError`` and still an instance of its component's class, so
``except SourceError`` catches both.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILED = 1
"""The run started, then failed."""
EXIT_USAGE = 2
"""The input or configuration is wrong: nothing was started."""
EXIT_INTERRUPTED = 130
"""SIGINT before the run started (128 + SIGINT)."""


class CameraAppError(Exception):
    """Base class: a problem the user can fix, reported as one line.

    Exits 2 (:data:`EXIT_USAGE`) unless it is a :class:`RunError`.
    """

    exit_code = EXIT_USAGE


class RunError(CameraAppError):
    """The run started, then failed (exit 1). Also usable on its own for a
    run-time failure no more specific class fits."""

    exit_code = EXIT_FAILED


class UsageError(CameraAppError):
    """Bad command-line arguments."""


class ConfigError(CameraAppError):
    """Invalid configuration; the message names the key path."""


class ModelError(CameraAppError):
    """A model file that cannot be loaded, inspected or decoded."""


class InferenceError(ModelError, RunError):
    """A loaded model that failed while running (``invoke`` raised)."""

    exit_code = EXIT_FAILED


class LabelsError(CameraAppError):
    """A labels file that cannot be read or parsed."""


class RuntimeNotFoundError(ModelError):
    """No TFLite interpreter package is installed."""


class DelegateError(ModelError):
    """A delegate library that could not be loaded."""


class SourceError(CameraAppError):
    """A capture source that cannot be opened (or a bad source string)."""


class SourceUnavailableError(SourceError):
    """A camera or stream that is not there right now: no camera detected,
    a device that is unplugged or busy, a network camera that does not
    answer or sends no frame yet. Retrying later may work: a service with
    ``[service] wait = true`` waits for it (:mod:`camera_app.startup`);
    the command line exits 2 like any other ``SourceError``."""


class SourceLostError(SourceError, RunError):
    """A source that stopped delivering frames during the run (device
    error, no frame in time, a file that cannot be read on)."""

    exit_code = EXIT_FAILED


class SinkError(CameraAppError):
    """A results consumer that cannot be opened (bad path, unknown file
    type, folder missing or read-only, encoder missing)."""


class SinkFailedError(SinkError, RunError):
    """A results consumer that failed during the run (disk full, a write
    or an encode that failed)."""

    exit_code = EXIT_FAILED


class ImageError(CameraAppError):
    """An image file that cannot be read."""
