"""What a conversion produced and how closely it agrees with the SavedModel."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from camera_app.inference.types import TensorInfo


@dataclass(frozen=True, slots=True)
class OutputAgreement:
    """One output of the .tflite against the same output of the SavedModel.

    ``top1_agreement`` is set for classifier-shaped outputs ([1, N], N > 1):
    the share of samples whose arg-max class is the same. ``box_iou_*`` is
    set for detector-shaped outputs ([1, K, 4]): the IoU of each converted
    box with the SavedModel's box at the same index.
    """

    name: str
    shape: tuple[int, ...]
    max_abs_error: float
    mean_abs_error: float
    top1_agreement: float | None = None
    box_iou_mean: float | None = None
    box_iou_min: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "shape": list(self.shape),
            "max_abs_error": self.max_abs_error,
            "mean_abs_error": self.mean_abs_error,
            "top1_agreement": self.top1_agreement,
            "box_iou_mean": self.box_iou_mean,
            "box_iou_min": self.box_iou_min,
        }

    def to_text(self) -> str:
        parts = [f"max abs err {self.max_abs_error:.3g}", f"mean abs err {self.mean_abs_error:.3g}"]
        if self.top1_agreement is not None:
            parts.append(f"top-1 agreement {self.top1_agreement:.1%}")
        if self.box_iou_mean is not None and self.box_iou_min is not None:
            parts.append(f"box IoU mean {self.box_iou_mean:.3f} min {self.box_iou_min:.3f}")
        return f"{self.name} {list(self.shape)}: " + ", ".join(parts)


def _box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of corresponding boxes (..., 4); either corner order, as long as both agree."""
    a_lo, a_hi = np.minimum(a[..., :2], a[..., 2:]), np.maximum(a[..., :2], a[..., 2:])
    b_lo, b_hi = np.minimum(b[..., :2], b[..., 2:]), np.maximum(b[..., :2], b[..., 2:])
    inter = np.clip(np.minimum(a_hi, b_hi) - np.maximum(a_lo, b_lo), 0, None).prod(axis=-1)
    union = (a_hi - a_lo).prod(axis=-1) + (b_hi - b_lo).prod(axis=-1) - inter
    # Two empty boxes in the same place agree perfectly.
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 1.0)


def compare_output(
    name: str, reference: list[np.ndarray], converted: list[np.ndarray]
) -> OutputAgreement:
    """Agreement of one output over all samples (both lists already float32)."""
    ref = np.stack([np.asarray(r, dtype=np.float32) for r in reference])
    got = np.stack(
        [
            np.asarray(c, dtype=np.float32).reshape(np.shape(r))
            for r, c in zip(reference, converted, strict=True)
        ]
    )
    diff = np.abs(ref - got)
    shape = tuple(int(d) for d in ref.shape[1:])
    top1 = iou_mean = iou_min = None
    if len(shape) == 2 and shape[0] == 1 and shape[1] > 1:
        top1 = float(np.mean(ref[:, 0].argmax(axis=-1) == got[:, 0].argmax(axis=-1)))
    if len(shape) == 3 and shape[0] == 1 and shape[2] == 4:
        iou = _box_iou(ref, got)
        iou_mean, iou_min = float(iou.mean()), float(iou.min())
    return OutputAgreement(
        name, shape, float(diff.max()), float(diff.mean()), top1, iou_mean, iou_min
    )


@dataclass(slots=True)
class ConversionReport:
    """Everything ``camera-app convert`` tells about one conversion."""

    saved_model_dir: str
    output_path: str
    quantize: str
    io_dtype: str
    supported_ops: list[str]
    size_before_bytes: int
    size_after_bytes: int
    inputs: list[TensorInfo]
    outputs: list[TensorInfo]
    convert_seconds: float
    calibration_source: str | None = None
    calibration_frames: int = 0
    agreement_inputs: str = "none"
    """``calibration frames``, ``random pixels`` or ``none`` (not measured)."""
    agreement_samples: int = 0
    agreement: list[OutputAgreement] = field(default_factory=list)
    invoke_ms_mean: float | None = None
    num_threads: int = 1
    runtime: str | None = None
    flex_ops: list[str] = field(default_factory=list)
    labels_member: str | None = None
    labels_count: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def size_ratio(self) -> float:
        return self.size_after_bytes / self.size_before_bytes if self.size_before_bytes else 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "saved_model": self.saved_model_dir,
            "output": self.output_path,
            "quantize": self.quantize,
            "io_dtype": self.io_dtype,
            "supported_ops": list(self.supported_ops),
            "size_before_bytes": self.size_before_bytes,
            "size_after_bytes": self.size_after_bytes,
            "size_ratio": round(self.size_ratio, 4),
            "inputs": [t.to_json() for t in self.inputs],
            "outputs": [t.to_json() for t in self.outputs],
            "convert_seconds": round(self.convert_seconds, 3),
            "calibration": (
                {"source": self.calibration_source, "frames": self.calibration_frames}
                if self.calibration_source
                else None
            ),
            "agreement": {
                "inputs": self.agreement_inputs,
                "samples": self.agreement_samples,
                "outputs": [a.to_json() for a in self.agreement],
            },
            "invoke_ms_mean": self.invoke_ms_mean,
            "num_threads": self.num_threads,
            "runtime": self.runtime,
            "flex_ops": list(self.flex_ops),
            "labels": (
                {"member": self.labels_member, "count": self.labels_count}
                if self.labels_member
                else None
            ),
            "notes": list(self.notes),
        }

    def to_text(self) -> str:
        def mib(n: int) -> str:
            return f"{n / (1 << 20):.2f} MiB"

        def tensor(t: TensorInfo) -> str:
            q = f" (scale {t.scale:.6g}, zero point {t.zero_point})" if t.quantized else ""
            return f"{t.name or '?'} {list(t.shape)} {t.dtype.name}{q}"

        lines = [
            f"converted {self.saved_model_dir} -> {self.output_path} "
            f"in {self.convert_seconds:.1f} s",
            f"  quantize: {self.quantize}"
            + (f", io {self.io_dtype}" if self.quantize == "int8" else ""),
            f"  ops: {', '.join(self.supported_ops)}",
            f"  size: {mib(self.size_before_bytes)} SavedModel -> {mib(self.size_after_bytes)} "
            f"({self.size_ratio:.0%})",
        ]
        lines += [f"  input  {tensor(t)}" for t in self.inputs]
        lines += [f"  output {tensor(t)}" for t in self.outputs]
        if self.calibration_source:
            lines.append(
                f"  calibration: {self.calibration_frames} frames from {self.calibration_source}"
            )
        if self.agreement:
            lines.append(
                f"  agreement with the SavedModel on {self.agreement_samples} "
                f"{self.agreement_inputs}:"
            )
            lines += [f"    {a.to_text()}" for a in self.agreement]
        if self.invoke_ms_mean is not None:
            lines.append(
                f"  invoke: {self.invoke_ms_mean:.2f} ms mean with {self.runtime}, "
                f"{self.num_threads} thread{'s' if self.num_threads != 1 else ''}"
            )
        if self.flex_ops:
            lines.append(f"  Select TF (Flex) ops: {', '.join(self.flex_ops)}")
        if self.labels_member:
            lines.append(f"  labels: {self.labels_count} packed as {self.labels_member}")
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)
