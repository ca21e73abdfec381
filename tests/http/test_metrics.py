"""Prometheus text: families from a stats snapshot, escaping, parseable output."""

from __future__ import annotations

import math

from prometheus_client.parser import text_string_to_metric_families

from camera_app.http.metrics import Family, one, render, stats_families
from camera_app.stats import OutputHealth, PipelineStats


def parse(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for f in text_string_to_metric_families(text)
        for s in f.samples
    }


def test_families_from_a_snapshot() -> None:
    stats = PipelineStats()
    stats.on_captured(1)
    stats.on_processed(2, 7.0, {"inference": 3.0})
    stats.on_gated("no_motion")
    stats.on_drop('sink:we"ird\\name\n', 2)
    stats.register_output("record", lambda: OutputHealth(False, "disk full", written=5, failures=2))
    values = parse(render(stats_families(stats.snapshot(), source_up=False, healthy=False)))
    assert values[("camera_app_frames_captured_total", ())] == 1
    assert values[("camera_app_frames_gated_total", (("reason", "no_motion"),))] == 1
    assert values[("camera_app_frames_dropped_total", (("stage", 'sink:we"ird\\name\n'),))] == 2
    assert values[("camera_app_latency_ms", (("quantile", "0.99"),))] == 7.0
    assert values[("camera_app_inference_ms", (("quantile", "0.5"),))] == 3.0
    assert values[("camera_app_output_ok", (("output", "record"),))] == 0
    assert values[("camera_app_output_written_total", (("output", "record"),))] == 5
    assert values[("camera_app_output_failures_total", (("output", "record"),))] == 2
    assert values[("camera_app_source_up", ())] == 0
    assert values[("camera_app_healthy", ())] == 0


def test_empty_stats_render_nan_quantiles_and_no_labelled_samples() -> None:
    text = render(stats_families(PipelineStats().snapshot(), source_up=True, healthy=True))
    values = parse(text)
    assert math.isnan(values[("camera_app_latency_ms", (("quantile", "0.5"),))])
    assert not any(name == "camera_app_frames_gated_total" for name, _ in values)
    assert text.count("# HELP ") == text.count("# TYPE ") == 15


def test_render_integers_floats_and_none() -> None:
    text = render(
        [Family("x_total", "counter", "X.", one(3)), Family("y", "gauge", "Y.", one(None))]
    )
    assert text.splitlines() == [
        "# HELP camera_app_x_total X.",
        "# TYPE camera_app_x_total counter",
        "camera_app_x_total 3",
        "# HELP camera_app_y Y.",
        "# TYPE camera_app_y gauge",
        "camera_app_y NaN",
    ]
