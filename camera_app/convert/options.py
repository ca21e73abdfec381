"""What ``camera-app convert`` is asked to do, validated before TensorFlow loads."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, get_args

from camera_app.errors import ConfigError

Quantize = Literal["none", "float16", "dynamic", "int8"]
IoDtype = Literal["float32", "uint8", "int8"]

QUANTIZE_MODES: tuple[str, ...] = get_args(Quantize)
IO_DTYPES: tuple[str, ...] = get_args(IoDtype)


@dataclass(frozen=True, slots=True)
class Normalisation:
    """How 0..255 RGB pixels become the SavedModel's float input: ``(p - mean) / std``.

    The same convention as the runtime preprocessor's ``mean``/``std``
    (pixel units), so one pair of numbers describes the model everywhere.
    """

    mean: tuple[float, float, float] = (0.0, 0.0, 0.0)
    std: tuple[float, float, float] = (255.0, 255.0, 255.0)

    PRESETS = ("unit", "symmetric", "imagenet", "raw")

    @classmethod
    def preset(cls, name: str) -> Normalisation:
        """``unit`` [0, 1] (x/255), ``symmetric`` [-1, 1], ``imagenet`` mean/std, ``raw`` 0..255."""
        if name == "unit":
            return cls()
        if name == "symmetric":
            return cls((127.5, 127.5, 127.5), (127.5, 127.5, 127.5))
        if name == "imagenet":
            return cls((123.675, 116.28, 103.53), (58.395, 57.12, 57.375))
        if name == "raw":
            return cls((0.0, 0.0, 0.0), (1.0, 1.0, 1.0))
        raise ConfigError(
            f"convert.normalisation: unknown preset {name!r} "
            f"(expected one of {', '.join(cls.PRESETS)})"
        )

    def __post_init__(self) -> None:
        if len(self.mean) != 3 or len(self.std) != 3:
            raise ConfigError("convert.normalisation: mean and std need 3 values (R, G, B)")
        if any(s == 0 for s in self.std):
            raise ConfigError("convert.normalisation: std must not be 0")

    def to_json(self) -> dict[str, list[float]]:
        return {"mean": list(self.mean), "std": list(self.std)}


@dataclass(frozen=True, slots=True)
class ConvertOptions:
    """Options of one SavedModel -> .tflite conversion.

    ``calibration`` is a source spec (video file, image folder or glob,
    camera index or ``/dev/videoN``): required for ``int8``, and used by every
    mode to measure how closely the result agrees with the SavedModel
    (random pixels are used when it is not given).
    """

    quantize: Quantize = "none"
    io_dtype: IoDtype = "float32"
    calibration: str | None = None
    calibration_frames: int = 100
    allow_select_tf_ops: bool = False
    labels: str | None = None
    num_threads: int = 1
    normalisation: Normalisation = field(default_factory=Normalisation)
    # Agreement samples when no calibration source is given, and invoke
    # timing repeats; both small so a conversion stays quick.
    random_samples: int = 8
    timing_runs: int = 20
    seed: int = 0

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise :class:`ConfigError` naming the first bad option."""
        if self.quantize not in QUANTIZE_MODES:
            raise ConfigError(
                f"convert.quantize: {self.quantize!r} is not one of {', '.join(QUANTIZE_MODES)}"
            )
        if self.io_dtype not in IO_DTYPES:
            raise ConfigError(
                f"convert.io_dtype: {self.io_dtype!r} is not one of {', '.join(IO_DTYPES)}"
            )
        if self.io_dtype != "float32" and self.quantize != "int8":
            raise ConfigError(
                f"convert.io_dtype: {self.io_dtype} inputs/outputs need --quantize int8 "
                f"(got --quantize {self.quantize})"
            )
        if self.quantize == "int8" and not self.calibration:
            raise ConfigError(
                "convert.calibration: --quantize int8 needs calibration frames "
                "(a video file, an image folder or glob, or a camera): pass --calibration"
            )
        if self.calibration_frames < 1:
            raise ConfigError(
                f"convert.calibration_frames: must be at least 1 (got {self.calibration_frames})"
            )
        if self.num_threads < 1:
            raise ConfigError(f"convert.num_threads: must be at least 1 (got {self.num_threads})")
        if self.random_samples < 1 or self.timing_runs < 1:
            raise ConfigError("convert.random_samples and convert.timing_runs must be at least 1")
