"""``camera-app bench`` end to end on a few frames: schema, ratios, outputs, bad input.

No timed assertions: figures depend on the machine; only their presence,
their consistency with each other and the work done are checked.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import cv2
import pytest

from camera_app.cli import main

VIDEO = "one-by-one-person-detection.mp4"
SSD = "ssd_mobilenet_v1_coco_quant.tflite"


@pytest.fixture()
def base_args(models_dir: Path, videos_dir: Path) -> list[str]:
    return [
        "bench",
        "--model",
        str(models_dir / SSD),
        "--source",
        str(videos_dir / VIDEO),
        "--threads",
        "1",
    ]


def _run_json(capsys: pytest.CaptureFixture[str], argv: list[str]) -> dict[str, Any]:
    assert main(argv) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1, out
    rep: dict[str, Any] = json.loads(out[0])
    return rep


def _frames_in(path: Path) -> int:
    cap = cv2.VideoCapture(str(path))
    n = 0
    while cap.read()[0]:
        n += 1
    cap.release()
    return n


def test_json_schema_and_ratios(capsys: pytest.CaptureFixture[str], base_args: list[str]) -> None:
    rep = _run_json(
        capsys,
        [*base_args, "--frames", "4", "--realtime-frames", "3", "--realtime-fps", "40", "--json"],
    )
    fps = rep["fps"]
    for mode in ("bare", "naive", "pipeline", "realtime"):
        assert fps[mode] > 0, mode
        assert rep["modes"][mode]["frames"] == (3 if mode == "realtime" else 4)
    ratios = rep["ratios"]
    assert ratios["pipeline_over_bare"] == pytest.approx(fps["pipeline"] / fps["bare"], abs=2e-3)
    assert ratios["pipeline_over_naive"] == pytest.approx(fps["pipeline"] / fps["naive"], abs=2e-3)
    lat = rep["latency_ms"]
    assert lat["mode"] == "realtime"
    assert 0 < lat["p50"] <= lat["p95"] <= lat["p99"]
    invoke_p50 = rep["stages_ms"]["bare"]["invoke"]["p50"]
    assert lat["over_bare_invoke"]["p50"] == pytest.approx(lat["p50"] / invoke_p50, abs=2e-3)
    for mode in ("naive", "pipeline"):
        stages = rep["stages_ms"][mode]
        for stage in ("capture", "preprocess", "invoke", "decode", "sink:jsonl"):
            assert stages[stage]["count"] == 4, (mode, stage)
            assert stages[stage]["mean"] >= 0
        assert rep["cpu_ms_per_frame"][mode] > 0
    assert rep["peak_rss_mb"] > 0
    assert isinstance(rep["dropped"], int)  # how many depends on the machine
    assert rep["threads"] == 1
    assert rep["sinks"] == ["jsonl"]
    assert rep["clip"]["size_wh"] == [768, 432]
    assert 0 < rep["preprocess_over_invoke"] < 1


def test_upscaled_record_overlay_and_soak(
    capsys: pytest.CaptureFixture[str], base_args: list[str], tmp_path: Path
) -> None:
    rep = _run_json(
        capsys,
        [
            *base_args,
            "--frames",
            "3",
            "--upscale",
            "320x180",
            "--sinks",
            "overlay,record,jsonl",
            "--skip",
            "realtime",
            "--loop-frames",
            "8",
            "--warmup-frames",
            "2",
            "--keep",
            str(tmp_path),
            "--json",
        ],
    )
    assert rep["clip"] == {
        "path": rep["clip"]["path"],
        "size_wh": [320, 180],
        "fps": pytest.approx(10.0),
        "upscaled": True,
    }
    assert rep["latency_ms"]["mode"] is None
    assert "realtime" not in rep["fps"]
    assert set(rep["stages_ms"]["pipeline"]) >= {"sink:overlay", "sink:record", "sink:jsonl"}
    soak = rep["modes"]["soak"]
    assert soak["frames"] == 8
    assert rep["rss_growth_mb"] == soak["rss_growth_mb"]
    assert soak["rss_end_mb"] > 0
    # the clip only has 3 frames: the soak run looped over it
    assert _frames_in(tmp_path / "upscaled_320x180.mp4") == 3
    for tag, n in (("naive", 3), ("pipeline", 3), ("soak", 8)):
        assert _frames_in(tmp_path / f"{tag}.mp4") == n, tag
        lines = (tmp_path / f"{tag}.jsonl").read_text().splitlines()
        assert [json.loads(x)["frame_id"] for x in lines] == list(range(n)), tag


def test_web_preview_scenario(capsys: pytest.CaptureFixture[str], base_args: list[str]) -> None:
    rep = _run_json(
        capsys,
        [*base_args, "--frames", "3", "--sinks", "web,jsonl", "--skip", "realtime,bare", "--json"],
    )
    assert rep["sinks"] == ["web", "jsonl"]
    assert rep["fps"]["bare"] is None
    assert rep["ratios"]["pipeline_over_bare"] is None
    for mode in ("naive", "pipeline"):
        # the viewer was connected before the first frame: every result is encoded
        assert rep["modes"][mode]["web_jpeg_encodes"] == 3, mode
        assert rep["stages_ms"][mode]["sink:web"]["count"] == 3, mode


def test_text_report(capsys: pytest.CaptureFixture[str], base_args: list[str]) -> None:
    assert main([*base_args, "--frames", "3", "--skip", "realtime"]) == 0
    out = capsys.readouterr().out
    for needle in ("bare", "naive", "pipeline", "ratios: pipeline/bare", "peak RSS", "invoke"):
        assert needle in out


@pytest.mark.parametrize(
    ("extra", "expect"),
    [
        (["--sinks", "jsonl,bogus"], "unknown sink 'bogus'"),
        (["--sinks", "jsonl,jsonl"], "names a sink twice"),
        (["--upscale", "1920"], "WIDTHxHEIGHT"),
        (["--upscale", "axb"], "WIDTHxHEIGHT"),
        (["--skip", "bare,warp"], "unknown mode warp"),
        (["--skip", "bare,naive,pipeline,realtime"], "nothing to measure"),
        (["--frames", "0"], ">= 1, got 0"),
        (["--keep", "/nonexistent/dir"], "not a folder"),
    ],
)
def test_bad_arguments(
    capsys: pytest.CaptureFixture[str], base_args: list[str], extra: list[str], expect: str
) -> None:
    assert main([*base_args, *extra]) == 2
    err = [x for x in capsys.readouterr().err.strip().splitlines() if "XNNPACK" not in x]
    assert len(err) == 1, err
    assert err[0].startswith("camera-app: error:")
    assert expect in err[0]


@pytest.mark.parametrize(
    ("argv", "expect"),
    [
        (["bench", "--source", "x.mp4"], "--model is required"),
        (["bench", "--model", "m.tflite"], "--source is required"),
        (["bench", "--model", "m.tflite", "--source", "/nonexistent.mp4"], "not a file"),
    ],
)
def test_missing_inputs(capsys: pytest.CaptureFixture[str], argv: list[str], expect: str) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and expect in err[0], err


def test_plot_without_matplotlib_is_one_line(
    capsys: pytest.CaptureFixture[str],
    base_args: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import raises ImportError
    assert main([*base_args, "--plot", str(tmp_path / "p.png")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "pip install 'camera_app[plot]'" in err[0], err
    assert not (tmp_path / "p.png").exists()


STAGES = ("filters", "tracker", "zones", "lines", "events")


def test_track_times_each_analysis_stage(
    capsys: pytest.CaptureFixture[str], base_args: list[str]
) -> None:
    rep = _run_json(
        capsys,
        [*base_args, "--frames", "5", "--realtime-frames", "3", "--realtime-fps", "40", "--track", "--json"],
    )  # fmt: skip
    assert rep["track"]["zones"] == ["bench_zone"] and rep["track"]["lines"] == ["bench_line"]
    assert rep["track"]["decode_threshold"] < 0.5  # the tracker's low-score boxes are kept
    for mode, n in (("naive", 5), ("pipeline", 5), ("realtime", 3)):
        stages = rep["stages_ms"][mode]
        for name in STAGES:
            assert stages[f"analysis:{name}"]["count"] == n, (mode, name)
        per_frame = rep["analysis_ms_per_frame"][mode]
        assert set(per_frame) == {*STAGES, "total"}
        assert per_frame["total"] == pytest.approx(sum(per_frame[s] for s in STAGES), abs=2e-3)
    assert "bare" not in rep["analysis_ms_per_frame"]
    assert rep["fps"]["pipeline"] > 0 and rep["ratios"]["pipeline_over_bare"] is not None


def test_track_uses_the_configs_zones_and_is_off_by_default(
    capsys: pytest.CaptureFixture[str], base_args: list[str], tmp_path: Path
) -> None:
    config = tmp_path / "c.toml"
    config.write_text('[[zones]]\nname = "table"\npoints = [[0.3, 0.6], [0.7, 0.6], [0.7, 1.0]]\n')
    argv = [*base_args, "--frames", "3", "--skip", "realtime,bare", "--json"]
    plain = _run_json(capsys, argv)
    assert plain["track"] is None and plain["analysis_ms_per_frame"] == {}
    assert not any(s.startswith("analysis:") for s in plain["stages_ms"]["pipeline"])
    # a config that turns tracking on (zones) runs the stages as run would, its own zone
    rep = _run_json(capsys, [*argv, "--config", str(config)])
    assert rep["track"]["zones"] == ["table"] and rep["track"]["lines"] == []
    assert rep["stages_ms"]["pipeline"]["analysis:zones"]["count"] == 3
    assert "analysis:lines" not in rep["stages_ms"]["pipeline"]
    rep = _run_json(capsys, [*argv, "--config", str(config), "--track"])
    assert rep["track"]["zones"] == ["table"] and rep["track"]["lines"] == ["bench_line"]


def test_motion_times_the_detector_and_still_infers_every_frame(
    capsys: pytest.CaptureFixture[str], base_args: list[str], tmp_path: Path
) -> None:
    argv = [*base_args, "--frames", "6", "--realtime-frames", "4", "--realtime-fps", "40", "--json"]
    plain = _run_json(capsys, argv)
    assert plain["motion"] is None
    assert all("motion" not in stages for stages in plain["stages_ms"].values())
    config = tmp_path / "c.toml"
    config.write_text("[motion]\nframe_height = 90\n")
    rep = _run_json(capsys, [*argv, "--motion", "--config", str(config)])
    assert rep["motion"] == {"frame_height": 90}
    for mode, n in (("naive", 6), ("pipeline", 6), ("realtime", 4)):
        count = rep["stages_ms"][mode]["motion"]["count"]
        # realtime: on every captured frame, one read past the last inferred included
        assert count == n if mode != "realtime" else n <= count <= n + 2, (mode, count)
        assert rep["stages_ms"][mode]["motion"]["mean"] > 0
        assert rep["modes"][mode]["frames"] == n, "the stage measures; it does not gate"
    assert "motion" not in rep["stages_ms"]["bare"]
