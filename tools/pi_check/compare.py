"""Compare detections from an emulated Pi run with the x86 reference run's.

Reads JSON Lines from ``camera-app detect --json`` (one object per image,
keyed by the image's file name) or ``camera-app run --jsonl`` (one object
per frame, keyed by ``frame_id``). Every reference detection must have a
counterpart in the candidate, and the other way round: the same label, a
box within ``--box-px`` pixels on every side and a score within
``--score``. A detection near the threshold (below ``threshold +
--margin``) may be missing from the other side: a score one quantisation
step away from the threshold may land either side of it.

Prints one line per compared pair of files and exits 1 when they differ,
with the first difference named; exit 2 on unreadable input.

    python3 compare.py --threshold 0.5 x86.jsonl pi.jsonl
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path


class CompareError(Exception):
    """An input file is missing or not the JSON Lines expected."""


@dataclass(frozen=True)
class Detection:
    label: str
    score: float
    xyxy: tuple[float, float, float, float]


@dataclass(frozen=True)
class Tolerance:
    box_px: float = 4.0
    score: float = 0.03
    threshold: float = 0.5
    margin: float = 0.05

    def may_be_missing(self, detection: Detection) -> bool:
        return detection.score < self.threshold + self.margin


@dataclass
class Report:
    """What one comparison found; ``problems`` is empty when they agree."""

    records: int = 0
    reference_detections: int = 0
    matched: int = 0
    near_threshold_unmatched: int = 0
    max_box_px: float = 0.0
    max_score: float = 0.0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        verdict = "same" if self.ok else f"DIFFERENT ({self.problems[0]})"
        return (
            f"{verdict}: {self.records} records, {self.matched}/{self.reference_detections}"
            f" reference detections matched ({self.near_threshold_unmatched} near-threshold"
            f" unmatched), max box diff {self.max_box_px:.1f} px,"
            f" max score diff {self.max_score:.3f}"
        )


def _key(record: dict[str, object], line_no: int) -> str:
    if "frame_id" in record:
        return f"frame {record['frame_id']}"
    if "image" in record:
        return f"image {Path(str(record['image'])).name}"
    raise CompareError(f"line {line_no}: neither frame_id nor image")


def _detection(raw: object, where: str) -> Detection:
    if not isinstance(raw, dict):
        raise CompareError(f"{where}: a detection is not an object")
    try:
        x1, y1, x2, y2 = (float(v) for v in raw["xyxy"])
        return Detection(str(raw["label"]), float(raw["score"]), (x1, y1, x2, y2))
    except (KeyError, TypeError, ValueError) as exc:
        raise CompareError(f"{where}: a detection lacks label/score/xyxy ({exc})") from exc


def load(path: Path) -> dict[str, list[Detection]]:
    """Detections by record key, from a JSON Lines file."""
    try:
        lines = path.read_text().splitlines()
    except OSError as exc:
        raise CompareError(f"{path}: {exc.strerror or exc}") from exc
    records: dict[str, list[Detection]] = {}
    for line_no, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise CompareError(f"{path}:{line_no}: not JSON ({exc.msg})") from exc
        if not isinstance(record, dict) or "detections" not in record:
            # run --jsonl may carry event lines (source_down ...): not frames.
            continue
        key = _key(record, line_no)
        where = f"{path}:{line_no}"
        records[key] = [_detection(raw, where) for raw in record["detections"]]
    if not records:
        raise CompareError(f"{path}: no records with detections")
    return records


def _box_diff(a: Detection, b: Detection) -> float:
    return max(abs(p - q) for p, q in zip(a.xyxy, b.xyxy, strict=True))


def _match(
    key: str,
    reference: Sequence[Detection],
    candidate: Sequence[Detection],
    tolerance: Tolerance,
    report: Report,
) -> None:
    problems = report.problems
    unmatched = list(candidate)
    for ref in sorted(reference, key=lambda d: -d.score):
        same_label = [c for c in unmatched if c.label == ref.label]
        best = min(same_label, key=lambda c: _box_diff(ref, c), default=None)
        if (
            best is not None
            and _box_diff(ref, best) <= tolerance.box_px
            and abs(best.score - ref.score) <= tolerance.score
        ):
            unmatched.remove(best)
            report.matched += 1
            report.max_box_px = max(report.max_box_px, _box_diff(ref, best))
            report.max_score = max(report.max_score, abs(best.score - ref.score))
        elif tolerance.may_be_missing(ref):
            report.near_threshold_unmatched += 1
        else:
            problems.append(f"{key}: x86's {_describe(ref)} has no match{_nearest(best)}")
    for extra in unmatched:
        if tolerance.may_be_missing(extra):
            report.near_threshold_unmatched += 1
        else:
            problems.append(f"{key}: extra {_describe(extra)} not in the x86 run")


def _describe(d: Detection) -> str:
    box = ",".join(f"{v:.1f}" for v in d.xyxy)
    return f"{d.label} {d.score:.3f} [{box}]"


def _nearest(best: Detection | None) -> str:
    return "" if best is None else f" (nearest: {_describe(best)})"


def compare(
    reference: dict[str, list[Detection]],
    candidate: dict[str, list[Detection]],
    tolerance: Tolerance,
) -> Report:
    report = Report()
    problems = report.problems
    for key in sorted(set(reference) - set(candidate)):
        problems.append(f"{key}: missing from the emulated run")
    for key in sorted(set(candidate) - set(reference)):
        problems.append(f"{key}: not in the x86 run")
    for key in sorted(set(reference) & set(candidate)):
        report.records += 1
        report.reference_detections += len(reference[key])
        _match(key, reference[key], candidate[key], tolerance, report)
    if report.reference_detections == 0:
        problems.append("the x86 run has no detections: nothing was compared")
    return report


def parse_args(argv: Iterable[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("reference", type=Path, help="the x86 run's JSON Lines")
    parser.add_argument("candidate", type=Path, help="the emulated run's JSON Lines")
    parser.add_argument("--box-px", type=float, default=Tolerance.box_px)
    parser.add_argument("--score", type=float, default=Tolerance.score)
    parser.add_argument("--threshold", type=float, default=Tolerance.threshold)
    parser.add_argument("--margin", type=float, default=Tolerance.margin)
    parser.add_argument("--name", default="", help="a label for the printed line")
    return parser.parse_args(list(argv))


def main(argv: Iterable[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    tolerance = Tolerance(args.box_px, args.score, args.threshold, args.margin)
    try:
        report = compare(load(args.reference), load(args.candidate), tolerance)
    except CompareError as exc:
        print(f"compare: error: {exc}", file=sys.stderr)
        return 2
    prefix = f"{args.name}: " if args.name else ""
    print(f"{prefix}{report.summary()}")
    for problem in report.problems[1:5]:
        print(f"{prefix}  also: {problem}")
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
