"""tools/pi_check: the detection comparison, the README's by-hand commands,
and the check's refusals (one line, non-zero) before anything is built.

The check itself (debootstrap, qemu) runs as `make pi-check`, not here.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[2]
PI_CHECK = REPO / "tools" / "pi_check"


def load_compare() -> ModuleType:
    spec = importlib.util.spec_from_file_location("pi_check_compare", PI_CHECK / "compare.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


compare = load_compare()

Row = tuple[str, float, list[float]]
Record = dict[str, object]

PERSON: Row = ("person", 0.70, [63.7, 518.0, 89.8, 554.6])
KITE: Row = ("kite", 0.68, [597.6, 75.5, 670.5, 139.0])
WEAK_KITE: Row = ("kite", 0.52, [279.6, 234.9, 306.1, 285.0])


def detections(*rows: Row) -> list[Record]:
    return [{"label": label, "score": score, "xyxy": xyxy} for label, score, xyxy in rows]


def write_jsonl(path: Path, records: list[Record]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def frames(*per_frame: list[Record]) -> list[Record]:
    return [{"frame_id": i, "detections": d} for i, d in enumerate(per_frame)]


def moved(row: Row, dx: float = 0.0, ds: float = 0.0) -> Row:
    label, score, xyxy = row
    return (label, round(score + ds, 4), [v + dx for v in xyxy])


def run_compare(
    tmp_path: Path, reference: list[Record], candidate: list[Record]
) -> tuple[int, str]:
    ref = write_jsonl(tmp_path / "x86.jsonl", reference)
    cand = write_jsonl(tmp_path / "pi.jsonl", candidate)
    result = subprocess.run(
        [sys.executable, str(PI_CHECK / "compare.py"), str(ref), str(cand)],
        capture_output=True,
        text=True,
        check=False,
    )
    return result.returncode, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("candidate", "same", "said"),
    [
        ([PERSON, KITE, WEAK_KITE], True, "3/3 reference detections matched"),
        ([moved(PERSON, dx=3.9), KITE, WEAK_KITE], True, "max box diff 3.9 px"),
        ([moved(PERSON, ds=-0.02), KITE, WEAK_KITE], True, "max score diff 0.020"),
        # A score near the threshold may fall on the other side of it.
        ([PERSON, KITE], True, "1 near-threshold unmatched"),
        ([moved(PERSON, dx=4.5), KITE, WEAK_KITE], False, "x86's person 0.700"),
        ([moved(PERSON, ds=-0.05), KITE, WEAK_KITE], False, "x86's person 0.700"),
        ([KITE, WEAK_KITE], False, "x86's person 0.700 [63.7,518.0,89.8,554.6] has no match"),
        ([PERSON, KITE, WEAK_KITE, ("dog", 0.9, [1, 2, 3, 4])], False, "extra dog 0.900"),
        ([("cat", 0.70, PERSON[2]), KITE, WEAK_KITE], False, "x86's person"),
    ],
)
def test_detections_are_compared_label_box_and_score(
    tmp_path: Path,
    candidate: list[Row],
    same: bool,
    said: str,
) -> None:
    reference: list[Record] = [
        {"image": "/x86/kite_and_cold.jpg", "detections": detections(PERSON, KITE, WEAK_KITE)}
    ]
    emulated: list[Record] = [
        {"image": "/tmp/pi-check/kite_and_cold.jpg", "detections": detections(*candidate)}
    ]
    rc, out = run_compare(tmp_path, reference, emulated)
    assert rc == (0 if same else 1), out
    assert ("same:" in out) == same
    assert said in out


def test_run_records_are_compared_frame_by_frame(tmp_path: Path) -> None:
    reference = frames(detections(PERSON), detections(KITE), detections())
    rc, out = run_compare(tmp_path, reference, reference)
    assert rc == 0, out
    assert "3 records, 2/2" in out
    rc, out = run_compare(
        tmp_path, reference, frames(detections(PERSON), detections(), detections(KITE))
    )
    assert rc == 1
    assert "frame 1: x86's kite" in out
    assert "frame 2: extra kite" in out


def test_a_missing_frame_is_a_difference(tmp_path: Path) -> None:
    reference = frames(detections(PERSON), detections(KITE))
    rc, out = run_compare(tmp_path, reference, reference[:1])
    assert rc == 1
    assert "frame 1: missing from the emulated run" in out


def test_a_reference_without_detections_compares_nothing_and_fails(tmp_path: Path) -> None:
    empty = frames(detections(), detections())
    rc, out = run_compare(tmp_path, empty, empty)
    assert rc == 1
    assert "nothing was compared" in out


def test_event_lines_are_not_frames(tmp_path: Path) -> None:
    reference: list[Record] = [{"event": "source_down"}, *frames(detections(PERSON))]
    rc, out = run_compare(tmp_path, reference, frames(detections(PERSON)))
    assert rc == 0, out


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("not json\n", "not JSON"),
        ('{"frame_id": 0, "detections": [{"label": "x"}]}\n', "lacks label/score/xyxy"),
        ('{"event": "source_up"}\n', "no records with detections"),
        ('{"detections": []}\n', "neither frame_id nor image"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, text: str, said: str) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text(text)
    good = write_jsonl(tmp_path / "good.jsonl", frames(detections(PERSON)))
    result = subprocess.run(
        [sys.executable, str(PI_CHECK / "compare.py"), str(good), str(bad)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert said in result.stderr


def test_compare_on_the_real_x86_output(tmp_path: Path, models_dir: Path, images_dir: Path) -> None:
    """`camera-app detect --json` output parses, and matches itself."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "camera_app",
            "detect",
            "--json",
            "--labels",
            str(models_dir / "coco_labels.txt"),
            str(models_dir / "ssd_mobilenet_v1_coco_quant.tflite"),
            str(images_dir / "kite_and_cold.jpg"),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    out = tmp_path / "x86.jsonl"
    out.write_text(result.stdout)
    reference = compare.load(out)
    assert len(reference["image kite_and_cold.jpg"]) >= 8
    report = compare.compare(reference, reference, compare.Tolerance())
    assert report.ok
    assert report.matched == len(reference["image kite_and_cold.jpg"])


def by_hand_commands() -> list[str]:
    lines = (PI_CHECK / "by_hand.sh").read_text().splitlines()
    return [line for line in lines if line.strip() and not line.startswith("#")]


def test_by_hand_commands_are_the_readmes() -> None:
    """The check runs by_hand.sh; the README must show the same lines, in order, together."""
    commands = by_hand_commands()
    assert commands[0] == "sudo apt update"
    assert any("pip install" in c for c in commands)
    readme = (REPO / "README.md").read_text().splitlines()
    starts = [i for i, line in enumerate(readme) if line == commands[0]]
    assert any(readme[i : i + len(commands)] == commands for i in starts), (
        "README.md's by-hand Pi install differs from tools/pi_check/by_hand.sh:\n"
        + "\n".join(commands)
    )


def run_check(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(PI_CHECK / "run.sh"), *args],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PI_CHECK_WORK": str(tmp_path / "work"), **env},
        timeout=120,
    )


def last_line(result: subprocess.CompletedProcess[str]) -> str:
    return (result.stdout + result.stderr).strip().splitlines()[-1]


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--suite", "jessie"], "--suite: bookworm or trixie, not jessie"),
        (["--bogus"], "unknown option --bogus"),
    ],
)
def test_bad_arguments_fail_in_one_line(tmp_path: Path, args: list[str], said: str) -> None:
    result = run_check(tmp_path, *args)
    assert result.returncode == 1
    assert last_line(result).startswith("pi-check: FAILED after")
    assert said in last_line(result)


@pytest.mark.skipif(os.geteuid() != 0, reason="the check refuses non-root first")
def test_no_binfmt_misc_fails_in_one_line_and_leaves_nothing(
    tmp_path: Path, fixtures_dir: Path
) -> None:
    result = run_check(
        tmp_path,
        PI_CHECK_BINFMT=str(tmp_path / "no-binfmt"),
        CAMERA_APP_FIXTURES=str(fixtures_dir),
        PI_CHECK_X86_PYTHON=sys.executable,
    )
    assert result.returncode == 1
    line = last_line(result)
    assert line.startswith("pi-check: FAILED after")
    assert "binfmt_misc" in line and "arm64 programs cannot run here" in line
    assert not (tmp_path / "work").exists()
