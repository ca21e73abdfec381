"""One line of what a Python environment holds: the Pi check's version report."""

import importlib.metadata
import platform


def version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "absent"


print(
    f"python {platform.python_version()}, numpy {version('numpy')},"
    f" opencv-python-headless {version('opencv-python-headless')},"
    f" ai-edge-litert {version('ai-edge-litert')}, camera_app {version('camera_app')}"
)
