"""The bench report: ratios come from the figures, rows and text show them."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from camera_app.bench import report
from camera_app.bench.measure import ModeResult, summarize
from camera_app.errors import UsageError


def _mode(name: str, frames: int, wall_s: float, invoke_ms: list[float], **kw: Any) -> ModeResult:
    stages = {"invoke": summarize(invoke_ms), "preprocess": summarize([1.0] * len(invoke_ms))}
    return ModeResult(name, frames, wall_s, cpu_s=wall_s / 2, stages=stages, **kw)


def _raw(results: dict[str, ModeResult]) -> dict[str, Any]:
    return {
        "results": results,
        "fps_runs": {m: [round(r.fps, 2)] for m, r in results.items()},
        "clip": {"path": "c.mp4", "size_wh": [768, 432], "fps": 10.0, "upscaled": False},
        "rss_start_mb": 100.0,
        "peak_rss_mb": 120.0,
        "median_of": 1,
    }


META = {
    "model": "m.tflite",
    "threads": 1,
    "sinks": ["jsonl"],
    "frames": 100,
    "load": {"start": [0.1, 0.2, 0.3], "end": [0.1, 0.2, 0.3]},
}


@pytest.mark.parametrize(
    ("a", "b", "expect"),
    [(50.0, 100.0, 0.5), (3.0, 2.0, 1.5), (None, 2.0, None), (2.0, None, None), (2.0, 0.0, None)],
)
def test_ratio(a: float | None, b: float | None, expect: float | None) -> None:
    assert report.ratio(a, b) == expect


def test_build_computes_ratios_and_latency_from_figures() -> None:
    lat = [20.0, 22.0, 24.0, 40.0]
    results = {
        "bare": _mode("bare", 100, 1.0, [10.0] * 100),  # 100 fps, invoke p50 10 ms
        "naive": _mode("naive", 100, 2.0, [11.0] * 100),  # 50 fps
        "pipeline": _mode("pipeline", 100, 1.25, [10.5] * 100),  # 80 fps
        "realtime": _mode(
            "realtime",
            4,
            0.4,
            [10.0] * 4,
            latency=summarize(lat),
            dropped=2,
            latency_samples_ms=lat,
        ),
    }
    rep = report.build(_raw(results), META)
    assert rep["fps"] == {"bare": 100.0, "naive": 50.0, "pipeline": 80.0, "realtime": 10.0}
    assert rep["ratios"] == {
        "pipeline_over_bare": 0.8,
        "pipeline_over_naive": 1.6,
        "naive_over_bare": 0.5,
    }
    assert rep["latency_ms"]["mode"] == "realtime"
    assert rep["latency_ms"]["p50"] == 23.0
    assert rep["latency_ms"]["over_bare_invoke"]["p50"] == 2.3
    assert rep["dropped"] == 2
    assert rep["preprocess_over_invoke"] == 0.1
    assert rep["cpu_ms_per_frame"]["naive"] == 10.0
    assert rep["stages_ms"]["pipeline"]["invoke"]["mean"] == 10.5
    assert "stages_ms" not in rep["modes"]["pipeline"]
    row = report.table_row("jsonl", rep)
    assert row.count("|") == report.TABLE_HEADER.splitlines()[0].count("|")
    for cell in ("| 100.0 |", "| 50.0 |", "| 80.0 |", "| 0.80 |", "| 1.60 |", "(2.30x"):
        assert cell in row
    text = report.render_text(rep)
    assert "pipeline/bare 0.800" in text and "dropped 2" in text


def test_build_without_baselines_has_null_ratios() -> None:
    results = {"pipeline": _mode("pipeline", 10, 1.0, [10.0] * 10)}
    rep = report.build(_raw(results), META)
    assert rep["fps"] == {"pipeline": 10.0, "bare": None, "naive": None}
    assert rep["ratios"] == {
        "pipeline_over_bare": None,
        "pipeline_over_naive": None,
        "naive_over_bare": None,
    }
    assert rep["latency_ms"] == {"p50": None, "p95": None, "p99": None, "mode": None}
    assert rep["preprocess_over_invoke"] is None
    assert "| - |" in report.table_row("x", rep)


def test_plot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Writes the PNG where matplotlib is installed; one clear error where not."""
    lat = [20.0, 22.0, 24.0]
    results = {
        "bare": _mode("bare", 3, 0.1, [10.0] * 3),
        "realtime": _mode(
            "realtime", 3, 0.3, [10.0] * 3, latency=summarize(lat), latency_samples_ms=lat
        ),
    }
    rep = report.build(_raw(results), META)
    out = tmp_path / "bench.png"
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        with pytest.raises(UsageError, match="camera_app\\[plot\\]"):
            report.plot(rep, results, out)
        return
    report.plot(rep, results, out)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(UsageError, match="camera_app\\[plot\\]"):
        report.check_matplotlib()


def test_analysis_stages_are_summed_per_mode() -> None:
    pipeline = _mode("pipeline", 4, 1.0, [10.0] * 4)
    pipeline.stages["analysis:tracker"] = summarize([0.4, 0.6])
    pipeline.stages["analysis:zones"] = summarize([0.1, 0.1])
    results = {"bare": _mode("bare", 4, 1.0, [10.0] * 4), "pipeline": pipeline}
    rep = report.build(_raw(results), META)
    assert rep["analysis_ms_per_frame"] == {
        "pipeline": {"tracker": 0.5, "zones": 0.1, "total": 0.6}
    }  # bare ran none
    text = report.render_text(rep)
    assert "analysis (pipeline, mean ms/frame): tracker 0.500, zones 0.100; total 0.600" in text
    assert "analysis:tracker" in text  # a row of the stage table too
    assert report.analysis_ms({"invoke": summarize([1.0])}) is None
