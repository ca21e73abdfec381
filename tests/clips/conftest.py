"""Makes ``clipkit`` (this folder's helpers) importable by the tests here."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

KIT = Path(__file__).resolve().parent / "clipkit.py"


def load_clipkit() -> None:
    if "clipkit" not in sys.modules:
        spec = importlib.util.spec_from_file_location("clipkit", KIT)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules["clipkit"] = module
        spec.loader.exec_module(module)


load_clipkit()
