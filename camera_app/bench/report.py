"""The bench report: one JSON object, a text table, README rows, a plot."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from camera_app.bench.measure import ModeResult
from camera_app.errors import UsageError

STAGE_ORDER = ("capture", "preprocess", "invoke", "decode")


def loadavg() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def ratio(a: float | None, b: float | None) -> float | None:
    """a / b rounded, None when either is missing or b is zero."""
    if a is None or b is None or b <= 0:
        return None
    return round(a / b, 3)


def _mean(stages: dict[str, Any], stage: str) -> float | None:
    s = stages.get(stage)
    return None if not s else s.get("mean")


def analysis_ms(stages: dict[str, Any]) -> dict[str, float] | None:
    """Mean ms per frame of each analysis stage (``analysis:<name>``) and
    their ``total``; None when none ran."""
    means = {
        name.partition(":")[2]: float(v["mean"])
        for name, v in stages.items()
        if name.startswith("analysis:") and v and v.get("mean") is not None
    }
    if not means:
        return None
    return {**means, "total": round(sum(means.values()), 3)}


def build(raw: dict[str, Any], meta: dict[str, Any]) -> dict[str, Any]:
    """The ``--json`` object from ``run_bench``'s output and run metadata."""
    results: dict[str, ModeResult] = raw["results"]
    fps: dict[str, float | None] = {m: round(r.fps, 2) for m, r in results.items() if m != "soak"}
    for m in ("bare", "naive", "pipeline"):
        fps.setdefault(m, None)
    rt = results.get("realtime")
    bare = results.get("bare")
    invoke_p50 = bare.stages["invoke"]["p50"] if bare and "invoke" in bare.stages else None
    lat: dict[str, Any] = {"p50": None, "p95": None, "p99": None, "mode": None}
    if rt is not None and rt.latency is not None:
        lat = {k: rt.latency[k] for k in ("p50", "p95", "p99")} | {"mode": "realtime"}
        lat["over_bare_invoke"] = {
            "p50": ratio(lat["p50"], invoke_p50),
            "p99": ratio(lat["p99"], invoke_p50),
        }
    modes = {}
    for m, r in results.items():
        j = r.to_json()
        j.pop("stages_ms")
        modes[m] = j
    out: dict[str, Any] = dict(meta)
    out.update(
        clip=raw["clip"],
        fps=fps,
        fps_runs=raw["fps_runs"],
        median_of=raw["median_of"],
        ratios={
            "pipeline_over_bare": ratio(fps.get("pipeline"), fps.get("bare")),
            "pipeline_over_naive": ratio(fps.get("pipeline"), fps.get("naive")),
            "naive_over_bare": ratio(fps.get("naive"), fps.get("bare")),
        },
        latency_ms=lat,
        stages_ms={m: r.stages for m, r in results.items()},
        cpu_ms_per_frame={m: modes[m]["cpu_ms_per_frame"] for m in modes},
        preprocess_over_invoke=ratio(
            _mean(bare.stages, "preprocess") if bare else None,
            _mean(bare.stages, "invoke") if bare else None,
        ),
        analysis_ms_per_frame={
            m: a for m, r in results.items() if (a := analysis_ms(r.stages)) is not None
        },
        dropped=rt.dropped if rt is not None else None,
        peak_rss_mb=raw["peak_rss_mb"],
        rss_start_mb=raw["rss_start_mb"],
        modes=modes,
    )
    soak = results.get("soak")
    if soak is not None:
        out["rss_growth_mb"] = soak.extra["rss_growth_mb"]
    return out


def _f(v: Any, spec: str = ".1f") -> str:
    return "-" if v is None else format(v, spec)


def render_text(rep: dict[str, Any]) -> str:
    clip = rep["clip"]
    lines = [
        f"camera-app bench: {Path(rep['model']).name}, {rep['threads']} inference thread(s), "
        f"{clip['size_wh'][0]}x{clip['size_wh'][1]}{' (upscaled)' if clip['upscaled'] else ''} "
        f"@ {_f(clip['fps'])} fps, sinks {','.join(rep['sinks']) or 'none'}"
        f"{' (record .' + rep['record_format'] + ')' if rep.get('record_format') else ''}, "
        f"load {rep['load']['start']} -> {rep['load']['end']}",
        "",
        f"{'mode':<10}{'frames':>8}{'fps':>9}{'cpu ms/frame':>14}   threads (cpu ms/frame)",
    ]
    for m, j in rep["modes"].items():
        threads = ", ".join(f"{k} {v}" for k, v in j.get("thread_cpu_ms_per_frame", {}).items())
        lines.append(
            f"{m:<10}{j['frames']:>8}{_f(j['fps']):>9}{_f(j['cpu_ms_per_frame']):>14}   {threads}"
        )
    r = rep["ratios"]
    lines += [
        "",
        f"ratios: pipeline/bare {_f(r['pipeline_over_bare'], '.3f')}, "
        f"pipeline/naive {_f(r['pipeline_over_naive'], '.3f')}, "
        f"naive/bare {_f(r['naive_over_bare'], '.3f')}"
        + (f" (median of {rep['median_of']} runs)" if rep["median_of"] > 1 else ""),
    ]
    lat = rep["latency_ms"]
    if lat["mode"]:
        over = lat["over_bare_invoke"]
        lines.append(
            f"latency ({lat['mode']}, capture to result): p50 {_f(lat['p50'])} / "
            f"p95 {_f(lat['p95'])} / p99 {_f(lat['p99'])} ms = {_f(over['p50'], '.2f')}x / "
            f"{_f(over['p99'], '.2f')}x bare invoke p50; dropped {rep['dropped']}"
        )
    lines.append(f"preprocess / invoke (bare, mean): {_f(rep['preprocess_over_invoke'], '.3f')}")
    for m, a in rep.get("analysis_ms_per_frame", {}).items():
        parts = ", ".join(f"{k} {v:.3f}" for k, v in a.items() if k != "total")
        lines.append(f"analysis ({m}, mean ms/frame): {parts}; total {a['total']:.3f}")
    lines += ["", "stage times, ms (mean / p95):"]
    stages = rep["stages_ms"]
    names = [s for s in STAGE_ORDER if any(s in v for v in stages.values())]
    names += sorted({s for v in stages.values() for s in v} - set(names))
    lines.append(f"{'':<14}" + "".join(f"{m:>18}" for m in stages))
    for s in names:
        cells = []
        for m in stages:
            v = stages[m].get(s)
            cells.append(f"{_f(v['mean'], '.2f')} / {_f(v['p95'], '.2f')}" if v else "-")
        lines.append(f"{s:<14}" + "".join(f"{c:>18}" for c in cells))
    lines += ["", f"peak RSS {_f(rep['peak_rss_mb'])} MB"]
    soak = rep["modes"].get("soak")
    if soak is not None:
        lines[-1] += (
            f"; soak over {soak['frames']} frames: RSS {_f(soak['rss_warmup_mb'])} MB after "
            f"{soak['warmup_frames']} frames -> {_f(soak['rss_end_mb'])} MB at the end "
            f"(growth {_f(soak['rss_growth_mb'], '+.1f')} MB, "
            f"max {_f(soak['rss_max_after_warmup_mb'])} MB)"
        )
    return "\n".join(lines)


def table_row(name: str, rep: dict[str, Any]) -> str:
    """One row of benchmarks/README.md's table."""
    r, f, lat = rep["ratios"], rep["fps"], rep["latency_ms"]
    over = lat.get("over_bare_invoke") or {}
    return (
        f"| {name} | {rep['threads']} | {_f(f['bare'])} | {_f(f['naive'])} | {_f(f['pipeline'])} "
        f"| {_f(r['pipeline_over_bare'], '.2f')} | {_f(r['pipeline_over_naive'], '.2f')} "
        f"| {_f(lat['p50'])} / {_f(lat['p99'])} ({_f(over.get('p50'), '.2f')}x / "
        f"{_f(over.get('p99'), '.2f')}x) | {_f(rep.get('dropped'), 'd')} "
        f"| {_f(rep['preprocess_over_invoke'], '.3f')} | {_f(rep['peak_rss_mb'], '.0f')} "
        f"| {_f(rep.get('rss_growth_mb'), '+.1f')} | {' '.join(str(x) for x in rep['load']['start'])} |"
    )


TABLE_HEADER = (
    "| scenario | threads | bare fps | naive fps | pipeline fps | pipeline/bare | pipeline/naive "
    "| realtime latency p50 / p99 ms (x bare invoke) | drops | preprocess/invoke | peak RSS MB "
    "| RSS growth MB | load (1/5/15 min) |\n"
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
)


def check_matplotlib() -> None:
    try:
        import matplotlib  # noqa: F401
    except ImportError as e:
        raise UsageError("bench: --plot needs matplotlib: pip install 'camera_app[plot]'") from e


def plot(rep: dict[str, Any], results: dict[str, ModeResult], path: Path) -> None:
    """Latency over frames (realtime) and mean time per stage and mode."""
    check_matplotlib()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_lat, ax_st) = plt.subplots(1, 2, figsize=(13, 4.8))
    rt = results.get("realtime")
    if rt is not None and rt.latency_samples_ms:
        ax_lat.plot(rt.latency_samples_ms, lw=0.8, label="latency, capture to result")
        inv = rep["stages_ms"].get("bare", {}).get("invoke")
        if inv:
            ax_lat.axhline(inv["p50"], color="k", ls="--", lw=0.8, label="bare invoke p50")
        ax_lat.legend()
    else:
        ax_lat.text(0.5, 0.5, "realtime mode skipped", ha="center", transform=ax_lat.transAxes)
    ax_lat.set(title="realtime latency", xlabel="frame", ylabel="ms")
    stages = rep["stages_ms"]
    names = [s for s in STAGE_ORDER if any(s in v for v in stages.values())]
    names += sorted({s for v in stages.values() for s in v} - set(names))
    width = 0.8 / max(1, len(stages))
    for i, (mode, st) in enumerate(stages.items()):
        xs = [j + i * width for j in range(len(names))]
        ax_st.bar(xs, [(st.get(n) or {}).get("mean") or 0 for n in names], width, label=mode)
    ax_st.set_xticks([j + 0.4 - width / 2 for j in range(len(names))], names, rotation=30)
    ax_st.set(title="mean time per stage", ylabel="ms")
    ax_st.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
