"""ConvertOptions and Normalisation validation."""

from __future__ import annotations

from typing import Any

import pytest

from camera_app.convert import ConvertOptions, Normalisation
from camera_app.errors import ConfigError


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"quantize": "int8"}, "needs calibration frames"),
        ({"quantize": "float16", "io_dtype": "uint8"}, "need --quantize int8"),
        ({"quantize": "int4"}, "is not one of"),
        ({"io_dtype": "float16"}, "is not one of"),
        ({"calibration_frames": 0}, "at least 1"),
        ({"num_threads": 0}, "at least 1"),
    ],
)
def test_bad_options(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        ConvertOptions(**kwargs)


def test_normalisation_presets() -> None:
    assert Normalisation.preset("unit") == Normalisation()
    assert Normalisation.preset("symmetric").mean == (127.5, 127.5, 127.5)
    with pytest.raises(ConfigError, match="unknown preset"):
        Normalisation.preset("zscore")


@pytest.mark.parametrize(
    ("mean", "std", "match"),
    [
        ((0.0, 0.0), (1.0, 1.0, 1.0), "3 values"),
        ((0.0, 0.0, 0.0), (1.0, 0.0, 1.0), "must not be 0"),
    ],
)
def test_bad_normalisation(mean: tuple[float, ...], std: tuple[float, ...], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        Normalisation(mean, std)  # type: ignore[arg-type]
