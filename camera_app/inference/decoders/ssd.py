"""SSD-style detectors with the ``TFLite_Detection_PostProcess`` op.

Four outputs: boxes [1, N, 4] (ymin, xmin, ymax, xmax, normalised),
classes [1, N], scores [1, N] and count [1]. TF1 exports (SSD MobileNet)
list them in that order, named ``TFLite_Detection_PostProcess[:1..3]``;
TF2 exports (EfficientDet-Lite, model maker) name them
``StatefulPartitionedCall:0..3`` holding scores, boxes, count, classes.
Boxes and count are found by shape; classes and scores by name, then by
the export's known order, and checked on the first frame by value.
"""

from __future__ import annotations

import logging
import re
from typing import ClassVar

import numpy as np

from camera_app.errors import ModelError
from camera_app.inference.types import Decoded, DecodeOptions, InputTransform, ModelInfo, TensorInfo
from camera_app.results import Detections

log = logging.getLogger(__name__)

_TF1 = re.compile(r"TFLite_Detection_PostProcess(?::(\d))?$")
_TF2 = re.compile(r"StatefulPartitionedCall(?:_\d+)?:(\d)$")
_TF2_ORDER = {0: "scores", 1: "boxes", 2: "count", 3: "classes"}
_TF1_ORDER = {0: "boxes", 1: "classes", 2: "scores", 3: "count"}


def _squeeze_shape(t: TensorInfo) -> tuple[int, ...]:
    return tuple(d for d in t.shape if d != 1) or (1,)


def _roles(info: ModelInfo) -> dict[str, int] | None:
    """Map role -> output position, or None when this is not an SSD head."""
    outs = info.outputs
    if len(outs) != 4:
        return None
    boxes = [i for i, o in enumerate(outs) if len(o.shape) == 3 and o.shape[-1] == 4]
    count = [i for i, o in enumerate(outs) if int(np.prod(o.shape)) == 1]
    vecs = [i for i, o in enumerate(outs) if len(o.shape) == 2]
    if len(boxes) != 1 or len(count) != 1 or len(vecs) != 2:
        return None
    n = outs[boxes[0]].shape[1]
    if any(outs[i].shape[1] != n for i in vecs):
        return None
    roles = {"boxes": boxes[0], "count": count[0]}
    for order, pattern in ((_TF1_ORDER, _TF1), (_TF2_ORDER, _TF2)):
        named = {}
        for i in vecs:
            m = pattern.match(outs[i].name)
            if m:
                named[order[int(m.group(1) or 0)]] = i
        if set(named) == {"classes", "scores"}:
            return roles | named
    # Unnamed: TF1 order puts classes first; the first frame double-checks.
    a, b = vecs
    return roles | {"classes": a, "scores": b}


class SsdDecoder:
    family: ClassVar[str] = "ssd"

    def __init__(self, info: ModelInfo, roles: dict[str, int], options: DecodeOptions) -> None:
        self.info = info
        self.roles = roles
        self.options = options
        self._checked = False
        self._classes = (
            np.asarray(options.classes, np.int32) if options.classes is not None else None
        )

    @classmethod
    def matches(cls, info: ModelInfo) -> bool:
        return _roles(info) is not None

    @classmethod
    def from_model(cls, info: ModelInfo, options: DecodeOptions) -> SsdDecoder:
        roles = _roles(info)
        if roles is None:
            raise ModelError(
                f"{info.path}: outputs {info.output_shapes()} are not an SSD post-processing "
                "head (boxes [1,N,4], classes [1,N], scores [1,N], count [1])"
            )
        return cls(info, roles, options)

    def decode(self, outputs: list[np.ndarray], transform: InputTransform) -> Decoded:
        r = self.roles
        boxes = outputs[r["boxes"]].reshape(-1, 4)
        classes = outputs[r["classes"]].reshape(-1)
        scores = outputs[r["scores"]].reshape(-1)
        if not self._checked:
            self._checked = True
            if (scores.max(initial=0) > 1.0 or np.any(scores < 0)) and classes.max(
                initial=0
            ) <= 1.0:
                log.info("SSD outputs: classes and scores are the other way round; swapping")
                self.roles = r = r | {"classes": r["scores"], "scores": r["classes"]}
                classes, scores = scores, classes
        n = min(int(outputs[r["count"]].reshape(-1)[0]), len(scores))
        keep = scores[:n] >= self.options.threshold
        cls_ids = classes[:n][keep].astype(np.int32)
        if self._classes is not None:
            sel = np.isin(cls_ids, self._classes)
            keep[np.flatnonzero(keep)[~sel]] = False
            cls_ids = cls_ids[sel]
        yxyx = boxes[:n][keep]
        xyxy = transform.boxes_to_frame(yxyx[:, [1, 0, 3, 2]], normalized=True)
        order = np.argsort(-scores[:n][keep], kind="stable")[: self.options.max_detections]
        return Decoded(Detections(xyxy[order], scores[:n][keep][order], cls_ids[order]))

    @staticmethod
    def num_classes(info: ModelInfo, tensor_shapes: list[tuple[int, ...]]) -> int | None:
        """Classes without background, from the raw class-prediction tensor.

        The post-processing op reads a [1, anchors, classes + 1] tensor beside
        the [1, anchors, 4] box predictions.
        """
        anchors = {s[1] for s in tensor_shapes if len(s) == 3 and s[2] == 4 and s[1] > 100}
        cands = [s[2] for s in tensor_shapes if len(s) == 3 and s[1] in anchors and s[2] > 4]
        return (max(set(cands), key=cands.count) - 1) if cands else None
