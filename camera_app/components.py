"""Components by name: sinks and analysis processors, each owning its config.

A component is one module that defines, beside its class (Frigate's pattern):

* ``CONFIG``: its config section's type, a frozen dataclass written with
  :func:`camera_app.validation.opt` (or ``tuple[DC, ...]`` for an array of
  tables such as ``[[zones]]``);
* ``build(config, ctx) -> Sink | Processor | None``: the object a run uses,
  or None when the section leaves it off;
* optionally ``FLAGS``: the ``camera-app run`` flags that set keys of its
  section, ``describe(config) -> str | None`` for ``check-config``'s
  summary, and ``check_files(config)`` for checks that need the filesystem.

Adding a sink is its module plus one line in :data:`SINKS`; the config
loader, the ``run`` flags and ``check-config`` find it here.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from camera_app.clips.packets import PacketBus
    from camera_app.clips.planner import ClipPlanner
    from camera_app.config import AppConfig
    from camera_app.inference.model import Model
    from camera_app.sinks.overlay import Annotator
    from camera_app.stats import PipelineStats


@dataclass(frozen=True, slots=True)
class Flag:
    """A ``camera-app run`` flag that sets a key of a component's section."""

    flag: str
    key: str | None
    """Key in the section; None when ``apply`` sets several."""
    help: str
    metavar: str | None = None
    store_true: bool = False
    choices: tuple[str, ...] | None = None
    apply: Callable[[str], Mapping[str, Any]] | None = None
    """Turns the flag's text into section keys (``--mqtt host:port``)."""
    implies: Mapping[str, Any] = field(default_factory=dict)
    """More keys set whenever the flag is given (``enabled = true``)."""

    @property
    def dest(self) -> str:
        return self.flag.lstrip("-").replace("-", "_")


@dataclass(frozen=True, slots=True)
class Component:
    section: str
    """Where its config lives in the TOML file (``sinks.jsonl``, ``zones``)."""
    module: str
    kind: Literal["sink", "processor"]

    def load(self) -> ModuleType:
        return importlib.import_module(self.module)

    @property
    def config_type(self) -> Any:
        return self.load().CONFIG

    @property
    def flags(self) -> tuple[Flag, ...]:
        return tuple(getattr(self.load(), "FLAGS", ()))

    def default_config(self) -> Any:
        tp = self.config_type
        return () if getattr(tp, "__origin__", None) is tuple else tp()

    def build(self, config: Any, ctx: BuildContext) -> Any:
        return self.load().build(config, ctx)

    def describe(self, config: Any) -> str | None:
        fn = getattr(self.load(), "describe", None)
        return fn(config) if fn is not None else None

    def check_files(self, config: Any) -> None:
        fn = getattr(self.load(), "check_files", None)
        if fn is not None:
            fn(config)

    def validate(self, config: Any) -> None:
        """Checks across a section's entries (duplicate zone names...)."""
        fn = getattr(self.load(), "validate", None)
        if fn is not None:
            fn(config)

    def uses_tracks(self, config: Any) -> bool:
        """Whether this component, as configured, needs tracked objects
        (``uses_tracks(config)`` in its module; default no)."""
        fn = getattr(self.load(), "uses_tracks", None)
        return bool(fn(config)) if fn is not None else False

    def decode_floor(self, config: Any, app: AppConfig) -> float | None:
        """The lowest score this component needs from the decoders, if any."""
        fn = getattr(self.load(), "decode_floor", None)
        return fn(config, app) if fn is not None else None


SINKS: tuple[Component, ...] = (
    Component("sinks.jsonl", "camera_app.sinks.jsonl", "sink"),
    Component("sinks.record", "camera_app.sinks.record", "sink"),
    Component("sinks.mqtt", "camera_app.sinks.mqtt", "sink"),
    Component("preview", "camera_app.sinks.preview", "sink"),
    Component("events", "camera_app.sinks.events_log", "sink"),
    Component("snapshots", "camera_app.sinks.snapshots", "sink"),
    Component("sinks.events_api", "camera_app.sinks.events_http", "sink"),
    Component("clips", "camera_app.sinks.clips", "sink"),
)
"""Results consumers; each runs on its own thread."""

PROCESSORS: tuple[Component, ...] = (
    Component("masks", "camera_app.analysis.masks", "processor"),
    Component("objects", "camera_app.analysis.filters", "processor"),
    Component("tracker", "camera_app.analysis.tracking", "processor"),
    Component("zones", "camera_app.analysis.zones", "processor"),
    Component("lines", "camera_app.analysis.lines", "processor"),
    Component("events", "camera_app.analysis.events", "processor"),
)
"""Analysis stages, run in this order on every inferred frame."""

COMPONENTS: tuple[Component, ...] = SINKS + PROCESSORS


def _bus() -> PacketBus:
    from camera_app.clips.packets import PacketBus

    return PacketBus()


def tracking_wanted(config: AppConfig) -> bool:
    """Tracking runs when ``[tracker] enabled`` says so, or (absent) when a
    configured component uses tracked objects (events, zones, lines...)."""
    enabled = config.section("tracker").enabled
    if enabled is not None:
        return bool(enabled)
    return any(c.uses_tracks(config.section(c.section)) for c in COMPONENTS)


def decode_floor(config: AppConfig) -> float | None:
    """The lowest score any running component needs from the decoders."""
    floors = [
        f
        for c in COMPONENTS
        if (f := c.decode_floor(config.section(c.section), config)) is not None
    ]
    return min(floors) if floors else None


def component(section: str) -> Component:
    for c in COMPONENTS:
        if c.section == section:
            return c
    raise KeyError(section)


@dataclass(slots=True)
class BuildContext:
    """What components are built with: the whole config and the run's shared objects."""

    config: AppConfig
    stats: PipelineStats
    environ: Mapping[str, str]
    model: Model | None = None
    annotator: Annotator | None = None
    """Shared by every sink that draws, so each frame is drawn once."""
    http: Any = None
    """The run's HTTP server, when there is one (``camera_app.http``)."""
    insecure_no_auth: bool = False
    packets: PacketBus = field(default_factory=lambda: _bus())
    """Encoded video a source publishes (hardware encoder, camera stream), for clips."""
    clips: ClipPlanner | None = None
    """Names event clips; set by the clips sink's ``build`` (sinks are built
    before processors), read by the events stage."""

    def section(self, name: str) -> Any:
        return self.config.section(name)

    def section_or(self, name: str, default: Any = None) -> Any:
        """Another component's section, or ``default`` when that component
        is not installed."""
        try:
            return self.config.section(name)
        except KeyError:
            return default

    def shared_annotator(self) -> Annotator:
        if self.annotator is None:
            from camera_app.annotators import Annotator

            o = self.config.overlay
            self.annotator = Annotator(hud=o.hud, max_width=o.max_width)
        return self.annotator
