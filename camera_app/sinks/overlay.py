"""Sinks that show the annotated picture (recording, previews).

The drawing itself lives in :mod:`camera_app.annotators`; this module keeps
the sink base class that binds the shared :class:`Annotator` to the run's
stats (the HUD), and the names sinks have always imported from here.
"""

from __future__ import annotations

from collections.abc import Callable

from camera_app.annotators import Annotator, color_of, draw_result, hud_text
from camera_app.sinks.base import BaseSink
from camera_app.stats import PipelineStats

__all__ = ["AnnotatingSink", "Annotator", "color_of", "draw_result", "hud_text"]


class AnnotatingSink(BaseSink):
    """A sink that shows the annotated picture: its shared
    :class:`Annotator` draws the HUD from the run's stats."""

    annotator: Annotator

    def bind(self, stats: PipelineStats, stop: Callable[[], None]) -> None:
        super().bind(stats, stop)
        if self.annotator.stats is None:
            self.annotator.stats = stats
