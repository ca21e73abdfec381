"""Prometheus text exposition (format 0.0.4) from a stats snapshot.

Families are plain data (:class:`Family`); the server renders its own, those
of the stats and those components add (the web preview's stream clients).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from camera_app.stats import StatsSnapshot

PREFIX = "camera_app_"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

Sample = tuple[Mapping[str, str], float | int | None]


@dataclass(frozen=True, slots=True)
class Family:
    name: str
    """Without the ``camera_app_`` prefix; counters end in ``_total``."""
    kind: Literal["counter", "gauge"]
    help: str
    samples: Sequence[Sample]


def one(value: float | int | None) -> list[Sample]:
    return [({}, value)]


def _esc(value: str) -> str:
    """A label value: backslash, double quote and newline escaped."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _num(v: float | int | None) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "NaN"
    return repr(float(v)) if isinstance(v, float) else str(int(v))


def render(families: Iterable[Family]) -> str:
    lines: list[str] = []
    for f in families:
        full = PREFIX + f.name
        lines += [f"# HELP {full} {f.help}", f"# TYPE {full} {f.kind}"]
        for labels, value in f.samples:
            lab = ",".join(f'{k}="{_esc(str(v))}"' for k, v in labels.items())
            lines.append(f"{full}{{{lab}}} {_num(value)}" if lab else f"{full} {_num(value)}")
    return "\n".join(lines) + "\n"


def _quantiles(snap: StatsSnapshot, key: str) -> list[Sample]:
    t = snap.timing(key)
    if t is None:
        return [({"quantile": q}, None) for q in ("0.5", "0.95", "0.99")]
    return [
        ({"quantile": "0.5"}, t.p50),
        ({"quantile": "0.95"}, t.p95),
        ({"quantile": "0.99"}, t.p99),
    ]


def _by(label: str, counts: Mapping[str, int]) -> list[Sample]:
    return [({label: k}, v) for k, v in sorted(counts.items())]


def stats_families(snap: StatsSnapshot, source_up: bool, healthy: bool) -> list[Family]:
    outputs = sorted(snap.outputs.items())
    return [
        Family(
            "frames_captured_total", "counter", "Frames read from the source.", one(snap.captured)
        ),
        Family(
            "frames_processed_total", "counter", "Frames through inference.", one(snap.processed)
        ),
        Family(
            "frames_gated_total",
            "counter",
            "Frames captured and checked but not inferred, by reason.",
            _by("reason", snap.gated),
        ),
        Family(
            "frames_dropped_total",
            "counter",
            "Frames or results dropped, by stage.",
            _by("stage", snap.dropped),
        ),
        Family(
            "reconnects_total", "counter", "Times the source reconnected.", one(snap.reconnects)
        ),
        Family("source_stalls_total", "counter", "Times the source stalled.", one(snap.stalls)),
        Family(
            "fps",
            "gauge",
            "Frames per second by stage (recent window; average: whole run).",
            [
                ({"stage": "average"}, snap.fps_average),
                ({"stage": "capture"}, snap.fps_capture),
                ({"stage": "inference"}, snap.fps_inference),
            ],
        ),
        Family(
            "latency_ms",
            "gauge",
            "Capture to result in milliseconds, recent frames.",
            _quantiles(snap, "latency"),
        ),
        Family(
            "inference_ms",
            "gauge",
            "Model invocation in milliseconds, recent frames.",
            _quantiles(snap, "inference"),
        ),
        Family("source_up", "gauge", "1 while the source delivers frames.", one(int(source_up))),
        Family("healthy", "gauge", "1 while /healthz answers ok.", one(int(healthy))),
        Family(
            "uptime_seconds", "gauge", "Seconds since the pipeline started.", one(snap.uptime_s)
        ),
        Family(
            "output_ok",
            "gauge",
            "1 while an output (recording, log) works, by output.",
            [({"output": k}, int(v.ok)) for k, v in outputs],
        ),
        Family(
            "output_written_total",
            "counter",
            "Items an output wrote (frames, lines), by output.",
            [({"output": k}, v.written) for k, v in outputs],
        ),
        Family(
            "output_failures_total",
            "counter",
            "Failed writes, by output.",
            [({"output": k}, v.failures) for k, v in outputs],
        ),
    ]
