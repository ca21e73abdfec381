"""Doctor checks of the configuration: the file itself, the model it names,
the output folders (:mod:`.network` checks the broker and the web port).

They read the config by duck typing (``config.section(name)`` when the
config has component sections, else attributes), so they keep working as
sections move.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import fields, is_dataclass
from pathlib import Path
from typing import Any

from camera_app.doctor import Check, Level, fail, ok, warn
from camera_app.errors import CameraAppError, ConfigError

MIN_FREE_BYTES = 50 << 20
"""Below this an output folder FAILs: a recording would stop within minutes."""
LOW_FREE_BYTES = 1 << 30
"""Below this it WARNs."""


def section(config: Any, name: str) -> Any:
    """A config section by dotted name, from either config shape."""
    get = getattr(config, "section", None)
    if callable(get):
        try:
            return get(name)
        except KeyError:
            pass
    comps = getattr(config, "components", None)
    if isinstance(comps, Mapping) and name in comps:
        return comps[name]
    obj = config
    for part in name.split("."):
        obj = getattr(obj, part, None)
    return obj


def check_config(path: str | None) -> tuple[Check, Any]:
    """``check-config``'s validation; also returns the config (read without the
    file checks when those fail) for the other checks, or None."""
    from camera_app.config import load_config

    if path is None:
        return warn(
            "config",
            "no config file: give --config FILE (the service reads /etc/camera-app/camera-app.toml)",
        ), None
    try:
        return ok("config", f"{path}: valid"), load_config(path)
    except ConfigError as e:
        check = fail("config", str(e))
    try:
        return check, load_config(path, files=False)
    except ConfigError:
        return check, None


def check_model(config: Any, config_file: str | None) -> Check:
    """The model loads: runtime, family, input, labels."""
    from camera_app.app import model_options
    from camera_app.inference.model import Model

    if config is None:
        why = "no config" if config_file is None else "the config cannot be read"
        return warn("model", f"not checked: {why} (camera-app models list shows models to pull)")
    m = config.model
    if m.path is None:
        return fail(
            "model",
            "model.path is not set: `camera-app models pull coco-ssd-mobilenet-v1` prints the [model] lines",
        )
    hint = ""
    if not Path(m.path).is_absolute():
        hint = f" (relative to {os.getcwd()}; the service runs in /var/lib/camera-app)"
    try:
        with Model(model_options(config)) as model:  # exactly as `run` would load it
            shape = model.info.input.shape
            labels = f"{len(model.labels.entries)} labels" if model.labels else "no labels"
            return ok(
                "model",
                f"{m.path}: family {model.family}, input {shape[2]}x{shape[1]} "
                f"{model.info.input.dtype.name}, {labels}, runtime {model.runtime.name}",
            )
    except CameraAppError as e:
        return fail("model", f"{e}{hint}")


def output_paths(config: Any) -> list[tuple[str, Path, bool]]:
    """(key, path, is_folder) of every output the sinks write: their ``path``
    fields and ``*dir`` fields ("-" is stdout)."""
    comps = getattr(config, "components", None)
    if isinstance(comps, Mapping):
        sections = [(k, v) for k, v in comps.items() if _is_sink(k)]
    else:
        sinks = getattr(config, "sinks", None)
        sections = (
            [(f"sinks.{f.name}", getattr(sinks, f.name)) for f in fields(sinks)] if sinks else []
        )
    found = []
    for name, sec in sections:
        if not is_dataclass(sec) or getattr(sec, "enabled", True) is False:
            continue
        for f in fields(sec):
            value = getattr(sec, f.name)
            if not isinstance(value, str) or value in ("", "-"):
                continue
            if f.name == "path" or f.name.endswith("_path"):
                found.append((f"{name}.{f.name}", Path(value), False))
            elif f.name.endswith("dir"):
                found.append((f"{name}.{f.name}", Path(value), True))
    return found


def _is_sink(section_name: str) -> bool:
    try:
        from camera_app.components import component

        return bool(component(section_name).kind == "sink")
    except (ImportError, KeyError):
        return section_name.startswith("sinks.")


def _folder_state(key: str, folder: Path) -> tuple[Level, str]:
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        return "FAIL", f"{key}: {existing} is not a folder"
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as e:
        return "FAIL", f"{key}: {existing} is not writable ({e.strerror or e})"
    free = shutil.disk_usage(existing).free
    made = "" if existing == folder else f" ({folder} will be created)"
    text = f"{folder} writable{made}, {free / 1e9:.1f} GB free"
    if free < MIN_FREE_BYTES:
        return "FAIL", f"{key}: {folder}: disk full ({free / 1e6:.0f} MB free)"
    if free < LOW_FREE_BYTES:
        return "WARN", f"{key}: {text}: low"
    return "OK", text


def check_outputs(config: Any) -> Check:
    """Every output folder is writable and has room."""
    if config is None:
        return warn("outputs", "not checked: no config")
    outputs = output_paths(config)
    if not outputs:
        return ok("outputs", "no output files configured")
    states = []
    seen: set[Path] = set()
    for key, path, is_dir in outputs:
        folder = path if is_dir else path.parent
        if folder in seen:
            continue
        seen.add(folder)
        states.append(_folder_state(key, folder))
    level: Level = (
        "FAIL"
        if any(s == "FAIL" for s, _ in states)
        else ("WARN" if any(s == "WARN" for s, _ in states) else "OK")
    )
    return Check("outputs", level, "; ".join(t for _, t in states))
