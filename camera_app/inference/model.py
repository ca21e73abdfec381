"""A loaded model: interpreter + preprocessor + decoder, built once.

``Model.infer(frame)`` is the whole per-frame path: preprocess straight into
the input tensor, ``invoke``, read outputs, decode. A Model belongs to one
thread (TFLite interpreters are not thread-safe).

When inference leaves a core free, the pipeline splits it:
``prepare(frame)`` preprocesses on the capture thread
into a pooled input-shaped array, and ``infer(frame, prepared)`` on the
inference thread only copies it in (``set_tensor``, 270 kB for a 300x300
model), invokes and decodes, so the one thread that bounds throughput does
little besides ``invoke()``. ``prepare`` and ``infer`` may run on different
threads, each always on the same one.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np

from camera_app.buffers import BufferPool
from camera_app.errors import InferenceError, ModelError
from camera_app.frames import Frame, SourceInfo
from camera_app.inference import decoders
from camera_app.inference.decoders.classification import ClassificationDecoder
from camera_app.inference.decoders.ssd import SsdDecoder
from camera_app.inference.labels import (
    Labels,
    load_labels,
    metadata_labels,
    resolve_classes,
    resolve_offset,
)
from camera_app.inference.preprocess import PreprocessOptions, Preprocessor
from camera_app.inference.runtime import DelegateSpec, Runtime, create_interpreter
from camera_app.inference.types import (
    Decoded,
    DecodeOptions,
    InputTransform,
    ModelInfo,
    TensorInfo,
)
from camera_app.results import FrameResult, Timings

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Prepared:
    """A frame preprocessed ahead of inference (``Model.prepare``)."""

    input: np.ndarray
    """The input tensor's contents, shape (1, H, W, C), from the model's pool."""
    transform: InputTransform
    preprocess_ms: float


@dataclass(frozen=True, slots=True)
class ModelOptions:
    """Everything needed to build a Model; validated at construction."""

    path: str
    labels: str | None = None
    label_offset: int | None = None
    family: str | None = None
    num_threads: int | None = None
    delegates: tuple[DelegateSpec, ...] = ()
    decode: DecodeOptions = field(default_factory=DecodeOptions)
    threshold: float | None = None
    """Overrides ``decode.threshold``; None: the family's default."""
    iou_threshold: float | None = None
    classes: tuple[int | str, ...] | None = None
    """Keep only these classes: ids, or names looked up in the labels
    (overrides ``decode.classes``)."""
    preprocess: PreprocessOptions = field(default_factory=PreprocessOptions)


def _tensor_info(d: dict[str, Any]) -> TensorInfo:
    scale, zp = d.get("quantization", (0.0, 0))
    return TensorInfo(
        name=str(d["name"]),
        index=int(d["index"]),
        shape=tuple(int(x) for x in d["shape"]),
        dtype=np.dtype(d["dtype"]),
        scale=float(scale),
        zero_point=int(zp),
    )


def read_model_info(interp: Any, path: str) -> ModelInfo:
    try:
        sigs = interp.get_signature_list()
    except Exception:  # older runtimes
        sigs = {}
    return ModelInfo(
        path=path,
        inputs=tuple(_tensor_info(d) for d in interp.get_input_details()),
        outputs=tuple(_tensor_info(d) for d in interp.get_output_details()),
        signatures=dict(sigs),
    )


def _num_classes(info: ModelInfo, interp: Any, family: str) -> int | None:
    if family == "ssd":
        shapes = [tuple(int(x) for x in d["shape"]) for d in interp.get_tensor_details()]
        return SsdDecoder.num_classes(info, shapes)
    if family == "classification":
        return int(np.prod(info.outputs[0].shape))
    if family == "segmentation" and len(info.outputs[0].shape) == 4:
        return int(info.outputs[0].shape[-1])
    n = getattr(info, "num_classes", None)
    return n if isinstance(n, int) else None


class Model:
    """One interpreter, its preprocessor and its decoder."""

    def __init__(self, options: ModelOptions, runtime: Runtime | None = None) -> None:
        self.options = options
        path = str(Path(options.path))
        self.interpreter, self.runtime = create_interpreter(
            path, options.num_threads, options.delegates, runtime
        )
        self.info = read_model_info(self.interpreter, path)
        if len(self.info.inputs) != 1:
            raise ModelError(
                f"{path}: has {len(self.info.inputs)} inputs; expected one image input"
            )
        self.family = options.family or decoders.detect_family(self.info)
        spec = decoders.FAMILIES.get(self.family)
        if spec is None:
            decoders.decoder_class(self.family)  # raises the one-line error
            raise AssertionError
        self.num_classes = _num_classes(self.info, self.interpreter, self.family)
        self.labels = self._load_labels()
        classes = options.decode.classes
        if options.classes is not None:
            classes = resolve_classes(options.classes, self.labels)
        self.decode_options = replace(
            options.decode,
            threshold=spec.threshold if options.threshold is None else options.threshold,
            iou_threshold=spec.iou_threshold
            if options.iou_threshold is None
            else options.iou_threshold,
            classes=classes,
        )
        self.decoder = decoders.make_decoder(self.info, self.family, self.decode_options)
        pre = options.preprocess
        explicit_norm = pre.mean is not None or pre.std is not None
        self.preprocessor = Preprocessor(
            self.info.input,
            resize=pre.resize or spec.resize,  # type: ignore[arg-type]
            mean=pre.mean or spec.mean,
            std=pre.std or spec.std,
            color=pre.color,
            pad_value=spec.pad_value if pre.pad_value is None else pre.pad_value,
            interpolation=pre.interpolation,
            raw_uint8=not explicit_norm,
        )
        if (
            isinstance(self.decoder, ClassificationDecoder)
            and self.labels is not None
            and (self.labels.entries.get(self.labels.offset) or "").lower() == "background"
        ):
            self.decoder.skip_class_ids = (0,)
        self._input_index = self.info.input.index
        self._output_indices = [o.index for o in self.info.outputs]
        self._inputs = BufferPool(8)  # prepared inputs waiting in the capture queue
        self._input_shape = tuple(self.info.input.shape)
        log.debug(
            "model %s: family %s, input %s %s, runtime %s, %s threads",
            Path(path).name,
            self.family,
            list(self.info.input.shape),
            self.info.input.dtype.name,
            self.runtime.name,
            options.num_threads if options.num_threads is not None else "all",
        )

    def _load_labels(self) -> Labels | None:
        if self.options.labels:
            labels: Labels | None = load_labels(self.options.labels)
        else:
            labels = metadata_labels(self.options.path)
        if labels is None:
            builtin = decoders.FAMILIES[self.family].builtin_labels
            return Labels(dict(enumerate(builtin)), "builtin") if builtin else None
        return resolve_offset(labels, self.num_classes, self.options.label_offset)

    def _source(self, frame: Frame) -> tuple[np.ndarray, Any, tuple[int, int] | None]:
        if frame.lores is not None:
            return frame.lores, frame.lores_order, frame.size_wh
        return frame.image, frame.channel_order, None

    def prepare(self, frame: Frame) -> Prepared:
        """Preprocess ``frame`` into a pooled input array (no interpreter call)."""
        t0 = time.perf_counter_ns()
        src, order, frame_wh = self._source(frame)
        buf = self._inputs.get(self._input_shape, self.info.input.dtype)
        transform = self.preprocessor(src, order, buf[0], frame_wh)
        return Prepared(buf, transform, (time.perf_counter_ns() - t0) / 1e6)

    def infer(self, frame: Frame, prepared: Prepared | None = None) -> FrameResult:
        """Preprocess (unless ``prepared``), invoke, decode one frame."""
        t0 = time.perf_counter_ns()
        if prepared is None:
            src, order, frame_wh = self._source(frame)
            view = self.interpreter.tensor(self._input_index)()[0]
            transform = self.preprocessor(src, order, view, frame_wh)
            del view  # no reference to the input buffer may live across invoke()
        else:
            self.interpreter.set_tensor(self._input_index, prepared.input)
            transform = prepared.transform
        t1 = time.perf_counter_ns()
        # here, or the copy into the tensor plus the capture thread's time
        preprocess_ms = (t1 - t0) / 1e6 + (prepared.preprocess_ms if prepared else 0.0)
        try:
            self.interpreter.invoke()
        except (RuntimeError, ValueError) as e:
            raise InferenceError(f"{self.info.path}: inference failed: {e}") from e
        t2 = time.perf_counter_ns()
        outputs = [self.interpreter.get_tensor(i) for i in self._output_indices]
        decoded = self.decoder.decode(outputs, transform)
        t3 = time.perf_counter_ns()
        return self.result(frame, decoded, Timings(preprocess_ms, (t2 - t1) / 1e6, (t3 - t2) / 1e6))

    def result(self, frame: Frame, decoded: Decoded, timings: Timings) -> FrameResult:
        """The result of one frame, stamped now (``done_ns``)."""
        return FrameResult(
            frame=frame,
            family=self.family,
            detections=decoded.detections,
            classes=decoded.classes,
            mask=decoded.mask,
            embedding=decoded.embedding,
            labels=self.labels,
            timings=timings,
            done_ns=time.monotonic_ns(),
        )

    def infer_image(self, image_bgr: np.ndarray, name: str = "image") -> FrameResult:
        """Run one still image (BGR, as cv2.imread gives)."""
        h, w = image_bgr.shape[:2]
        info = SourceInfo(name=name, kind="image", size_wh=(w, h))
        return self.infer(Frame(image_bgr, 0, time.monotonic_ns(), info))

    def describe(self) -> dict[str, Any]:
        """The ``inspect --json`` object."""
        return {
            "model": self.info.path,
            "runtime": self.runtime.name,
            "runtime_version": self.runtime.version,
            "family": self.family,
            "inputs": [t.to_json() for t in self.info.inputs],
            "outputs": [t.to_json() for t in self.info.outputs],
            "signatures": self.info.signatures,
            "labels": self.labels.to_json() if self.labels is not None else None,
            "num_classes": self.num_classes,
            "preprocess": {
                "resize": self.preprocessor.resize,
                "color": self.preprocessor.color,
                "size_wh": list(self.preprocessor.size_wh),
                "cast": "raw pixels" if self.preprocessor.lut is None else "lookup table",
            },
        }

    def close(self) -> None:
        self.interpreter = None

    def __enter__(self) -> Model:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def load_model(path: str, **kwargs: Any) -> Model:
    """Shorthand: ``load_model("m.tflite", labels=..., num_threads=2)``."""
    return Model(ModelOptions(path=path, **kwargs))


def delegates_from(specs: Sequence[str]) -> tuple[DelegateSpec, ...]:
    return tuple(DelegateSpec.parse(s) for s in specs)
