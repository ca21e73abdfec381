"""Run a converted .tflite with ai_edge_litert: outputs per sample and invoke time."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from camera_app.errors import ModelError, RuntimeNotFoundError
from camera_app.inference.types import TensorInfo

log = logging.getLogger(__name__)

RUNTIME_NAME = "ai_edge_litert"


class FlexOpsUnsupported(ModelError):
    """The model has Select TF ops, which the LiteRT interpreter cannot run."""


@dataclass(frozen=True, slots=True)
class RunResult:
    inputs: list[TensorInfo]
    outputs: list[TensorInfo]
    samples: list[dict[str, np.ndarray]]
    """Dequantised float32 outputs by signature output name, one dict per sample."""
    invoke_ms_mean: float


def tensor_info(d: dict[str, Any]) -> TensorInfo:
    scale, zero_point = d.get("quantization", (0.0, 0))
    return TensorInfo(
        name=str(d.get("name", "")),
        index=int(d["index"]),
        shape=tuple(int(s) for s in d["shape"]),
        dtype=np.dtype(d["dtype"]),
        scale=float(scale),
        zero_point=int(zero_point),
    )


def _interpreter(path: str, num_threads: int, allocate: bool = True) -> Any:
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError as e:
        raise RuntimeNotFoundError(
            "ai_edge_litert is not installed: pip install ai-edge-litert"
        ) from e
    try:
        interp = Interpreter(model_path=path, num_threads=num_threads)
        if allocate:
            interp.allocate_tensors()
    except (RuntimeError, ValueError) as e:
        if "Select TensorFlow op" in str(e) or "Flex" in str(e):
            raise FlexOpsUnsupported(
                f"{path}: uses Select TF (Flex) ops, which {RUNTIME_NAME} cannot run without "
                "the Flex delegate"
            ) from e
        raise ModelError(f"{path}: {RUNTIME_NAME} cannot load the converted model: {e}") from e
    return interp


def describe(path: str) -> tuple[list[TensorInfo], list[TensorInfo]]:
    """Input and output tensors of a .tflite (without allocating: works for Flex models)."""
    interp = _interpreter(path, 1, allocate=False)
    return (
        [tensor_info(d) for d in interp.get_input_details()],
        [tensor_info(d) for d in interp.get_output_details()],
    )


def quantize_input(x: np.ndarray, info: TensorInfo) -> np.ndarray:
    """A float sample cast to the input's dtype (quantised with its scale/zero point)."""
    if info.dtype.kind in "iu" and x.dtype.kind == "f":
        if not info.quantized:
            raise ModelError(f"input {info.name!r} is {info.dtype.name} without quantisation")
        limits = np.iinfo(info.dtype)
        q = np.round(x / np.float32(info.scale) + np.float32(info.zero_point))
        return np.clip(q, limits.min, limits.max).astype(info.dtype)
    return x.astype(info.dtype, copy=False)


def run_converted(
    path: str,
    batches: list[dict[str, np.ndarray]],
    num_threads: int,
    timing_runs: int,
) -> RunResult:
    """Run every sample (inputs by signature name) through the .tflite at ``path``.

    Raises :class:`FlexOpsUnsupported` for models with Select TF ops and
    :class:`ModelError` when the file cannot be loaded or run.
    """
    interp = _interpreter(path, num_threads)
    inputs = [tensor_info(d) for d in interp.get_input_details()]
    outputs = [tensor_info(d) for d in interp.get_output_details()]
    signatures = interp.get_signature_list()
    if not signatures:
        raise ModelError(f"{path}: the converted model has no signature to match outputs by name")
    runner = interp.get_signature_runner(next(iter(signatures)))
    in_details = {k: tensor_info(d) for k, d in runner.get_input_details().items()}
    out_details = {k: tensor_info(d) for k, d in runner.get_output_details().items()}
    samples: list[dict[str, np.ndarray]] = []
    for batch in batches:
        feed = {k: quantize_input(batch[k], in_details[k]) for k in in_details}
        # Copies: views into the interpreter's buffers would block invoke().
        raw = {k: np.array(v, copy=True) for k, v in runner(**feed).items()}
        samples.append({k: out_details[k].dequantize(v) for k, v in raw.items()})
    # The runner holds a reference to the interpreter's internals, which makes
    # the plain invoke() below refuse to run: drop it first.
    del runner
    invoke_ms = _time_invoke(
        interp, inputs, batches[-1] if batches else None, in_details, timing_runs
    )
    return RunResult(inputs, outputs, samples, invoke_ms)


def _time_invoke(
    interp: Any,
    inputs: list[TensorInfo],
    batch: dict[str, np.ndarray] | None,
    in_details: dict[str, TensorInfo],
    runs: int,
) -> float:
    """Mean wall time of ``invoke()`` after one warm-up run, in milliseconds."""
    by_index = {info.index: name for name, info in in_details.items()}
    for info in inputs:
        name = by_index.get(info.index)
        if batch is not None and name is not None:
            value = quantize_input(batch[name], info)
        else:
            value = np.zeros(info.shape, dtype=info.dtype)
        interp.set_tensor(info.index, value)
    interp.invoke()
    start_ns = time.perf_counter_ns()
    for _ in range(runs):
        interp.invoke()
    return (time.perf_counter_ns() - start_ns) / runs / 1e6
