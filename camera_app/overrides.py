"""Config keys set from outside the file: the command line's flags.

``config_from_args(args)`` reads ``--config FILE`` (or the defaults), lets
every flag the user actually gave win, validates again and checks the files
the result names. Flags are declared once: the run's own in
:data:`camera_app.commands.args.CORE_FLAGS`, each component's in its module
(``FLAGS``).
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from typing import Any, get_type_hints

from camera_app.commands.args import CORE_FLAGS
from camera_app.components import PROCESSORS, SINKS, Component, Flag
from camera_app.config import AppConfig, check_files, load_config
from camera_app.errors import ConfigError, UsageError
from camera_app.validation import Mismatch, convert, describe


def _leaf(cls: Any, key: str) -> tuple[Any, dict[str, Any]]:
    """Type hint and metadata of a dotted key below dataclass ``cls``."""
    *parents, last = key.split(".")
    for name in parents:
        cls = get_type_hints(cls)[name]
    f = cls.__dataclass_fields__[last]
    return get_type_hints(cls)[last], dict(f.metadata)


def _convert(cls: Any, key: str, value: Any, flag: str) -> Any:
    tp, meta = _leaf(cls, key)
    raw = list(value) if isinstance(value, list | tuple) else value
    candidates = [raw]
    if isinstance(raw, str):  # a flag's text for a numeric key: "8080"
        for kind in (int, float):
            try:
                candidates.append(kind(raw))
            except ValueError:
                continue
    for candidate in candidates:
        try:
            return convert(candidate, tp, meta)
        except Mismatch:
            continue
    raise UsageError(f"{flag}: expected {describe(tp, meta)}, got {value!r}")


def with_values(config: AppConfig, overrides: Mapping[str, Any]) -> AppConfig:
    """``config`` with dotted keys replaced (``{"model.threads": 2}``,
    ``{"sinks.jsonl.path": "x"}``), unvalidated."""
    for key, value in overrides.items():
        section = next(
            (
                s
                for s in sorted(config.components, key=len, reverse=True)
                if key.startswith(s + ".")
            ),
            None,
        )
        if section is not None:
            sub = key[len(section) + 1 :]
            config = config.with_section(section, replace(config.section(section), **{sub: value}))
            continue
        *parents, last = key.split(".")
        chain: list[Any] = [config]
        for name in parents:
            chain.append(getattr(chain[-1], name))
        new: Any = replace(chain[-1], **{last: value})
        for obj, name in zip(reversed(chain[:-1]), reversed(parents), strict=True):
            new = replace(obj, **{name: new})
        config = new
    return config


def _component_overrides(c: Component, f: Flag, value: Any) -> dict[str, Any]:
    cls = c.config_type
    if f.apply is not None:
        try:
            keys = dict(f.apply(value))
        except ValueError as e:
            raise UsageError(f"{f.flag}: expected {e}, got {value!r}") from None
    else:
        assert f.key is not None
        keys = {f.key: _convert(cls, f.key, value, f.flag)}
    keys.update(f.implies)
    return {f"{c.section}.{k}": v for k, v in keys.items()}


def cli_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The config keys the user set on the command line, validated like the file."""
    out: dict[str, Any] = {}
    for dest, (key, flag) in CORE_FLAGS.items():
        value = getattr(args, dest, None)
        if value is None or value is False or value == []:
            continue
        out[key] = _convert(AppConfig, key, value, flag)
    every_frame = getattr(args, "every_frame", None)
    if every_frame is not None:
        out["source.mode"] = "every-frame" if every_frame else "realtime"
    if getattr(args, "log_level", None) is None:
        if getattr(args, "debug", False):
            out["logging.level"] = "debug"
        elif getattr(args, "quiet", False):
            out["logging.level"] = "warning"
    for c in SINKS + PROCESSORS:
        for f in c.flags:
            value = getattr(args, f.dest, None)
            if value is None or value is False:
                continue
            out.update(_component_overrides(c, f, value))
    return out


def config_from_args(args: argparse.Namespace, files: bool = True) -> AppConfig:
    """``--config FILE`` (or the defaults) merged with the flags the user gave,
    validated again, then checked against the filesystem; errors name the
    file and the key."""
    path = getattr(args, "config", None)
    config = load_config(path, files=False) if path else AppConfig.default()
    config = with_values(config, cli_overrides(args))
    with _naming(path):
        try:
            config.http.validate()  # --http went around it too
        except ConfigError as e:
            raise ConfigError(f"http.{e}") from None
        for c in SINKS + PROCESSORS:  # flags went around the sections' validate()
            check = getattr(config.section(c.section), "validate", None)
            if callable(check):
                try:
                    check()
                except ConfigError as e:
                    raise ConfigError(f"{c.section}.{e}") from None
    if files:
        check_config_files(config, path)
    return config


def check_config_files(config: AppConfig, path: str | None = None) -> None:
    """``check_files``, its errors naming the config file ``path`` when given."""
    with _naming(path):
        check_files(config)


@contextmanager
def _naming(path: str | None) -> Iterator[None]:
    """A ``ConfigError`` raised inside names the config file ``path`` (if any)."""
    try:
        yield
    except ConfigError as e:
        if path:
            raise ConfigError(f"config {path}: {e}") from e
        raise
