"""Exception classes. Every error a user can cause is one of these.

The CLI prints ``str(error)`` as a single line and exits with ``exit_code``;
anything else is a bug and shows a traceback.
"""

from __future__ import annotations


class CameraAppError(Exception):
    """Base class: a problem the user can fix, reported as one line."""

    exit_code = 1


class UsageError(CameraAppError):
    """Bad command-line arguments."""

    exit_code = 2


class ConfigError(CameraAppError):
    """Invalid configuration; the message names the key path."""

    exit_code = 2


class ModelError(CameraAppError):
    """A model file that cannot be loaded, inspected or decoded."""


class LabelsError(CameraAppError):
    """A labels file that cannot be read or parsed."""


class RuntimeNotFoundError(ModelError):
    """No TFLite interpreter package is installed."""


class DelegateError(ModelError):
    """A delegate library that could not be loaded."""


class SourceError(CameraAppError):
    """A capture source that cannot be opened or stopped delivering frames."""


class SinkError(CameraAppError):
    """A results consumer that failed (disk full, encoder missing, ...)."""


class ImageError(CameraAppError):
    """An image file that cannot be read."""
