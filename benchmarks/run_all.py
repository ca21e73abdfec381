#!/usr/bin/env python3
"""Run the benchmark scenarios and print benchmarks/README.md's table rows.

    .venv/bin/python benchmarks/run_all.py                 # every scenario
    .venv/bin/python benchmarks/run_all.py --only jsonl-1t,1080p-record
    .venv/bin/python benchmarks/run_all.py --list          # the exact commands

Each scenario is one ``camera-app bench ... --json`` run in its own process
(so peak RSS is per scenario). The script prints, per scenario, the command
line, then the table (paste it into README.md) and the acceptance checks
with PASS/FAIL. Figures depend on the machine and on what else runs on it:
the load average is printed next to every row; measure on a quiet machine.
Fixtures: ``$CAMERA_APP_FIXTURES`` or ``../shared/fixtures`` from the repo.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from camera_app.bench.report import TABLE_HEADER, table_row  # noqa: E402

Check = tuple[str, Callable[[dict[str, Any]], float | None], str, float]
"""(label, figure from the report, '>=' or '<=', bound)."""


def _lat(key: str) -> Callable[[dict[str, Any]], float | None]:
    return lambda r: (r["latency_ms"].get("over_bare_invoke") or {}).get(key)


def _ratio(key: str) -> Callable[[dict[str, Any]], float | None]:
    return lambda r: r["ratios"][key]


P_OVER_BARE = _ratio("pipeline_over_bare")
REALTIME_CHECKS: list[Check] = [
    ("realtime latency p50 / bare invoke", _lat("p50"), "<=", 1.3),
    ("realtime latency p99 / bare invoke", _lat("p99"), "<=", 3.0),
    ("realtime drops", lambda r: r["dropped"], "<=", 0),
]


@dataclass
class Scenario:
    name: str
    args: list[str]
    checks: list[Check] = field(default_factory=list)
    needs: str | None = None  # a module the scenario needs


HD = ["--upscale", "1920x1080", "--sinks", "overlay,record,jsonl", "--threads", "1"]


def scenarios(cores: int) -> list[Scenario]:
    base = ["--frames", "600", "--repeat", "3"]
    return [
        Scenario(
            "jsonl-1t",
            [*base, "--sinks", "jsonl", "--threads", "1", "--realtime-frames", "300"],
            [("pipeline / bare", P_OVER_BARE, ">=", 0.95), *REALTIME_CHECKS],
        ),
        Scenario(  # tracking, zones, lines and events on (camera-app bench --track)
            "jsonl-track-1t",
            [*base, "--sinks", "jsonl", "--threads", "1", "--realtime-frames", "300", "--track"],
            [("pipeline / bare", P_OVER_BARE, ">=", 0.95), *REALTIME_CHECKS],
        ),
        Scenario(
            f"jsonl-{cores}t",
            [*base, "--sinks", "jsonl", "--threads", str(cores), "--skip", "realtime"],
            [("pipeline / bare", P_OVER_BARE, ">=", 0.85)],
        ),
        *(
            Scenario(
                f"jsonl-{n}t",
                [*base, "--sinks", "jsonl", "--threads", str(n), "--skip", "realtime"],
            )
            for n in (2, 4)
            if n != cores
        ),
        # 1080p with overlay + recording + JSONL, recorded as Motion JPEG (.avi,
        # libjpeg-turbo): the acceptance scenario, the cheapest software recording
        Scenario(
            "1080p-overlay-record-avi-jsonl-1t",
            [*base, *HD, "--record-format", "avi", "--realtime-frames", "200"],
            [
                ("pipeline / bare", P_OVER_BARE, ">=", 0.9),
                ("pipeline / naive", _ratio("pipeline_over_naive"), ">=", 1.4),
                ("preprocess / invoke at 1080p", lambda r: r["preprocess_over_invoke"], "<=", 0.1),
            ],
        ),
        # the same recorded as .mp4 (H.264, libx264 ultrafast here): ~8 ms of encoding
        # per frame; decode + draw + encode + invoke exceed two cores here
        Scenario("1080p-overlay-record-mp4-jsonl-1t", [*base, *HD, "--skip", "realtime"]),
        Scenario(
            "web-2-clients-1t",
            [*base, "--sinks", "web,jsonl", "--web-clients", "2", "--threads", "1"],
            [("pipeline / bare", P_OVER_BARE, ">=", 0.9)],
            needs="camera_app.sinks.web",
        ),
        Scenario(
            "soak-10000-1t",
            [
                "--sinks",
                "overlay,record,jsonl",
                "--threads",
                "1",
                "--loop-frames",
                "10000",
                "--skip",
                "bare,naive,pipeline,realtime",
            ],
            [("RSS growth after warm-up, MB", lambda r: r.get("rss_growth_mb"), "<", 10.0)],
        ),
    ]


def _passes(value: float | None, op: str, bound: float) -> bool:
    if value is None:
        return False
    return {"<=": value <= bound, ">=": value >= bound, "<": value < bound}[op]


def _available(module: str | None) -> bool:
    if module is None:
        return True
    import importlib.util

    return importlib.util.find_spec(module) is not None


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--only", default="", help="comma-separated scenario names")
    p.add_argument("--list", action="store_true", help="print the commands, run nothing")
    p.add_argument("--python", default=sys.executable, help="interpreter with camera_app")
    p.add_argument("--save", metavar="DIR", help="also write each scenario's JSON report here")
    args = p.parse_args()
    fixtures = Path(os.environ.get("CAMERA_APP_FIXTURES", REPO.parent / "shared" / "fixtures"))
    model = fixtures / "models" / "ssd_mobilenet_v1_coco_quant.tflite"
    video = fixtures / "videos" / "one-by-one-person-detection.mp4"
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    chosen = scenarios(cores or 1)
    if args.only:
        wanted = set(args.only.split(","))
        unknown = wanted - {s.name for s in chosen}
        if unknown:
            p.error(f"unknown scenario(s) {', '.join(sorted(unknown))}")
        chosen = [s for s in chosen if s.name in wanted]
    rows, checks, pending = [], [], []
    for sc in chosen:
        cmd = [
            "camera-app", "bench", "--model", str(model), "--source", str(video), *sc.args, "--json"
        ]  # fmt: skip
        shown = " ".join(shlex.quote(c) for c in cmd)
        if not _available(sc.needs):
            pending.append(f"{sc.name}: pending ({sc.needs} is not in this tree)")
            continue
        print(f"## {sc.name}\n{shown}", flush=True)
        if args.list:
            continue
        proc = subprocess.run(
            [args.python, "-m", "camera_app", "--log-level", "warning", *cmd[1:]],
            cwd=REPO,
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0:
            print(f"FAILED ({proc.returncode}): {proc.stderr.strip()[-2000:]}", flush=True)
            checks.append(f"| {sc.name} | run | FAIL (exit {proc.returncode}) |")
            continue
        rep = json.loads(proc.stdout.strip().splitlines()[-1])
        if args.save:
            Path(args.save).mkdir(parents=True, exist_ok=True)
            Path(args.save, f"{sc.name}.json").write_text(json.dumps(rep, indent=1))
        rows.append(table_row(sc.name, rep))
        print(rows[-1], flush=True)
        for label, get, op, bound in sc.checks:
            v = get(rep)
            ok = _passes(v, op, bound)
            checks.append(f"| {sc.name} | {label} {op} {bound} | {v} {'PASS' if ok else 'FAIL'} |")
    if args.list:
        return 0
    print("\n" + TABLE_HEADER)
    print("\n".join(rows))
    print("\n| scenario | acceptance | measured |\n|---|---|---|")
    print("\n".join(checks))
    for line in pending:
        print(line)
    return 0 if all("FAIL" not in c for c in checks) else 1


if __name__ == "__main__":
    raise SystemExit(main())
