"""The configuration file: TOML, one section per concern, validated up front.

Every field has a default and bounds (in its ``metadata``); a generic
validator walks the dataclasses with their type hints, so a typo, a wrong
type or an out-of-range value is a one-line :class:`ConfigError` naming the
key path, before anything is opened. ``check_files`` adds the checks that
need the filesystem (model, labels, source file). ``merge_cli`` (in
:mod:`camera_app.commands.settings`) lets command-line flags win.

Relative paths are relative to the working directory, as on the command line
(``/var/lib/camera-app`` for the service).
"""

from __future__ import annotations

import copy
import difflib
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

from camera_app.components import COMPONENTS
from camera_app.errors import CameraAppError, ConfigError
from camera_app.http.config import HttpConfig
from camera_app.inference.decoders import FAMILIES
from camera_app.motion.config import MotionConfig, check_motion
from camera_app.validation import build, check_file, convert_tables, opt, show


@dataclass(frozen=True, slots=True)
class SourceConfig:
    """[source] where frames come from."""

    spec: str = opt(
        "picamera2", "picamera2[:N], /dev/videoN, rtsp:// or http:// URL, a video file, images"
    )
    mode: Literal["auto", "every-frame", "realtime"] = opt(
        "auto", "file replay: every frame, or at the file's own rate"
    )
    loop: bool = opt(False, "repeat a video file or image folder")
    size_wh: tuple[int, int] | None = opt(
        None, "camera capture size [width, height]", ge=16, le=8192
    )
    fps: float | None = opt(None, "camera frame rate", gt=0, le=1000)
    lores_size_wh: tuple[int, int] | None = opt(
        None, "picamera2 lores (inference) stream size", ge=16, le=8192
    )
    read_timeout_s: float = opt(
        5.0, "a source without a frame for this long has failed", gt=0, le=3600
    )


@dataclass(frozen=True, slots=True)
class PreprocessConfig:
    """[model.preprocess] how frames become input tensors (absent: family default)."""

    color: Literal["RGB", "BGR", "GRAY"] = opt("RGB", "channel order the model expects")
    resize: Literal["stretch", "letterbox"] | None = opt(
        None, "stretch or letterbox to the input size"
    )
    pad_value: int | None = opt(None, "letterbox padding value", ge=0, le=255)
    mean: tuple[float, float, float] | None = opt(None, "per-channel mean subtracted")
    std: tuple[float, float, float] | None = opt(None, "per-channel divisor", gt=0)
    interpolation: Literal["linear", "area", "nearest"] = opt("linear", "resize interpolation")


@dataclass(frozen=True, slots=True)
class ModelConfig:
    """[model] the .tflite model and its labels."""

    path: str | None = opt(None, "the .tflite model file (required to run)")
    labels: str | None = opt(None, "labels file; absent: the model's metadata")
    label_offset: int | None = opt(None, "label line of class 0", ge=0, le=1000)
    family: str | None = opt(None, "model family; absent: detected", choices=tuple(FAMILIES))
    threads: int | None = opt(None, "inference threads; absent: all cores", ge=1, le=64)
    delegates: tuple[str, ...] = opt((), "edgetpu[:usb|:pci] or /path/to/delegate.so[;key=value]")
    preprocess: PreprocessConfig = field(default_factory=PreprocessConfig)


@dataclass(frozen=True, slots=True)
class DetectConfig:
    """[detect] what the decoder reports."""

    threshold: float | None = opt(None, "minimum score; absent: the family's default", ge=0, le=1)
    iou_threshold: float | None = opt(None, "NMS overlap; absent: the family's default", ge=0, le=1)
    max_detections: int = opt(100, "cap on detections per frame", ge=1, le=10000)
    top_k: int = opt(5, "classifiers: classes reported", ge=1, le=1000)
    classes: tuple[int | str, ...] | None = opt(
        None, "keep only these classes", expected="a list of class names or ids >= 0", ge=0
    )
    class_agnostic_nms: bool = opt(False, "suppress overlaps across classes")
    fps: float | None = opt(
        None, "infer at most this many frames per second; absent: every frame it can", gt=0, le=1000
    )
    box_format: Literal["auto", "normalized", "pixels"] = opt("auto", "YOLO box coordinates")


@dataclass(frozen=True, slots=True)
class PipelineConfig:
    """[pipeline] queues and limits."""

    queue_size: int = opt(2, "frames waiting for inference", ge=1, le=1000)
    sink_queue_size: int = opt(8, "results waiting per sink", ge=1, le=10000)
    max_frames: int | None = opt(None, "stop after this many processed frames", ge=1)
    duration_s: float | None = opt(None, "stop after this many seconds", gt=0)
    worker_nice: int = opt(
        0, "capture and sink threads this much nicer than inference (0: equal)", ge=0, le=19
    )


@dataclass(frozen=True, slots=True)
class OverlayConfig:
    """[overlay]: drawing shared by the recording and the previews."""

    max_width: int | None = opt(
        None,
        "draw and record at most this wide (e.g. 1280 for 1080p sources on a Pi)",
        ge=16,
        le=8192,
    )
    hud: bool = opt(True, "show FPS, inference ms, latency and drops on the picture")


@dataclass(frozen=True, slots=True)
class ReconnectConfig:
    """[reconnect] live sources that fail are reopened with back-off."""

    enabled: bool = opt(True, "reopen a failed live source instead of exiting")
    initial_delay_s: float = opt(0.5, "first wait before reopening", gt=0, le=3600)
    max_delay_s: float = opt(
        10.0, "back-off cap (keep below the unit's WatchdogSec)", gt=0, le=3600
    )
    stall_timeout_s: float = opt(5.0, "no frame for this long counts as a stall", gt=0, le=3600)


@dataclass(frozen=True, slots=True)
class LoggingConfig:
    """[logging] levels and the periodic status line."""

    level: Literal["debug", "info", "warning", "error"] = opt("info", "log level")
    status_interval_s: float = opt(60.0, "log a status line this often; 0: never", ge=0)


@dataclass(frozen=True, slots=True)
class ServiceConfig:
    """[service] systemd integration (notify and watchdog are ignored outside
    systemd) and how a service starts."""

    notify: bool = opt(True, "send READY=1 and STATUS= to systemd")
    watchdog: bool = opt(True, "ping systemd's watchdog while frames are processed")
    wait: bool = opt(
        False,
        "a missing model file or camera at start-up is waited for (status line and "
        "/healthz say why) instead of ending the run",
    )
    wait_interval_s: float = opt(5.0, "how often a waiting start-up looks again", gt=0, le=3600)


@dataclass(frozen=True, slots=True)
class AppConfig:
    """The whole configuration: the run's own sections, typed here, and the
    components' sections (sinks, analysis), each typed by its component
    (:mod:`camera_app.components`) and read with :meth:`section`."""

    source: SourceConfig = field(default_factory=SourceConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    detect: DetectConfig = field(default_factory=DetectConfig)
    pipeline: PipelineConfig = field(default_factory=PipelineConfig)
    overlay: OverlayConfig = field(default_factory=OverlayConfig)
    reconnect: ReconnectConfig = field(default_factory=ReconnectConfig)
    logging: LoggingConfig = field(default_factory=LoggingConfig)
    service: ServiceConfig = field(default_factory=ServiceConfig)
    http: HttpConfig = field(default_factory=HttpConfig)
    motion: MotionConfig = field(default_factory=MotionConfig)
    components: Mapping[str, Any] = field(default_factory=lambda: default_components())
    """Section name (``sinks.jsonl``, ``zones``) -> that component's config."""

    @classmethod
    def default(cls) -> AppConfig:
        return cls()

    def section(self, name: str) -> Any:
        """A component's config (``config.section("sinks.jsonl").path``)."""
        try:
            return self.components[name]
        except KeyError:
            raise KeyError(f"no component section {name!r}") from None

    def with_section(self, name: str, value: Any) -> AppConfig:
        return replace(self, components=MappingProxyType({**self.components, name: value}))


def default_components() -> Mapping[str, Any]:
    return MappingProxyType({c.section: c.default_config() for c in COMPONENTS})


def build_config(data: dict[str, Any]) -> AppConfig:
    """An :class:`AppConfig` from a parsed TOML document; errors name the key."""
    data = copy.deepcopy(data)
    sections: dict[str, Any] = {}
    for c in COMPONENTS:
        if c.section in sections:  # one section, two components ([events]: stage and log)
            continue
        *parents, last = c.section.split(".")
        table: Any = data
        for name in parents:
            table = table.get(name) if isinstance(table, dict) else None
        if not isinstance(table, dict) or last not in table:
            sections[c.section] = c.default_config()
            continue
        value = table.pop(last)
        tp = c.config_type
        if getattr(tp, "__origin__", None) is tuple:
            sections[c.section] = convert_tables(tp, value, c.section)
        elif not isinstance(value, dict):
            raise ConfigError(f"{c.section}: expected a table [{c.section}], got {show(value)}")
        else:
            sections[c.section] = build(tp, value, c.section)
        c.validate(sections[c.section])
    for group in sorted({c.section.split(".")[0] for c in COMPONENTS if "." in c.section}):
        rest = data.get(group)
        if rest == {}:
            del data[group]
        elif isinstance(rest, dict):
            known = [
                c.section.split(".", 1)[1] for c in COMPONENTS if c.section.startswith(group + ".")
            ]
            key = next(iter(rest))
            close = difflib.get_close_matches(key, known, n=1)
            hint = f'did you mean "{close[0]}"?' if close else "allowed: " + ", ".join(known)
            raise ConfigError(f"unknown key {show(key)} in [{group}] ({hint})")
    top_level = [f.name for f in fields(AppConfig) if f.name != "components"]
    for key in data:
        if key not in top_level:
            allowed = top_level + sorted({c.section.split(".")[0] for c in COMPONENTS})
            close = difflib.get_close_matches(key, allowed, n=1)
            hint = f'did you mean "{close[0]}"?' if close else "allowed: " + ", ".join(allowed)
            raise ConfigError(f"unknown key {show(key)} in [top level] ({hint})")
    config: AppConfig = build(AppConfig, data)
    return replace(config, components=MappingProxyType(sections))


def _cross_checks(config: AppConfig) -> None:
    from camera_app.inference.runtime import DelegateSpec

    r = config.reconnect
    check_motion(config.motion)
    if r.initial_delay_s > r.max_delay_s:
        raise ConfigError(
            f"reconnect.initial_delay_s: expected at most reconnect.max_delay_s ({r.max_delay_s:g}), got {r.initial_delay_s:g}"
        )
    for i, spec in enumerate(config.model.delegates):
        try:
            DelegateSpec.parse(spec)
        except CameraAppError as e:
            raise ConfigError(f"model.delegates[{i}]: {e}") from e


def check_files(config: AppConfig) -> None:
    """Checks that need the filesystem: model and labels files, the source,
    and each component's own (an MQTT CA file...)."""
    from camera_app.sources import source_kind

    m = config.model
    if m.path is None:
        raise ConfigError(
            'model.path: required (a .tflite file), e.g. path = "/var/lib/camera-app/models/model.tflite"'
        )
    for key, value in (("model.path", m.path), ("model.labels", m.labels)):
        if value is not None:
            check_file(key, value)
    spec = config.source.spec
    try:
        kind = source_kind(spec)
    except CameraAppError as e:
        raise ConfigError(f"source.spec: {e}") from e
    if kind == "video" and not Path(spec).is_file():
        raise ConfigError(f"source.spec: no such video file or camera {show(spec)}")
    if kind == "images" and "*" not in spec and "?" not in spec and not Path(spec).exists():
        raise ConfigError(f"source.spec: no such image file or folder {show(spec)}")
    for c in COMPONENTS:
        c.check_files(config.section(c.section))


def load_config(path: str | Path, *, files: bool = True) -> AppConfig:
    """Read and validate a config file; ``files=False`` skips ``check_files``
    (when command-line flags may still replace the paths)."""
    prefix = f"config {path}"
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{prefix}: no such file") from None
    except IsADirectoryError:
        raise ConfigError(f"{prefix}: is a directory, expected a .toml file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{prefix}: cannot be read ({getattr(e, 'strerror', None) or e})") from e
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{prefix}: TOML syntax error: {e}") from None
    try:
        config = build_config(data)
        _cross_checks(config)
        if files:
            check_files(config)
    except ConfigError as e:
        raise ConfigError(f"{prefix}: {e}") from e
    return config
