"""``[[masks]]``: polygons where detections are ignored (by the bottom centre
of their box), optionally for some labels only. The filter stage applies them
(:class:`~camera_app.analysis.filters.ObjectFilterProcessor`); this component
only owns the section."""

from __future__ import annotations

from typing import TYPE_CHECKING

from camera_app.analysis.filters import MaskConfig

if TYPE_CHECKING:
    from camera_app.components import BuildContext

CONFIG = tuple[MaskConfig, ...]


def build(config: tuple[MaskConfig, ...], ctx: BuildContext) -> None:
    return None
