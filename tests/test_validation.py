"""The generic config validator: arrays of tables, tables by name, validate() hooks."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pytest

from camera_app.errors import ConfigError
from camera_app.validation import build, opt


@dataclass(frozen=True, slots=True)
class _Zone:
    name: str = opt("", "zone name")
    points: tuple[tuple[float, float], ...] = opt((), "polygon")

    def validate(self) -> None:
        if len(self.points) < 3:
            raise ConfigError(f"points: expected at least 3 points, got {len(self.points)}")


@dataclass(frozen=True, slots=True)
class _Filter:
    min_score: float = opt(0.5, "score", ge=0, le=1)


@dataclass(frozen=True, slots=True)
class _Root:
    zones: tuple[_Zone, ...] = opt((), "zones")
    filters: Mapping[str, _Filter] = field(default_factory=dict)


def test_arrays_of_tables_and_tables_by_name_are_built() -> None:
    cfg = build(
        _Root,
        {
            "zones": [{"name": "door", "points": [[0, 0], [1, 0], [1, 1]]}],
            "filters": {"person": {"min_score": 0.6}},
        },
    )
    assert cfg.zones[0].name == "door" and cfg.zones[0].points[2] == (1.0, 1.0)
    assert cfg.filters["person"].min_score == 0.6


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"zones": {"name": "x"}}, "zones: expected an array of tables [[zones]]"),
        ({"zones": [{"nam": "x"}]}, 'unknown key "nam" in [zones[0]] (did you mean "name"?)'),
        ({"zones": [{"name": "x", "points": [[0, 0]]}]}, "zones[0].points: expected at least 3"),
        ({"filters": {"person": {"min_score": 2}}}, "filters.person.min_score: expected a number"),
        ({"filters": [1]}, "filters: expected a table [filters.<name>]"),
    ],
)
def test_errors_name_the_key_path(data: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as e:
        build(_Root, data)
    assert str(e.value).startswith(message), str(e.value)
