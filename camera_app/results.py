"""The one result type every consumer reads.

Decoders turn raw tensors into these once; sinks never see tensors. All
coordinates are in the pixels of ``Frame.image`` (letterbox undone).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any, Protocol

import numpy as np

from camera_app.frames import Frame


class LabelLookup(Protocol):
    def name(self, class_id: int) -> str | None: ...


def _as(arr: Any, dtype: type, shape_tail: tuple[int, ...], what: str) -> np.ndarray:
    a: np.ndarray = np.asarray(arr, dtype=dtype)
    if a.ndim != 1 + len(shape_tail) or tuple(a.shape[1:]) != shape_tail:
        want = "(N" + "".join(f", {s}" for s in shape_tail) + ")"
        raise ValueError(f"{what} must have shape {want}, got {a.shape}")
    return a


def _readonly(a: np.ndarray) -> np.ndarray:
    a.flags.writeable = False
    return a


@dataclass(frozen=True, slots=True)
class Detections:
    """Columns of N detections (after supervision's ``Detections``).

    ``xyxy`` (N, 4) float32 pixels; ``confidence`` (N,) float32 in [0, 1];
    ``class_id`` (N,) int32; ``keypoints`` (N, K, 3) float32 as (x, y, score)
    in pixels, or None; ``tracker_id`` (N,) int64 once a tracker has run
    (-1: not yet a confirmed track), or None; ``data``: more per-detection
    columns by name, each with N rows (supervision's ``Detections.data``).

    Immutable: results go to several sink threads at once, so the arrays are
    read-only and stages that add something build a new instance
    (:meth:`with_columns`, ``d[mask]``).
    """

    xyxy: np.ndarray
    confidence: np.ndarray
    class_id: np.ndarray
    keypoints: np.ndarray | None = None
    tracker_id: np.ndarray | None = None
    data: Mapping[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        xyxy = _readonly(_as(self.xyxy, np.float32, (4,), "xyxy"))
        n = len(xyxy)
        set_ = object.__setattr__
        set_(self, "xyxy", xyxy)
        set_(self, "confidence", _readonly(_as(self.confidence, np.float32, (), "confidence")))
        set_(self, "class_id", _readonly(_as(self.class_id, np.int32, (), "class_id")))
        for name in ("confidence", "class_id"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"{name} has {len(getattr(self, name))} rows, xyxy has {n}")
        if self.keypoints is not None:
            kp = np.asarray(self.keypoints, dtype=np.float32)
            if kp.ndim != 3 or kp.shape[0] != n or kp.shape[2] != 3:
                raise ValueError(f"keypoints must have shape (N={n}, K, 3), got {kp.shape}")
            set_(self, "keypoints", _readonly(kp))
        if self.tracker_id is not None:
            tid = _readonly(_as(self.tracker_id, np.int64, (), "tracker_id"))
            if len(tid) != n:
                raise ValueError(f"tracker_id has {len(tid)} rows, xyxy has {n}")
            set_(self, "tracker_id", tid)
        data = {}
        for key, column in self.data.items():
            col = np.asarray(column)
            if col.ndim < 1 or len(col) != n:
                raise ValueError(f"data[{key!r}] has shape {col.shape}, expected {n} rows")
            data[key] = _readonly(col)
        set_(self, "data", MappingProxyType(data))

    @classmethod
    def empty(cls) -> Detections:
        return cls(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int32))

    def __len__(self) -> int:
        return len(self.xyxy)

    def __getitem__(self, index: Any) -> Detections:
        """Boolean-mask, slice or index-array selection: ``d[d.confidence > 0.5]``."""
        if isinstance(index, int | np.integer):
            index = [int(index)]
        return Detections(
            self.xyxy[index],
            self.confidence[index],
            self.class_id[index],
            None if self.keypoints is None else self.keypoints[index],
            None if self.tracker_id is None else self.tracker_id[index],
            {k: v[index] for k, v in self.data.items()},
        )

    def with_columns(self, tracker_id: np.ndarray | None = None, **data: np.ndarray) -> Detections:
        """A copy with ``tracker_id`` set and/or ``data`` columns added."""
        return Detections(
            self.xyxy,
            self.confidence,
            self.class_id,
            self.keypoints,
            self.tracker_id if tracker_id is None else tracker_id,
            {**self.data, **data},
        )

    @property
    def area(self) -> np.ndarray:
        """Box areas in square pixels, (N,) float32."""
        wh = np.clip(self.xyxy[:, 2:] - self.xyxy[:, :2], 0, None)
        return wh[:, 0] * wh[:, 1]

    def __iter__(self) -> Iterator[tuple[np.ndarray, float, int]]:
        for i in range(len(self)):
            yield self.xyxy[i], float(self.confidence[i]), int(self.class_id[i])

    def to_json(self, labels: LabelLookup | None) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for i in range(len(self)):
            cid = int(self.class_id[i])
            item: dict[str, Any] = {
                "label": labels.name(cid) if labels is not None else None,
                "class_id": cid,
                "score": round(float(self.confidence[i]), 4),
                "xyxy": [round(float(v), 1) for v in self.xyxy[i]],
            }
            if self.tracker_id is not None:
                item["tracker_id"] = int(self.tracker_id[i])
            if self.keypoints is not None:
                item["keypoints"] = [
                    [round(float(x), 1), round(float(y), 1), round(float(s), 3)]
                    for x, y, s in self.keypoints[i]
                ]
            out.append(item)
        return out


@dataclass(slots=True)
class Classifications:
    """Top-k classes, best first; scores dequantised to [0, 1]."""

    class_id: np.ndarray
    score: np.ndarray

    def __post_init__(self) -> None:
        self.class_id = _as(self.class_id, np.int32, (), "class_id")
        self.score = _as(self.score, np.float32, (), "score")
        if len(self.class_id) != len(self.score):
            raise ValueError(f"score has {len(self.score)} rows, class_id has {len(self.class_id)}")

    def __len__(self) -> int:
        return len(self.class_id)

    def to_json(self, labels: LabelLookup | None) -> list[dict[str, Any]]:
        return [
            {
                "label": labels.name(int(c)) if labels is not None else None,
                "class_id": int(c),
                "score": round(float(s), 4),
            }
            for c, s in zip(self.class_id, self.score, strict=True)
        ]


@dataclass(slots=True)
class SegmentationMask:
    """Per-pixel class ids covering the whole frame.

    ``class_map`` (h, w) is at the model's resolution with any letterbox
    padding already cropped away; it spans the frame, so scale it by
    ``size_wh`` to map to frame pixels (:meth:`resized` does that).
    """

    class_map: np.ndarray
    size_wh: tuple[int, int]

    def classes_present(self) -> list[int]:
        return [int(c) for c in np.unique(self.class_map)]

    def resized(self, size_wh: tuple[int, int] | None = None) -> np.ndarray:
        import cv2

        w, h = size_wh or self.size_wh
        return cv2.resize(self.class_map.astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST)


@dataclass(frozen=True, slots=True)
class Embedding:
    """A feature vector (the ``embedding`` family): float32 (N,), dequantised
    as the model output it, not normalised. Read-only."""

    vector: np.ndarray

    def __post_init__(self) -> None:
        v = np.array(self.vector, dtype=np.float32).reshape(-1)  # a copy we own
        object.__setattr__(self, "vector", _readonly(v))

    def __len__(self) -> int:
        return len(self.vector)

    @property
    def l2_norm(self) -> float:
        return float(np.linalg.norm(self.vector))

    def to_json(self) -> dict[str, Any]:
        return {
            "size": len(self.vector),
            "l2_norm": round(self.l2_norm, 4),
            "vector": [round(float(v), 4) for v in self.vector],
        }


@dataclass(frozen=True, slots=True)
class Motion:
    """What the motion detector saw on a frame (``[motion]``)."""

    detected: bool
    boxes_xyxy: np.ndarray
    """(N, 4) float32 boxes of moving regions in frame pixels."""
    changed_fraction: float = 0.0
    recalibrated: bool = False


@dataclass(frozen=True, slots=True)
class Timings:
    preprocess_ms: float = 0.0
    inference_ms: float = 0.0
    decode_ms: float = 0.0


@dataclass(frozen=True, slots=True)
class FrameResult:
    """Everything inference and analysis found in one frame. Sinks read only this.

    Immutable once handed to the sinks: analysis stages return a new one
    (:meth:`evolve`).
    """

    frame: Frame
    family: str
    detections: Detections
    classes: Classifications | None = None
    mask: SegmentationMask | None = None
    labels: LabelLookup | None = None
    timings: Timings = field(default_factory=Timings)
    done_ns: int = 0
    """Monotonic time when decoding finished."""
    inferred: bool = True
    """False for a frame that skipped inference (motion gate, detect rate):
    ``detections`` then holds the tracked objects last seen, for drawing, and
    logs skip the frame."""
    motion: Motion | None = None
    zone_counts: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    """Objects present by zone, then label: ``{"driveway": {"person": 1}}``."""
    line_counts: Mapping[str, Mapping[str, tuple[int, int]]] = field(default_factory=dict)
    """Crossings by line, then label, as (in, out) since the start."""
    embedding: Embedding | None = None
    """The ``embedding`` family's feature vector."""

    def evolve(self, **changes: Any) -> FrameResult:
        """A copy with some fields replaced (``dataclasses.replace``)."""
        return replace(self, **changes)

    @property
    def latency_ms(self) -> float:
        """Capture to result, in milliseconds."""
        return max(0.0, (self.done_ns - self.frame.timestamp_ns) / 1e6)

    def payload(self) -> dict[str, Any]:
        """The family-specific part shared by ``detect --json`` and JSONL."""
        out: dict[str, Any] = {"detections": self.detections.to_json(self.labels)}
        if self.classes is not None:
            out["classes"] = self.classes.to_json(self.labels)
        if (
            self.family == "movenet"
            and len(self.detections)
            and self.detections.keypoints is not None
        ):
            out["keypoints"] = out["detections"][0]["keypoints"]
        if self.mask is not None:
            out["mask"] = {"classes_present": self.mask.classes_present()}
        if self.embedding is not None:
            out["embedding"] = self.embedding.to_json()
        return out

    def to_json_line(self) -> dict[str, Any]:
        """One JSONL record (see ``camera-app run --jsonl``)."""
        rec: dict[str, Any] = {
            "frame_id": self.frame.frame_id,
            "timestamp_ns": self.frame.timestamp_ns,
        }
        if self.frame.media_ms is not None:
            rec["media_ms"] = round(self.frame.media_ms, 1)
        rec["latency_ms"] = round(self.latency_ms, 2)
        rec["inference_ms"] = round(self.timings.inference_ms, 2)
        rec.update(self.payload())
        return rec
