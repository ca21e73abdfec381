"""Decoders by family, and family detection from a model's outputs.

Each family has one decoder class (one file each) and preprocessing
defaults. Detection tries the families in ``DETECTION_ORDER``, most specific
first; ``--family`` / ``model.family`` skips detection.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from camera_app.errors import ModelError
from camera_app.inference.types import DecodeOptions, Decoder, ModelInfo


@dataclass(frozen=True, slots=True)
class FamilySpec:
    decoder: str
    """``module:Class`` below this package."""
    resize: str
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    pad_value: int = 0
    description: str = ""
    threshold: float = 0.5
    iou_threshold: float = 0.45
    builtin_labels: tuple[str, ...] = ()
    """Names used when no labels file is given (single-class families)."""


_PM1 = (127.5, 127.5, 127.5)  # pixels to [-1, 1]


def _yolo(decoder: str, description: str) -> FamilySpec:
    """Ultralytics exports: letterbox padded with 114, pixels scaled to [0, 1]."""
    return FamilySpec(
        decoder, "letterbox", (0.0, 0.0, 0.0), (255.0, 255.0, 255.0), 114, description
    )


FAMILIES: dict[str, FamilySpec] = {
    "ssd": FamilySpec(
        "ssd:SsdDecoder",
        "stretch",
        _PM1,
        _PM1,
        0,
        "SSD / EfficientDet-Lite with TFLite_Detection_PostProcess",
    ),
    # MediaPipe's face_detection_short_range.pbtxt: score 0.5, suppression 0.3
    # (full range uses 0.6; set --threshold for it).
    "blazeface": FamilySpec(
        "blazeface:BlazeFaceDecoder",
        "letterbox",
        _PM1,
        _PM1,
        0,
        "MediaPipe BlazeFace face detection (short/full range)",
        0.5,
        0.3,
        ("face",),
    ),
    "yolo_e2e": _yolo("yolo:YoloEndToEndDecoder", "NMS-free YOLO exports [1,K,6]"),
    "yolov8": _yolo("yolo:YoloV8Decoder", "YOLOv8/v11 [1,4+C,A]"),
    "yolov5": _yolo("yolo:YoloV5Decoder", "YOLOv5 [1,A,5+C]"),
    "movenet": FamilySpec(
        "pose:MoveNetDecoder",
        "letterbox",
        (0.0, 0.0, 0.0),
        (1.0, 1.0, 1.0),
        0,
        "MoveNet single pose, 17 keypoints",
        0.2,
        0.45,
        ("person",),
    ),
    # Before segmentation and classification, which also accept a [1,1,1,N] output.
    "embedding": FamilySpec(
        "embedding:EmbeddingDecoder",
        "stretch",
        _PM1,
        _PM1,
        0,
        "feature extractor: one embedding vector [1,N] or [1,1,1,N]",
        0.0,
    ),
    "segmentation": FamilySpec(
        "segmentation:SegmentationDecoder",
        "stretch",
        _PM1,
        _PM1,
        0,
        "semantic segmentation (DeepLab)",
    ),
    "classification": FamilySpec(
        "classification:ClassificationDecoder",
        "stretch",
        _PM1,
        _PM1,
        0,
        "image classifier [1,N]",
        0.0,
    ),
}
DETECTION_ORDER = tuple(FAMILIES)


def decoder_class(family: str) -> type[Decoder]:
    try:
        spec = FAMILIES[family]
    except KeyError:
        raise ModelError(
            f"unknown model family {family!r}; expected one of {', '.join(FAMILIES)}"
        ) from None
    module, _, cls = spec.decoder.partition(":")
    mod = importlib.import_module(f"{__name__}.{module}")
    decoder: type[Decoder] = getattr(mod, cls)
    return decoder


def detect_family(info: ModelInfo) -> str:
    """The first family whose decoder recognises the outputs."""
    for family in DETECTION_ORDER:
        if decoder_class(family).matches(info):
            return family
    raise ModelError(
        f"{info.path}: cannot tell the model family from its outputs ({info.output_shapes()}); "
        f"set it with --family or model.family in the config, one of: {', '.join(FAMILIES)}"
    )


def make_decoder(info: ModelInfo, family: str, options: DecodeOptions) -> Decoder:
    return decoder_class(family).from_model(info, options)
