"""Per-label object filters and masks (Frigate's ``objects`` and ``masks``).

Runs before the tracker. It drops detections of labels not in
``[objects] track``, boxes outside ``min_area``/``max_area`` or
``min_ratio``/``max_ratio``, and boxes whose bottom centre lies in a mask.

Scores are two-level, for the tracker: a detection at or above its label's
``min_score`` is a real detection (it may start and confirm a track); one
between ``low_score`` and ``min_score`` is only kept so that the tracker's
second stage can use it to keep a confirmed track alive through a dip; the
tracker then drops it unless it matched (:mod:`.tracking`). Without a tracker
(``tracking=False``) every detection below ``min_score`` is dropped here.

``threshold`` (a track is a true positive once the median of its recent
scores reaches it) needs a track's history, so the tracking stage applies it
(``data["true_positive"]``); it is configured here, per label, beside
``min_score``.

Defaults: ``min_score`` 0.5 as Frigate. ``threshold`` 0.6, not Frigate's
0.7, measured with the fixture SSD (quantised MobileNet v1) on
``one-by-one-person-detection.mp4``: the table top it calls "tv" peaks at a
median (last 10 scores) of 0.52; the six people peak at 0.699-0.824 at
10, 3.3 and 2 fps. The first person never passes 0.699, so 0.7 would miss
them; 0.6 leaves a margin of about 0.08 on both sides.
``low_score`` 0.2: what the decoders must still return for the tracker
(ByteTrack uses 0.1; the SSD gives its 10 best boxes anyway).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING

import numpy as np

from camera_app.analysis.base import BaseProcessor
from camera_app.analysis.geometry import bottom_center, points_in_polygon, polygon_pixels
from camera_app.components import tracking_wanted
from camera_app.errors import ConfigError
from camera_app.results import FrameResult, LabelLookup
from camera_app.validation import opt

if TYPE_CHECKING:
    from camera_app.components import BuildContext

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class FilterConfig:
    """[objects.filters.<label>] settings for one label (absent: [objects]'s)."""

    min_score: float | None = opt(None, "lowest score of a detection that counts", ge=0, le=1)
    threshold: float | None = opt(
        None, "median score a track needs to become a true positive", ge=0, le=1
    )
    min_area: float = opt(0.0, "smallest box: pixels, or a fraction of the frame when < 1", ge=0)
    max_area: float | None = opt(
        None, "largest box: pixels, or a fraction of the frame when < 1", gt=0
    )
    min_ratio: float = opt(0.0, "smallest width / height of a box", ge=0)
    max_ratio: float | None = opt(None, "largest width / height of a box", gt=0)

    def validate(self) -> None:
        if self.max_ratio is not None and self.max_ratio < self.min_ratio:
            raise ConfigError(f"max_ratio: expected >= min_ratio ({self.min_ratio:g})")


@dataclass(frozen=True, slots=True)
class MaskConfig:
    """[[masks]] a polygon where detections are ignored (by their box's bottom centre)."""

    points: tuple[tuple[float, float], ...] = opt(
        (), "polygon vertices [[x, y], ...]: fractions of the frame (all in 0-1) or pixels", ge=0
    )
    objects: tuple[str, ...] = opt((), "labels the mask applies to; empty: every label")

    def validate(self) -> None:
        if len(self.points) < 3:
            raise ConfigError(f"points: expected at least 3 [x, y] points, got {len(self.points)}")


@dataclass(frozen=True, slots=True)
class ObjectsConfig:
    """[objects] which labels are tracked and how scores are judged."""

    track: tuple[str, ...] = opt((), "labels kept; empty: every label")
    min_score: float = opt(0.5, "default lowest score of a detection that counts", ge=0, le=1)
    threshold: float = opt(
        0.6, "default median score a track needs to become a true positive", ge=0, le=1
    )
    low_score: float = opt(
        0.2, "detections down to this score still keep a confirmed track alive", ge=0, le=1
    )
    filters: Mapping[str, FilterConfig] = field(
        default_factory=lambda: MappingProxyType({}),
        metadata={"help": "per-label settings: [objects.filters.<label>]"},
    )

    def validate(self) -> None:
        for label in self.filters:
            if self.track and label not in self.track:
                raise ConfigError(f"filters.{label}: not in track ({', '.join(self.track)})")


@dataclass(frozen=True, slots=True)
class LabelRules:
    """What applies to one class, resolved once per class id."""

    label: str
    tracked: bool
    min_score: float
    threshold: float
    low_score: float
    min_area: float
    max_area: float | None
    min_ratio: float
    max_ratio: float | None


class Rules:
    """Per-class settings from :class:`ObjectsConfig`, looked up by label name
    (the class id as text for a model without labels) and cached by id."""

    def __init__(self, config: ObjectsConfig) -> None:
        self.config = config
        self._cache: dict[tuple[int, int], LabelRules] = {}

    def label(self, labels: LabelLookup | None, class_id: int) -> str:
        name = labels.name(class_id) if labels is not None else None
        return name or str(class_id)

    def get(self, labels: LabelLookup | None, class_id: int) -> LabelRules:
        key = (id(labels), class_id)
        rules = self._cache.get(key)
        if rules is None:
            c = self.config
            label = self.label(labels, class_id)
            f = c.filters.get(label, FilterConfig())
            min_score = c.min_score if f.min_score is None else f.min_score
            rules = LabelRules(
                label,
                not c.track or label in c.track,
                min_score,
                c.threshold if f.threshold is None else f.threshold,
                min(c.low_score, min_score),
                f.min_area,
                f.max_area,
                f.min_ratio,
                f.max_ratio,
            )
            self._cache[key] = rules
        return rules

    def per_detection(self, result: FrameResult) -> list[LabelRules]:
        return [self.get(result.labels, int(c)) for c in result.detections.class_id]


def area_px(value: float, frame_area: float) -> float:
    """An area setting in pixels: values below 1 are fractions of the frame."""
    return value * frame_area if value < 1.0 else value


class ObjectFilterProcessor(BaseProcessor):
    """Drops detections by label, score, area, ratio and masks (see module doc)."""

    name = "filters"

    def __init__(
        self, config: ObjectsConfig, masks: tuple[MaskConfig, ...] = (), *, tracking: bool = True
    ) -> None:
        self.config = config
        self.masks = masks
        self.tracking = tracking
        self.rules = Rules(config)
        self._mask_px: dict[tuple[int, int], list[np.ndarray]] = {}

    def _masks_for(self, size_wh: tuple[int, int]) -> list[np.ndarray]:
        polys = self._mask_px.get(size_wh)
        if polys is None:
            polys = [polygon_pixels(m.points, size_wh) for m in self.masks]
            self._mask_px[size_wh] = polys
        return polys

    def keep_mask(self, result: FrameResult) -> np.ndarray:
        """Which detections pass, (N,) bool."""
        det = result.detections
        n = len(det)
        if not n:
            return np.zeros(0, bool)
        rules = self.rules.per_detection(result)
        w, h = result.frame.size_wh
        frame_area = float(w * h)
        floor = np.array([r.low_score if self.tracking else r.min_score for r in rules])
        keep = np.array([r.tracked for r in rules]) & (det.confidence >= floor)
        bw = np.clip(det.xyxy[:, 2] - det.xyxy[:, 0], 0, None)
        bh = np.clip(det.xyxy[:, 3] - det.xyxy[:, 1], 0, None)
        area = bw * bh
        ratio = bw / np.maximum(bh, 1e-6)
        for i, r in enumerate(rules):
            if not keep[i]:
                continue
            if area[i] < area_px(r.min_area, frame_area):
                keep[i] = False
            elif r.max_area is not None and area[i] > area_px(r.max_area, frame_area):
                keep[i] = False
            elif ratio[i] < r.min_ratio or (r.max_ratio is not None and ratio[i] > r.max_ratio):
                keep[i] = False
        if self.masks and keep.any():
            feet = bottom_center(det.xyxy)
            names = [r.label for r in rules]
            for m, poly in zip(self.masks, self._masks_for((w, h)), strict=True):
                applies = keep & np.array([not m.objects or nm in m.objects for nm in names])
                if applies.any():
                    keep &= ~(applies & points_in_polygon(feet, poly))
        return keep

    def process(self, result: FrameResult) -> FrameResult:
        if not result.inferred or not len(result.detections):
            return result
        keep = self.keep_mask(result)
        if keep.all():
            return result
        return result.evolve(detections=result.detections[keep])


CONFIG = ObjectsConfig


def build(config: ObjectsConfig, ctx: BuildContext) -> ObjectFilterProcessor | None:
    """On with tracking (low-score boxes reach the tracker), or when the user
    configured [objects] or [[masks]]: otherwise the decoders' threshold is
    the only filter, as it always was."""
    masks = ctx.section("masks")
    tracking = tracking_wanted(ctx.config)
    if not (tracking or masks or config != ObjectsConfig()):
        return None
    return ObjectFilterProcessor(config, masks, tracking=tracking)
