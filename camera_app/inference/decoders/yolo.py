"""Decoders for Ultralytics-style YOLO TFLite exports.

Three output layouts, each a single rank-3 tensor:

- ``yolov5``: ``[1, A, 5 + C]`` rows of cx, cy, w, h, objectness, class
  scores; a detection's score is objectness * class score. A is 3 anchors
  per grid cell (25200 at 640x640).
- ``yolov8`` (also YOLO11): ``[1, 4 + C, A]`` columns of cx, cy, w, h and
  class scores, no objectness; one prediction per grid cell (8400 at 640).
  The transposed ``[1, A, 4 + C]`` is not accepted: it cannot be told apart
  from a v5 output with one class fewer.
- ``yolo_e2e``: ``[1, K, 6]`` rows of x1, y1, x2, y2, score, class from
  NMS-free ("end2end") exports such as YOLOv10 and YOLO26; no NMS is run.

Boxes may be normalised to [0, 1] (Ultralytics' TFLite exports) or in
model-input pixels; ``DecodeOptions.box_format="auto"`` decides per frame
from the candidate boxes (largest coordinate <= 1.5 means normalised).
Scores are thresholded before any per-row work, on the raw tensor where
the quantisation allows it.
"""

from __future__ import annotations

import logging
from typing import ClassVar, Self

import numpy as np

from camera_app.errors import InferenceError, ModelError
from camera_app.inference.decoders.nms import nms
from camera_app.inference.types import (
    Decoded,
    DecodeOptions,
    InputTransform,
    ModelInfo,
    TensorInfo,
)
from camera_app.results import Detections

log = logging.getLogger(__name__)

STRIDE_SETS: tuple[tuple[int, ...], ...] = ((8, 16, 32), (8, 16, 32, 64))
"""Detection-head strides of the P5 and P6 YOLO models."""
NORMALIZED_MAX = 1.5
"""``box_format="auto"``: boxes whose coordinates all lie below this are normalised."""
E2E_MAX_ROWS = 1000
"""End-to-end exports keep at most ``max_det`` rows (300 by default)."""


def grid_cells(info: ModelInfo) -> set[int]:
    """Predictions per image of a one-per-cell YOLO head at the model's input size."""
    try:
        w, h = info.input_size_wh
    except (ValueError, IndexError):
        return set()
    counts = set()
    for strides in STRIDE_SETS:
        counts.add(sum((w // s) * (h // s) for s in strides))
        counts.add(sum(-(-w // s) * -(-h // s) for s in strides))
    return counts


def _single_rank3(info: ModelInfo) -> tuple[int, int] | None:
    """(dim 1, dim 2) of the only output when it is ``[1, a, b]``."""
    if len(info.outputs) != 1:
        return None
    shape = info.outputs[0].shape
    if len(shape) != 3 or shape[0] != 1:
        return None
    return int(shape[1]), int(shape[2])


def cxcywh_to_xyxy(cxcywh: np.ndarray) -> np.ndarray:
    """(N, 4) centre/size boxes to corners."""
    half = cxcywh[:, 2:4] / 2
    return np.concatenate([cxcywh[:, 0:2] - half, cxcywh[:, 0:2] + half], axis=1)


class _YoloDecoder:
    """Shared tail of the YOLO decoders: class filter, NMS, frame pixels."""

    family: ClassVar[str]
    layout: ClassVar[str]
    """The expected output layout, for error messages."""

    def __init__(self, output: TensorInfo, options: DecodeOptions) -> None:
        self._output = output
        self._options = options
        self._classes = (
            None if options.classes is None else np.asarray(options.classes, dtype=np.int64)
        )

    @classmethod
    def _structure_ok(cls, dims: tuple[int, int]) -> bool:
        raise NotImplementedError

    @classmethod
    def from_model(cls, info: ModelInfo, options: DecodeOptions) -> Self:
        """Accept any output of this layout, even at an unusual input size."""
        dims = _single_rank3(info)
        if dims is None or not cls._structure_ok(dims):
            raise ModelError(
                f"{cls.family} decoder expects one output {cls.layout}; "
                f"model {info.path!r} has {len(info.outputs)} output(s): {info.output_shapes()}"
            )
        log.debug(
            "%s decoder for %s: output %s", cls.family, info.path, list(info.outputs[0].shape)
        )
        return cls(info.outputs[0], options)

    def _raw(self, outputs: list[np.ndarray]) -> np.ndarray:
        if len(outputs) != 1 or tuple(np.shape(outputs[0])) != tuple(self._output.shape):
            got = ", ".join(str(list(np.shape(o))) for o in outputs)
            raise InferenceError(
                f"{self.family}: expected one output {list(self._output.shape)}, got {got}"
            )
        return np.asarray(outputs[0])[0]

    def _normalized(self, coords: np.ndarray) -> bool:
        fmt = self._options.box_format
        if fmt != "auto":
            return fmt == "normalized"
        return coords.size == 0 or float(np.abs(coords).max()) <= NORMALIZED_MAX

    def _finish(
        self,
        xyxy: np.ndarray,
        scores: np.ndarray,
        class_id: np.ndarray,
        transform: InputTransform,
        normalized: bool,
        run_nms: bool = True,
    ) -> Decoded:
        """Filter, suppress and map candidate boxes (model coordinates) to the frame."""
        opts = self._options
        if self._classes is not None:
            wanted = np.isin(class_id, self._classes)
            xyxy, scores, class_id = xyxy[wanted], scores[wanted], class_id[wanted]
        if len(scores) == 0:
            return Decoded(Detections.empty())
        if run_nms:
            keep = nms(
                xyxy,
                scores,
                opts.iou_threshold,
                opts.max_detections,
                class_id=class_id,
                agnostic=opts.class_agnostic_nms,
            )
        else:
            keep = np.argsort(-scores, kind="stable")[: max(opts.max_detections, 0)]
        frame_xyxy = transform.boxes_to_frame(xyxy[keep], normalized=normalized)
        # Boxes lying wholly in the letterbox padding collapse to nothing when clipped.
        visible = (frame_xyxy[:, 2] > frame_xyxy[:, 0]) & (frame_xyxy[:, 3] > frame_xyxy[:, 1])
        keep = keep[visible]
        return Decoded(Detections(frame_xyxy[visible], scores[keep], class_id[keep]))


class YoloV5Decoder(_YoloDecoder):
    """``[1, A, 5 + C]``: cx, cy, w, h, objectness, C class scores per row."""

    family: ClassVar[str] = "yolov5"
    layout: ClassVar[str] = "[1, anchors, 5 + classes]"

    @classmethod
    def _structure_ok(cls, dims: tuple[int, int]) -> bool:
        rows, width = dims
        return width >= 6 and rows > width

    @classmethod
    def matches(cls, info: ModelInfo) -> bool:
        dims = _single_rank3(info)
        if dims is None or not cls._structure_ok(dims):
            return False
        return dims[0] in {3 * n for n in grid_cells(info)}

    def decode(self, outputs: list[np.ndarray], transform: InputTransform) -> Decoded:
        raw = self._raw(outputs)
        threshold = self._options.threshold
        # Class scores are at most 1, so obj * cls >= threshold needs obj >= threshold.
        objectness = self._output.dequantize(raw[:, 4])
        rows = self._output.dequantize(raw[np.flatnonzero(objectness >= threshold)])
        class_scores = rows[:, 5:]
        class_id = class_scores.argmax(axis=1)
        scores = rows[:, 4] * class_scores[np.arange(len(rows)), class_id]
        passed = scores >= threshold
        boxes = rows[passed, :4]
        return self._finish(
            cxcywh_to_xyxy(boxes),
            scores[passed].astype(np.float32),
            class_id[passed].astype(np.int32),
            transform,
            self._normalized(boxes),
        )


class YoloV8Decoder(_YoloDecoder):
    """``[1, 4 + C, A]``: cx, cy, w, h and C class scores per column (v8, v11)."""

    family: ClassVar[str] = "yolov8"
    layout: ClassVar[str] = "[1, 4 + classes, anchors]"

    @classmethod
    def _structure_ok(cls, dims: tuple[int, int]) -> bool:
        width, cols = dims
        return width >= 5 and cols > width

    @classmethod
    def matches(cls, info: ModelInfo) -> bool:
        dims = _single_rank3(info)
        if dims is None or not cls._structure_ok(dims):
            return False
        return dims[1] in grid_cells(info)

    def decode(self, outputs: list[np.ndarray], transform: InputTransform) -> Decoded:
        raw = self._raw(outputs)
        class_raw = raw[4:]
        # Dequantising is increasing (scale > 0): take the best class on the raw
        # values and dequantise only those A maxima and the candidate columns.
        best = self._output.dequantize(class_raw.max(axis=0))
        candidates = np.flatnonzero(best >= self._options.threshold)
        class_id = class_raw[:, candidates].argmax(axis=0).astype(np.int32)
        boxes = self._output.dequantize(raw[:4, candidates]).T
        return self._finish(
            cxcywh_to_xyxy(boxes),
            best[candidates].astype(np.float32),
            class_id,
            transform,
            self._normalized(boxes),
        )


class YoloEndToEndDecoder(_YoloDecoder):
    """``[1, K, 6]``: x1, y1, x2, y2, score, class per row, already suppressed."""

    family: ClassVar[str] = "yolo_e2e"
    layout: ClassVar[str] = "[1, detections, 6] (x1, y1, x2, y2, score, class)"

    @classmethod
    def _structure_ok(cls, dims: tuple[int, int]) -> bool:
        return dims[1] == 6 and dims[0] >= 1

    @classmethod
    def matches(cls, info: ModelInfo) -> bool:
        dims = _single_rank3(info)
        if dims is None or not cls._structure_ok(dims) or dims[0] > E2E_MAX_ROWS:
            return False
        # A one-class YOLOv5 output is also [1, A, 6]; its A is set by the grid.
        return not YoloV5Decoder.matches(info)

    def decode(self, outputs: list[np.ndarray], transform: InputTransform) -> Decoded:
        raw = self._raw(outputs)
        scores = self._output.dequantize(raw[:, 4])
        candidates = np.flatnonzero(scores >= self._options.threshold)
        rows = self._output.dequantize(raw[candidates])
        boxes = rows[:, :4]
        return self._finish(
            boxes,
            rows[:, 4].astype(np.float32),
            np.rint(rows[:, 5]).astype(np.int32),
            transform,
            self._normalized(boxes),
            run_nms=False,
        )
