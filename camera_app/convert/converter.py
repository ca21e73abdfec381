"""SavedModel -> .tflite with ``tf.lite.TFLiteConverter``, checked and written atomically."""

from __future__ import annotations

import itertools
import logging
import os
import re
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from camera_app.convert.calibration import (
    calibration_batches,
    iter_calibration_frames,
    pixel_range_sample,
    random_batches,
)
from camera_app.convert.evaluate import RUNTIME_NAME, FlexOpsUnsupported, describe, run_converted
from camera_app.convert.metadata import LABELS_MEMBER, append_associated_files, read_labels_text
from camera_app.convert.options import ConvertOptions
from camera_app.convert.report import ConversionReport, compare_output
from camera_app.convert.savedmodel import (
    SavedModel,
    check_saved_model_dir,
    folder_size_bytes,
    import_tensorflow,
)
from camera_app.errors import ConfigError, ModelError, SourceError

log = logging.getLogger(__name__)

_SELECT_OPS_LINE = re.compile(r"TF Select ops:\s*([^\n]+)")
_NOT_FLEX = re.compile(r"'tf\.(\w+)' op is neither a custom op nor a flex op")
_CUSTOM_OPS_LINE = re.compile(r"Custom ops:\s*([^\n]+)")


def _first_frames(options: ConvertOptions) -> Iterator[np.ndarray] | None:
    """The calibration frames, checked to hold at least one (before TensorFlow loads)."""
    if not options.calibration:
        return None
    frames = iter_calibration_frames(options.calibration, options.calibration_frames)
    first = next(frames, None)
    if first is None:
        raise SourceError(f"calibration source {options.calibration!r} yielded no frames")
    return itertools.chain([first], frames)


def _check_output(out: Path) -> None:
    if out.is_dir():
        raise ConfigError(f"output {out} is a folder; give the .tflite file to write")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ConfigError(f"output folder {out.parent}: cannot create it ({e.strerror})") from e


def _ops_sets(tf: Any, options: ConvertOptions) -> list[Any]:
    base = (
        tf.lite.OpsSet.TFLITE_BUILTINS_INT8
        if options.quantize == "int8"
        else tf.lite.OpsSet.TFLITE_BUILTINS
    )
    return [base, tf.lite.OpsSet.SELECT_TF_OPS] if options.allow_select_tf_ops else [base]


def _make_converter(
    tf: Any, model: SavedModel, options: ConvertOptions, batches: list[np.ndarray]
) -> Any:
    converter = tf.lite.TFLiteConverter.from_saved_model(
        str(model.path), signature_keys=[model.signature_key]
    )
    converter.target_spec.supported_ops = _ops_sets(tf, options)
    if options.quantize != "none":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if options.quantize == "float16":
        converter.target_spec.supported_types = [tf.float16]
    if options.quantize == "int8":
        pinned = pixel_range_sample(batches[0], options.normalisation)

        def representative_dataset() -> Iterator[list[np.ndarray]]:
            for batch in [*batches, pinned]:
                yield [batch]

        converter.representative_dataset = representative_dataset
        if options.io_dtype != "float32":
            io_type = tf.uint8 if options.io_dtype == "uint8" else tf.int8
            converter.inference_input_type = io_type
            converter.inference_output_type = io_type
    return converter


def _op_list(pattern: re.Pattern[str], text: str) -> list[str]:
    ops: list[str] = []
    for line in pattern.findall(text):
        ops += [op.strip() for op in line.split(",") if op.strip()]
    return ops


def _needed_ops(error: Exception) -> tuple[list[str], list[str]]:
    """(Select TF ops, custom ops) a failed conversion names.

    The MLIR converter ends its error with ``TF Select ops: A, B`` and/or
    ``Custom ops: C`` summary lines; older messages only carry
    ``'tf.A' op is neither a custom op nor a flex op`` per op.
    """
    text = str(error)
    flex = _op_list(_SELECT_OPS_LINE, text)
    if not flex and "ERROR_NEEDS_FLEX_OPS" in text:
        flex = _NOT_FLEX.findall(text)
    return sorted(set(flex)), sorted(set(_op_list(_CUSTOM_OPS_LINE, text)))


def conversion_error(error: Exception, path: Path, options: ConvertOptions) -> ModelError:
    """A one-line :class:`ModelError` for a failed ``converter.convert()``."""
    flex, custom = _needed_ops(error)
    also = f" (and custom ops no runtime provides: {', '.join(custom)})" if custom else ""
    if flex and not options.allow_select_tf_ops:
        return ModelError(
            f"{path} needs TensorFlow ops that are not TFLite builtins: {', '.join(flex)}{also}. "
            "tflite-runtime/LiteRT on the Pi cannot run such Select TF (Flex) ops without the "
            "Flex delegate; change the model to avoid them, or pass --allow-select-tf-ops to "
            "convert anyway (the result then needs a Flex-enabled runtime)"
        )
    if custom:
        return ModelError(
            f"{path} needs ops that neither TFLite builtins nor Select TF ops provide: "
            f"{', '.join(custom)}; change the model to avoid them"
        )
    lines = [ln.strip() for ln in str(error).splitlines() if ln.strip()]
    detail = next(
        (ln for ln in lines if "error:" in ln), lines[0] if lines else type(error).__name__
    )
    detail = detail.split("error:", 1)[-1].strip()
    if detail.startswith("loc(") and "): " in detail:  # MLIR location prefix
        detail = detail.rsplit("): ", 1)[-1]
    return ModelError(f"{path}: conversion ({options.quantize}) failed: {detail[:300]}")


def flex_ops_of(model_bytes: bytes) -> list[str]:
    """Names of the Select TF ops (``Flex*`` custom ops) a converted model uses."""
    from tensorflow.lite.python import schema_py_generated as schema

    model = schema.Model.GetRootAsModel(model_bytes, 0)
    names = []
    for i in range(model.OperatorCodesLength()):
        code = model.OperatorCodes(i).CustomCode()
        if code and code.startswith(b"Flex"):
            names.append(code[4:].decode("utf-8", "replace"))
    return sorted(set(names))


def _write_tmp(out: Path, data: bytes) -> Path:
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    return Path(tmp)


def _commit(tmp: Path, out: Path) -> None:
    with open(tmp, "rb+") as f:
        os.fsync(f.fileno())
    os.chmod(tmp, 0o644)  # mkstemp makes it private; a model is an ordinary file
    os.replace(tmp, out)


def convert(
    saved_model_dir: str | os.PathLike[str],
    out_path: str | os.PathLike[str],
    options: ConvertOptions | None = None,
) -> ConversionReport:
    """Convert a SavedModel to a .tflite at ``out_path`` and report on the result.

    Inputs are checked before TensorFlow loads; the output is written to a
    temporary file beside ``out_path``, checked with ai_edge_litert, and only
    then renamed over ``out_path``: a failure never leaves a partial file.
    """
    options = options or ConvertOptions()
    options.validate()
    src, out = Path(saved_model_dir), Path(out_path)
    check_saved_model_dir(src)
    _check_output(out)
    labels = read_labels_text(options.labels) if options.labels else None
    frames = _first_frames(options)

    tf = import_tensorflow()
    model = SavedModel(tf, src)
    spec = model.input
    if frames is not None:
        samples = calibration_batches(
            frames, spec.size_wh, options.normalisation, spec.dtype, spec.channels
        )
        sample_kind = "calibration frames"
    else:
        samples = random_batches(
            options.random_samples,
            spec.size_wh,
            options.normalisation,
            spec.dtype,
            spec.channels,
            options.seed,
        )
        sample_kind = "random pixels"
    log.info("converting %s (%s) with %d %s", src, options.quantize, len(samples), sample_kind)

    start = time.perf_counter()
    converter = _make_converter(tf, model, options, samples)
    try:
        model_bytes = bytes(converter.convert())
    except Exception as e:  # ConverterError, ValueError, RuntimeError...
        raise conversion_error(e, src, options) from e
    convert_s = time.perf_counter() - start
    flex_ops = flex_ops_of(model_bytes)

    tmp = _write_tmp(out, model_bytes)
    try:
        if labels is not None:
            append_associated_files(tmp, {LABELS_MEMBER: labels[0].encode("utf-8")})
        report = _report(
            tf, model, options, src, out, tmp, samples, sample_kind, convert_s, flex_ops
        )
        if labels is not None:
            report.labels_member, report.labels_count = LABELS_MEMBER, labels[1]
        _commit(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    report.size_after_bytes = out.stat().st_size
    log.info("wrote %s (%d bytes)", out, report.size_after_bytes)
    return report


def _report(
    tf: Any,
    model: SavedModel,
    options: ConvertOptions,
    src: Path,
    out: Path,
    tmp: Path,
    samples: list[np.ndarray],
    sample_kind: str,
    convert_s: float,
    flex_ops: list[str],
) -> ConversionReport:
    inputs, outputs = describe(str(tmp))
    report = ConversionReport(
        saved_model_dir=str(src),
        output_path=str(out),
        quantize=options.quantize,
        io_dtype=options.io_dtype,
        supported_ops=[str(s).rsplit(".", 1)[-1] for s in _ops_sets(tf, options)],
        size_before_bytes=folder_size_bytes(src),
        size_after_bytes=tmp.stat().st_size,
        inputs=inputs,
        outputs=outputs,
        convert_seconds=convert_s,
        calibration_source=options.calibration,
        calibration_frames=len(samples) if options.calibration else 0,
        num_threads=options.num_threads,
        flex_ops=flex_ops,
    )
    if flex_ops:
        note = (
            f"uses Select TF (Flex) ops ({', '.join(flex_ops)}): tflite-runtime/LiteRT on the Pi "
            "cannot run it without the Flex delegate; agreement and timing not measured"
        )
        log.warning("%s: %s", out, note)
        report.notes.append(note)
    try:
        run = run_converted(
            str(tmp),
            [{model.input.name: s} for s in samples],
            options.num_threads,
            options.timing_runs,
        )
    except FlexOpsUnsupported:
        if not flex_ops:
            raise
        return report
    reference = [model(s) for s in samples]
    names = [k for k in reference[0] if k in run.samples[0]]
    if missing := sorted(set(reference[0]) - set(names)):
        report.notes.append(f"outputs not in the converted model: {', '.join(missing)}")
    report.agreement = [
        compare_output(k, [r[k] for r in reference], [c[k] for c in run.samples]) for k in names
    ]
    report.agreement_inputs, report.agreement_samples = sample_kind, len(samples)
    report.invoke_ms_mean, report.runtime = run.invoke_ms_mean, RUNTIME_NAME
    return report
