"""``camera-app detect MODEL IMAGE...``: run still images."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import cv2

from camera_app.commands.args import add_config_arg, add_model_args, print_json
from camera_app.commands.common import load
from camera_app.errors import ImageError, UsageError
from camera_app.sinks.overlay import draw_result
from camera_app.sources.images import read_image


def register(sub: Any) -> None:
    p = sub.add_parser("detect", help="run a model on image files")
    add_config_arg(p)
    add_model_args(p, model_positional=True)
    p.add_argument("images", nargs="+", metavar="IMAGE")
    p.add_argument("--json", action="store_true", help="one JSON object per image, one per line")
    p.add_argument("--annotate", metavar="DIR", help="write each image with overlays into DIR")
    p.set_defaults(handler=run, default_log_level="warning")


def run(args: argparse.Namespace) -> int:
    out_dir = Path(args.annotate) if args.annotate else None
    if out_dir is not None and out_dir.exists() and not out_dir.is_dir():
        raise UsageError(f"--annotate {out_dir}: exists and is not a folder")
    images = [(p, read_image(p)) for p in args.images]  # fail before any output
    model = load(args)
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
    written: set[Path] = set()
    for path, image in images:
        result = model.infer_image(image, name=path)
        h, w = image.shape[:2]
        if args.json:
            print_json(
                {
                    "image": path,
                    "size_wh": [w, h],
                    "family": result.family,
                    "inference_ms": round(result.timings.inference_ms, 2),
                    **result.payload(),
                }
            )
        else:
            print(_describe(path, (w, h), result))
        if out_dir is not None:
            target = _unique(out_dir / (Path(path).stem + ".jpg"), written)
            written.add(target)
            if not cv2.imwrite(str(target), draw_result(image.copy(), result)):
                raise ImageError(f"annotated image {target}: cannot be written")
    return 0


def _unique(target: Path, taken: set[Path]) -> Path:
    """``a.jpg``, then ``a-2.jpg``...: two inputs named alike in different
    folders must not overwrite each other's annotated image."""
    n, candidate = 1, target
    while candidate in taken:
        n += 1
        candidate = target.with_name(f"{target.stem}-{n}{target.suffix}")
    return candidate


def _describe(path: str, size_wh: tuple[int, int], result: Any) -> str:
    head = f"{path} ({size_wh[0]}x{size_wh[1]}, {result.family}, {result.timings.inference_ms:.1f} ms):"
    p = result.payload()
    items = [
        f"  {d['label'] or d['class_id']} {d['score']:.2f} at {d['xyxy']}" for d in p["detections"]
    ]
    items += [f"  {c['label'] or c['class_id']} {c['score']:.2f}" for c in p.get("classes", [])]
    if "mask" in p:
        names = [
            result.labels.name(c) if result.labels else None for c in p["mask"]["classes_present"]
        ]
        items.append(
            "  classes present: "
            + ", ".join(
                str(n or c) for n, c in zip(names, p["mask"]["classes_present"], strict=True)
            )
        )
    if "embedding" in p:
        e = p["embedding"]
        first = ", ".join(f"{v:.3f}" for v in e["vector"][:4])
        items.append(f"  embedding: {e['size']} values, L2 norm {e['l2_norm']:.3f} ({first}, ...)")
    return "\n".join([head, *(items or ["  nothing above the threshold"])])
