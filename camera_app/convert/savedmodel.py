"""The SavedModel side of a conversion: checks, its image input, reference outputs.

TensorFlow is imported here only, lazily, by :func:`import_tensorflow`: the
runtime package never needs it.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from camera_app.errors import ModelError, RuntimeNotFoundError

log = logging.getLogger(__name__)

SIGNATURE_KEY = "serving_default"
_MARKERS = ("saved_model.pb", "saved_model.pbtxt")


def import_tensorflow() -> Any:
    """``tensorflow``, or :class:`RuntimeNotFoundError` naming the extra to install."""
    # TensorFlow's C++ logging floods the terminal; keep warnings and errors
    # unless the user asked for something else.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        import tensorflow as tf
    except ImportError as e:
        raise RuntimeNotFoundError(
            "model conversion needs TensorFlow: pip install 'camera_app[convert]' "
            "(tensorflow-cpu on x86_64) on a workstation, not on the Pi"
        ) from e
    return tf


def check_saved_model_dir(path: Path) -> None:
    """One-line :class:`ModelError` for a missing folder or one that is not a SavedModel."""
    if not path.exists():
        raise ModelError(f"SavedModel folder not found: {path}")
    if not path.is_dir():
        raise ModelError(
            f"{path} is a file, not a SavedModel folder (expected a folder with saved_model.pb)"
        )
    if not any((path / m).is_file() for m in _MARKERS):
        raise ModelError(
            f"{path} is not a SavedModel: no saved_model.pb in it "
            "(export one with model.export(dir) or tf.saved_model.save)"
        )


def folder_size_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


@dataclass(frozen=True, slots=True)
class SavedModelInput:
    """The one image input of a SavedModel's serving signature (NHWC)."""

    name: str
    size_wh: tuple[int, int]
    channels: int
    dtype: np.dtype


class SavedModel:
    """A loaded SavedModel's serving signature: its input and reference outputs."""

    def __init__(self, tf: Any, path: Path) -> None:
        self._tf = tf
        self.path = path
        try:
            loaded = tf.saved_model.load(str(path))
        except Exception as e:  # TF raises many types for a broken SavedModel
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise ModelError(f"{path}: cannot load the SavedModel: {first}") from e
        self._loaded = loaded  # keeps the signature's variables alive
        signatures = dict(loaded.signatures)
        if not signatures:
            raise ModelError(
                f"{path}: the SavedModel has no serving signature "
                "(export it with model.export(dir), or tf.saved_model.save with signatures=)"
            )
        self.signature_key = (
            SIGNATURE_KEY if SIGNATURE_KEY in signatures else next(iter(signatures))
        )
        self._fn = signatures[self.signature_key]
        self.input = self._image_input()

    def _image_input(self) -> SavedModelInput:
        args, kwargs = self._fn.structured_input_signature
        specs = dict(kwargs)
        if len(specs) != 1 or args:
            names = ", ".join(specs) or "positional arguments"
            raise ModelError(
                f"{self.path}: signature {self.signature_key!r} takes {len(specs) + len(args)} "
                f"inputs ({names}); camera models take exactly one image"
            )
        name, spec = next(iter(specs.items()))
        shape = list(spec.shape)
        if len(shape) != 4 or shape[3] not in (1, 3):
            raise ModelError(
                f"{self.path}: input {name!r} has shape {shape}; expected an image batch "
                "[batch, height, width, 3] (NHWC)"
            )
        if shape[1] is None or shape[2] is None:
            raise ModelError(
                f"{self.path}: input {name!r} has a dynamic size {shape}; export the model "
                "with a fixed height and width"
            )
        dtype = np.dtype(spec.dtype.as_numpy_dtype)
        if dtype not in (np.float32, np.uint8):
            raise ModelError(
                f"{self.path}: input {name!r} is {dtype.name}; expected float32 or uint8"
            )
        return SavedModelInput(name, (int(shape[2]), int(shape[1])), int(shape[3]), dtype)

    def __call__(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        """Reference outputs (float32, by signature output name) for one [1, H, W, C] batch."""
        out = self._fn(**{self.input.name: self._tf.constant(batch)})
        return {k: np.asarray(v.numpy(), dtype=np.float32) for k, v in out.items()}
