"""Decoder for MediaPipe's BlazeFace face detectors (short and full range).

The models output raw SSD regressions against a fixed anchor grid:
``regressors [1, N, 16]`` (x, y, w, h offsets then 6 keypoints as x, y) and
``classificators [1, N, 1]`` (score logits). The anchors, scales and NMS
follow MediaPipe's ``face_detection_{short,full}_range.pbtxt``:

- short range: 128x128 input, strides 8, 16, 16, 16, two anchors per cell
  on the first layer and six on the others (896); ``min_score_thresh`` 0.5.
- full range (and its sparse variant): 192x192 input, one stride-4 layer,
  one anchor per cell (2304); ``min_score_thresh`` 0.6.

Both use ``fixed_anchor_size`` (anchors are 1x1), scales equal to the input
size, sigmoid scores of logits clipped to +-100, and weighted NMS at IoU 0.3.
The model wants RGB letterboxed to the input size (black padding) as
float32 in [-1, 1]; coordinates come out normalised to that input.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import ClassVar, Self

import numpy as np

from camera_app.errors import InferenceError, ModelError
from camera_app.inference.decoders.nms import weighted_nms
from camera_app.inference.types import (
    Decoded,
    DecodeOptions,
    InputTransform,
    ModelInfo,
    TensorInfo,
)
from camera_app.results import Detections

log = logging.getLogger(__name__)

SCORE_CLIPPING_THRESH = 100.0
"""MediaPipe clips score logits to +-this before the sigmoid."""


@dataclass(frozen=True, slots=True)
class SsdAnchorOptions:
    """The parts of MediaPipe's ``SsdAnchorsCalculatorOptions`` BlazeFace uses.

    With ``fixed_anchor_size`` every anchor is 1x1 (normalised), so only the
    centres matter and ``min_scale``/``max_scale`` drop out.
    """

    name: str
    input_size_wh: tuple[int, int]
    strides: tuple[int, ...]
    interpolated_scale_aspect_ratio: float
    aspect_ratios: tuple[float, ...] = (1.0,)
    anchor_offset_xy: tuple[float, float] = (0.5, 0.5)
    min_score_thresh: float = 0.5
    """MediaPipe's default detection threshold for this model (for the config)."""
    min_suppression_threshold: float = 0.3
    """MediaPipe's weighted-NMS IoU for this model (for the config)."""


SHORT_RANGE = SsdAnchorOptions(
    name="short_range",
    input_size_wh=(128, 128),
    strides=(8, 16, 16, 16),
    interpolated_scale_aspect_ratio=1.0,
    min_score_thresh=0.5,
)
FULL_RANGE = SsdAnchorOptions(
    name="full_range",
    input_size_wh=(192, 192),
    strides=(4,),
    interpolated_scale_aspect_ratio=0.0,
    min_score_thresh=0.6,
)
KNOWN_MODELS: dict[tuple[int, int], SsdAnchorOptions] = {
    SHORT_RANGE.input_size_wh: SHORT_RANGE,
    FULL_RANGE.input_size_wh: FULL_RANGE,
}


def ssd_anchor_centers(opts: SsdAnchorOptions) -> np.ndarray:
    """(N, 2) normalised x, y anchor centres, in MediaPipe's order.

    Consecutive layers with the same stride share one feature map; each of
    them adds one anchor per aspect ratio per cell, plus one more when
    ``interpolated_scale_aspect_ratio`` > 0. Anchors run row by row, cell by
    cell, all of a cell's anchors together.
    """
    w, h = opts.input_size_wh
    per_layer = len(opts.aspect_ratios) + (1 if opts.interpolated_scale_aspect_ratio > 0 else 0)
    parts: list[np.ndarray] = []
    layer = 0
    while layer < len(opts.strides):
        stride = opts.strides[layer]
        last = layer
        while last < len(opts.strides) and opts.strides[last] == stride:
            last += 1
        map_w, map_h = math.ceil(w / stride), math.ceil(h / stride)
        ys, xs = np.meshgrid(np.arange(map_h), np.arange(map_w), indexing="ij")
        centers = np.stack(
            [
                (xs.ravel() + opts.anchor_offset_xy[0]) / map_w,
                (ys.ravel() + opts.anchor_offset_xy[1]) / map_h,
            ],
            axis=1,
        )
        parts.append(np.repeat(centers, per_layer * (last - layer), axis=0))
        layer = last
    return np.concatenate(parts).astype(np.float32)


def _find_outputs(
    info: ModelInfo,
) -> tuple[SsdAnchorOptions, int, int] | None:
    """(anchor options, regressors output index, scores output index) or None."""
    try:
        opts = KNOWN_MODELS.get(info.input_size_wh)
    except (ValueError, IndexError):
        return None
    if opts is None or len(info.outputs) != 2:
        return None
    n = len(ssd_anchor_centers(opts))
    boxes = [i for i, o in enumerate(info.outputs) if o.shape == (1, n, 16)]
    scores = [i for i, o in enumerate(info.outputs) if o.shape == (1, n, 1)]
    if len(boxes) != 1 or len(scores) != 1:
        return None
    return opts, boxes[0], scores[0]


def _logit(p: float) -> float:
    if p <= 0.0:
        return -math.inf
    if p >= 1.0:
        return math.inf
    return math.log(p / (1.0 - p))


class BlazeFaceDecoder:
    """MediaPipe face detection: one box and 6 keypoints per face, class 0.

    Keypoints in MediaPipe's ``FaceKeyPoint`` order: right eye, left eye,
    nose tip, mouth centre, right ear tragion, left ear tragion; each
    keypoint's score is its detection's score.
    """

    family: ClassVar[str] = "blazeface"
    num_keypoints: ClassVar[int] = 6

    def __init__(
        self,
        anchor_options: SsdAnchorOptions,
        boxes_output: int,
        scores_output: int,
        outputs: tuple[TensorInfo, ...],
        options: DecodeOptions,
    ) -> None:
        self.anchor_options = anchor_options
        self._anchors_xy = ssd_anchor_centers(anchor_options)
        self._boxes_output = boxes_output
        self._scores_output = scores_output
        self._boxes_info = outputs[boxes_output]
        self._scores_info = outputs[scores_output]
        self._options = options
        self._scale_wh = np.asarray(anchor_options.input_size_wh, dtype=np.float32)
        self._min_logit = _logit(options.threshold)
        self._enabled = options.classes is None or 0 in options.classes

    @property
    def num_anchors(self) -> int:
        return len(self._anchors_xy)

    @classmethod
    def matches(cls, info: ModelInfo) -> bool:
        return _find_outputs(info) is not None

    @classmethod
    def from_model(cls, info: ModelInfo, options: DecodeOptions) -> Self:
        found = _find_outputs(info)
        if found is None:
            known = "; ".join(
                f"{o.name} {w}x{h} input -> [1, {len(ssd_anchor_centers(o))}, 16] "
                f"and [1, {len(ssd_anchor_centers(o))}, 1]"
                for (w, h), o in KNOWN_MODELS.items()
            )
            inputs = ", ".join(str(list(i.shape)) for i in info.inputs)
            raise ModelError(
                f"blazeface decoder expects {known}; model {info.path!r} has "
                f"input {inputs} and outputs: {info.output_shapes()}"
            )
        opts, boxes, scores = found
        log.debug("blazeface %s decoder for %s", opts.name, info.path)
        return cls(opts, boxes, scores, info.outputs, options)

    def decode(self, outputs: list[np.ndarray], transform: InputTransform) -> Decoded:
        if len(outputs) != 2:
            raise InferenceError(f"blazeface: expected 2 outputs, got {len(outputs)}")
        if not self._enabled:
            return Decoded(Detections.empty())
        raw_scores = self._scores_info.dequantize(np.asarray(outputs[self._scores_output])[0, :, 0])
        raw_scores = np.clip(raw_scores, -SCORE_CLIPPING_THRESH, SCORE_CLIPPING_THRESH)
        # sigmoid(x) >= t  <=>  x >= logit(t): threshold before any per-anchor work.
        candidates = np.flatnonzero(raw_scores >= self._min_logit)
        scores = (1.0 / (1.0 + np.exp(-raw_scores[candidates].astype(np.float64)))).astype(
            np.float32
        )
        raw = self._boxes_info.dequantize(np.asarray(outputs[self._boxes_output])[0][candidates])
        anchors = self._anchors_xy[candidates]
        centre = raw[:, 0:2] / self._scale_wh + anchors
        size = raw[:, 2:4] / self._scale_wh
        valid = (size > 0).all(axis=1) & (scores >= self._options.threshold)
        xyxy = np.concatenate([centre - size / 2, centre + size / 2], axis=1)[valid]
        keypoints = (
            raw[:, 4 : 4 + 2 * self.num_keypoints].reshape(-1, self.num_keypoints, 2)
            / self._scale_wh
            + anchors[:, None, :]
        )[valid]
        merged = weighted_nms(
            xyxy,
            scores[valid],
            self._options.iou_threshold,
            self._options.max_detections,
            keypoints=keypoints,
        )
        if len(merged.scores) == 0:
            return Decoded(Detections.empty())
        frame_xyxy = transform.boxes_to_frame(merged.xyxy, normalized=True)
        assert merged.keypoints is not None
        frame_kp = transform.points_to_frame(merged.keypoints, normalized=True)
        kp_score = np.broadcast_to(merged.scores[:, None, None], (*frame_kp.shape[:2], 1))
        visible = (frame_xyxy[:, 2] > frame_xyxy[:, 0]) & (frame_xyxy[:, 3] > frame_xyxy[:, 1])
        return Decoded(
            Detections(
                frame_xyxy[visible],
                merged.scores[visible],
                np.zeros(int(visible.sum()), dtype=np.int32),
                np.concatenate([frame_kp, kp_score], axis=2)[visible],
            )
        )
