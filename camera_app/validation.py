"""A generic validator for frozen dataclasses read from TOML.

It walks the dataclass fields with their type hints (int, float, str, bool,
``Literal``, ``X | None``, tuples, nested dataclasses) and the bounds in
each field's metadata (``ge``, ``gt``, ``le``, ``lt``, ``choices``), so a
typo, a wrong type or an out-of-range value is one :class:`ConfigError`
that names the key path and what is allowed.
"""

from __future__ import annotations

import difflib
import json
import operator
import types
from collections.abc import Mapping
from dataclasses import field, fields, is_dataclass
from types import MappingProxyType
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

from camera_app.errors import ConfigError


def opt(default: Any, help: str = "", **meta: Any) -> Any:
    """A field with a default, a help text and bounds (ge, gt, le, choices...)."""
    if isinstance(default, list | dict):
        raise TypeError("use tuples for list defaults")
    return field(default=default, metadata={"help": help, **meta})


class Mismatch(Exception):
    """A value that does not fit its type; the caller names the key."""


_NAMES = {
    int: ("an integer", "integers"),
    float: ("a number", "numbers"),
    str: ("a string", "strings"),
    bool: ("true or false", "booleans"),
}


def show(value: Any) -> str:
    if isinstance(value, dict):
        return "a table"
    try:
        return json.dumps(value, default=str)
    except (TypeError, ValueError):
        return repr(value)


_OPS = {"ge": ">=", "gt": ">", "le": "<=", "lt": "<"}
_CHECKS = {"ge": operator.ge, "gt": operator.gt, "le": operator.le, "lt": operator.lt}


def _bounds(meta: dict[str, Any]) -> str:
    g = {k: f"{meta[k]:g}" for k in _OPS if k in meta}
    if set(g) == {"ge", "le"}:
        return f" from {g['ge']} to {g['le']}"
    return "".join(f" {'and ' if i else ''}{_OPS[k]} {v}" for i, (k, v) in enumerate(g.items()))


def _optional_inner(tp: Any) -> tuple[Any, ...]:
    return tuple(a for a in get_args(tp) if a is not type(None))


def describe(tp: Any, meta: dict[str, Any], plural: bool = False) -> str:
    """What a value of this type may be, in words."""
    if "expected" in meta:
        return str(meta["expected"])
    origin = get_origin(tp)
    if origin in (Union, types.UnionType):
        return " or ".join(describe(a, meta, plural) for a in _optional_inner(tp))
    if origin is Literal:
        return "one of " + ", ".join(show(a) for a in get_args(tp))
    if origin in (tuple, list):
        args = get_args(tp)
        if (len(args) == 2 and args[1] is Ellipsis) or origin is list:
            return "a list of " + describe(args[0], meta, plural=True)
        return f"a list of {len(args)} " + describe(args[0], meta, plural=True)
    if is_dataclass(tp):
        return "a table"
    if tp is str and "choices" in meta:
        return "one of " + ", ".join(show(c) for c in meta["choices"])
    name = _NAMES[tp][1 if plural else 0]
    return name + (_bounds(meta) if tp in (int, float) else "")


def convert(value: Any, tp: Any, meta: dict[str, Any]) -> Any:
    origin = get_origin(tp)
    if origin in (Union, types.UnionType):
        for arg in _optional_inner(tp):
            try:
                return convert(value, arg, meta)
            except Mismatch:
                continue
        raise Mismatch
    if origin is Literal:
        if isinstance(value, str) and value in get_args(tp):
            return value
        raise Mismatch
    if origin in (tuple, list):
        args = get_args(tp)
        if not isinstance(value, list):
            raise Mismatch
        fixed = not (len(args) == 2 and args[1] is Ellipsis) and origin is tuple
        if fixed and len(value) != len(args):
            raise Mismatch
        items = [convert(v, args[i] if fixed else args[0], meta) for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise Mismatch
    if tp in (int, float):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise Mismatch
        if tp is int and not isinstance(value, int):
            raise Mismatch
        num = tp(value)
        if num != num or any(k in meta and not op(num, meta[k]) for k, op in _CHECKS.items()):
            raise Mismatch
        return num
    if tp is str:
        if not isinstance(value, str) or ("choices" in meta and value not in meta["choices"]):
            raise Mismatch
        return value
    raise TypeError(f"unsupported config type {tp!r}")


def build(cls: type, data: Any, path: str = "") -> Any:
    """A ``cls`` instance from a parsed TOML table; ``ConfigError`` names the key."""
    where = f"[{path}]" if path else "[top level]"
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a table, got {show(data)}")
    hints = get_type_hints(cls)
    known = {f.name: f for f in fields(cls)}
    for key in data:
        if key not in known:
            close = difflib.get_close_matches(key, list(known), n=1)
            hint = f'did you mean "{close[0]}"?' if close else "allowed: " + ", ".join(known)
            raise ConfigError(f"unknown key {show(key)} in {where} ({hint})")
    values: dict[str, Any] = {}
    for name, f in known.items():
        if name not in data:
            continue
        key = f"{path}.{name}" if path else name
        tp, meta, value = hints[name], dict(f.metadata), data[name]
        if is_dataclass(tp):
            if not isinstance(value, dict):
                raise ConfigError(f"{key}: expected a table [{key}], got {show(value)}")
            values[name] = build(tp, value, key)  # type: ignore[arg-type]
            continue
        table = _table_type(tp)
        if table is not None:
            values[name] = _build_tables(table, value, key)
            continue
        try:
            values[name] = convert(value, tp, meta)
        except Mismatch:
            raise ConfigError(f"{key}: expected {describe(tp, meta)}, got {show(value)}") from None
    obj = cls(**values)
    check = getattr(obj, "validate", None)
    if callable(check):
        try:
            check()
        except ConfigError as e:
            raise ConfigError(f"{path}.{e}" if path else str(e)) from None
    return obj


def _table_type(tp: Any) -> tuple[str, Any] | None:
    """``tuple[DC, ...]`` (an array of tables, ``[[zones]]``) or
    ``Mapping[str, DC]`` (tables by name, ``[objects.filters.person]``)."""
    origin, args = get_origin(tp), get_args(tp)
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis and is_dataclass(args[0]):
        return ("array", args[0])
    if origin in (dict, Mapping) and len(args) == 2 and args[0] is str and is_dataclass(args[1]):
        return ("map", args[1])
    return None


def convert_tables(tp: Any, value: Any, key: str) -> Any:
    """An array of tables or tables by name (see :func:`build`) on its own."""
    table = _table_type(tp)
    if table is None:
        raise TypeError(f"not a table type: {tp!r}")
    return _build_tables(table, value, key)


def _build_tables(table: tuple[str, Any], value: Any, key: str) -> Any:
    kind, cls = table
    if kind == "array":
        if not isinstance(value, list):
            raise ConfigError(f"{key}: expected an array of tables [[{key}]], got {show(value)}")
        return tuple(build(cls, item, f"{key}[{i}]") for i, item in enumerate(value))
    if not isinstance(value, dict):
        raise ConfigError(f"{key}: expected a table [{key}.<name>], got {show(value)}")
    return MappingProxyType({str(k): build(cls, v, f"{key}.{k}") for k, v in value.items()})


def check_file(key: str, value: str) -> None:
    """A config key naming a file that must exist (model, labels, CA file...)."""
    from pathlib import Path

    p = Path(value)
    if not p.exists():
        raise ConfigError(f"{key}: no such file {show(value)}")
    if not p.is_file():
        raise ConfigError(f"{key}: not a file {show(value)}")
