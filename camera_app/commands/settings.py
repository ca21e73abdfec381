"""From the validated config (plus command-line flags) to the run's objects.

``camera-app run --config FILE`` reads the file, lets every flag the user
actually gave win (:func:`merge_cli`), checks the files it names, and turns
the result into options for the model, the source, the pipeline and the
sinks (:func:`build_run`). run.py calls, in order::

    config = run_config(args)                 # file + flags, validated
    settings = build_run(config)
    model = Model(settings.model)             # resolves detect.classes names
    stats = PipelineStats()
    source = make_source(settings, lores_size_wh, stats)
    sinks = build_sinks(settings)
    pipeline = Pipeline(source, model, sinks, settings.pipeline, stats)
    if isinstance(source, ReconnectingSource):
        source.bind(on_event=pipeline.emit)
"""

from __future__ import annotations

import argparse
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, get_type_hints

from camera_app.config import (
    AppConfig,
    JsonlConfig,
    LoggingConfig,
    MqttConfig,
    OverlayConfig,
    PreviewConfig,
    ReconnectConfig,
    RecordConfig,
    ServiceConfig,
    check_files,
    load_config,
)
from camera_app.errors import ConfigError, UsageError
from camera_app.inference.model import ModelOptions, delegates_from
from camera_app.inference.preprocess import PreprocessOptions
from camera_app.inference.types import DecodeOptions
from camera_app.pipeline import PipelineOptions
from camera_app.sinks.base import Sink
from camera_app.sinks.overlay import Annotator
from camera_app.sources import SourceOptions, open_source, source_kind
from camera_app.sources.base import Source
from camera_app.sources.reconnect import ReconnectingSource
from camera_app.stats import PipelineStats
from camera_app.validation import Mismatch, convert, describe

WEB_TOKEN_ENV = "CAMERA_APP_WEB_TOKEN"
MQTT_PASSWORD_ENV = "CAMERA_APP_MQTT_PASSWORD"
LIVE_KINDS = frozenset({"picamera2", "v4l2", "stream"})

# argparse dest -> (config key, flag as the user types it). Flags default to
# None (or False/[] for store_true/append) when not given; those never win.
CLI_KEYS: dict[str, tuple[str, str]] = {
    "source": ("source.spec", "--source"),
    "model": ("model.path", "--model"),
    "labels": ("model.labels", "--labels"),
    "label_offset": ("model.label_offset", "--label-offset"),
    "family": ("model.family", "--family"),
    "threads": ("model.threads", "--threads"),
    "delegate": ("model.delegates", "--delegate"),
    "threshold": ("detect.threshold", "--threshold"),
    "iou_threshold": ("detect.iou_threshold", "--iou-threshold"),
    "loop": ("source.loop", "--loop"),
    "max_frames": ("pipeline.max_frames", "--max-frames"),
    "duration": ("pipeline.duration_s", "--duration"),
    "jsonl": ("sinks.jsonl.path", "--jsonl"),
    "record": ("sinks.record.path", "--record"),
    "overlay_width": ("overlay.max_width", "--overlay-width"),
    "preview": ("preview.mode", "--preview"),
    "web_host": ("preview.web_host", "--web-host"),
    "web_port": ("preview.web_port", "--web-port"),
    "log_level": ("logging.level", "--log-level"),
}


def _leaf(key: str) -> tuple[Any, dict[str, Any]]:
    """Type hint and metadata of a dotted config key."""
    cls: Any = AppConfig
    *parents, last = key.split(".")
    for name in parents:
        cls = get_type_hints(cls)[name]
    f = cls.__dataclass_fields__[last]
    return get_type_hints(cls)[last], dict(f.metadata)


def with_values(config: AppConfig, overrides: Mapping[str, Any]) -> AppConfig:
    """``config`` with dotted keys replaced (``{"model.threads": 2}``), unvalidated."""
    for key, value in overrides.items():
        *parents, last = key.split(".")
        chain: list[Any] = [config]
        for name in parents:
            chain.append(getattr(chain[-1], name))
        new: Any = replace(chain[-1], **{last: value})
        for obj, name in zip(reversed(chain[:-1]), reversed(parents), strict=True):
            new = replace(obj, **{name: new})
        config = new
    return config


def cli_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The config keys the user set on the command line, validated like the file."""
    out: dict[str, Any] = {}
    for dest, (key, flag) in CLI_KEYS.items():
        value = getattr(args, dest, None)
        if value is None or value is False or value == []:
            continue
        tp, meta = _leaf(key)
        raw = list(value) if isinstance(value, list | tuple) else value
        try:
            out[key] = convert(raw, tp, meta)
        except Mismatch:
            raise UsageError(f"{flag}: expected {describe(tp, meta)}, got {value!r}") from None
    every_frame = getattr(args, "every_frame", None)
    if every_frame is not None:
        out["pipeline.every_frame"] = every_frame
        out["source.mode"] = "every-frame" if every_frame else "realtime"
    if getattr(args, "log_level", None) is None:
        if getattr(args, "debug", False):
            out["logging.level"] = "debug"
        elif getattr(args, "quiet", False):
            out["logging.level"] = "warning"
    if out.get("sinks.jsonl.path") is not None:
        out["sinks.jsonl.enabled"] = True
    mqtt = getattr(args, "mqtt", None)
    if mqtt is not None:
        out["sinks.mqtt.host"], out["sinks.mqtt.port"] = parse_host_port(mqtt, "--mqtt")
    return out


_HOST_PORT = re.compile(
    r"\[(?P<v6>[^\[\]]+)\](?::(?P<v6_port>\d+))?"  # [fd00::2] or [fd00::2]:8883
    r"|(?P<host>[^:\[\]]+)(?::(?P<port>\d+))?"  # broker.lan or broker.lan:1885
    r"|(?P<bare6>[0-9A-Fa-f.]*:[0-9A-Fa-f.]*:[0-9A-Fa-f:.]*)"  # fd00::2 (no port)
)


def parse_host_port(text: str, flag: str) -> tuple[str, int | None]:
    """``HOST``, ``HOST:PORT``, ``[IPv6]``, ``[IPv6]:PORT`` or a bare IPv6 address."""
    from camera_app.sinks.mqtt import check_settings

    expected = f"{flag}: expected HOST or HOST:PORT with a port from 1 to 65535, got {text!r}"
    m = _HOST_PORT.fullmatch(text)
    if m is None:
        raise UsageError(expected)
    host = m["v6"] or m["host"] or m["bare6"]
    port_text = m["v6_port"] or m["port"]
    port = int(port_text) if port_text else None
    if port is not None and not 1 <= port <= 65535:
        raise UsageError(expected)
    try:
        check_settings(host, "x", None)
    except ConfigError:
        raise UsageError(expected) from None
    return host, port


def merge_cli(config: AppConfig, args: argparse.Namespace) -> AppConfig:
    """Flags the user gave override the file; the others leave it alone."""
    return with_values(config, cli_overrides(args))


def run_config(args: argparse.Namespace) -> AppConfig:
    """``--config FILE`` (or the defaults) merged with the flags, then checked
    against the filesystem; errors name the file and the key."""
    path = getattr(args, "config", None)
    config = load_config(path, files=False) if path else AppConfig.default()
    config = merge_cli(config, args)
    try:
        check_files(config)
    except ConfigError as e:
        if path:
            raise ConfigError(f"config {path}: {e}") from e
        raise
    return config


@dataclass(frozen=True, slots=True)
class RunSettings:
    """Everything ``run`` builds, in the types the components take."""

    model: ModelOptions
    source_spec: str
    source: SourceOptions
    live: bool
    pipeline: PipelineOptions
    reconnect: ReconnectConfig
    jsonl: JsonlConfig
    record: RecordConfig
    preview: PreviewConfig
    overlay: OverlayConfig
    web_token: str | None
    mqtt: MqttConfig
    mqtt_password: str | None
    logging: LoggingConfig
    service: ServiceConfig


def model_options(config: AppConfig) -> ModelOptions:
    m, d, p = config.model, config.detect, config.model.preprocess
    assert m.path is not None, "check_files() first"
    return ModelOptions(
        path=m.path,
        labels=m.labels,
        label_offset=m.label_offset,
        family=m.family,
        num_threads=m.threads,
        delegates=delegates_from(m.delegates),
        decode=DecodeOptions(
            max_detections=d.max_detections,
            class_agnostic_nms=d.class_agnostic_nms,
            top_k=d.top_k,
            box_format=d.box_format,
        ),
        classes=d.classes,
        threshold=d.threshold,
        iou_threshold=d.iou_threshold,
        preprocess=PreprocessOptions(
            color=p.color,
            resize=p.resize,
            pad_value=p.pad_value,
            mean=p.mean,
            std=p.std,
            interpolation=p.interpolation,
        ),
    )


def build_run(config: AppConfig, environ: Mapping[str, str] | None = None) -> RunSettings:
    env = os.environ if environ is None else environ
    s, pl, mq = config.source, config.pipeline, config.sinks.mqtt
    # The environment wins over the file, as for the web token.
    mqtt_password = env.get(MQTT_PASSWORD_ENV) or mq.password or None
    if mq.host and mqtt_password and mq.username is None:
        raise ConfigError(
            f"sinks.mqtt.username: required with a password ({MQTT_PASSWORD_ENV} is set)"
        )
    every_frame = pl.every_frame
    if every_frame is None and s.mode != "auto":
        every_frame = s.mode == "every-frame"
    return RunSettings(
        model=model_options(config),
        source_spec=s.spec,
        source=SourceOptions(
            mode=None if s.mode == "auto" else s.mode,
            loop=s.loop,
            size_wh=s.size_wh,
            fps=s.fps,
            lores_size_wh=s.lores_size_wh,
            timeout_s=s.read_timeout_s,
        ),
        live=source_kind(s.spec) in LIVE_KINDS,
        pipeline=PipelineOptions(
            every_frame=every_frame,
            queue_size=pl.queue_size,
            sink_queue_size=pl.sink_queue_size,
            max_frames=pl.max_frames,
            duration_s=pl.duration_s,
            read_timeout_s=s.read_timeout_s,
            worker_nice=pl.worker_nice,
        ),
        reconnect=config.reconnect,
        jsonl=config.sinks.jsonl,
        record=config.sinks.record,
        preview=config.preview,
        overlay=config.overlay,
        # The environment wins over the file, as in WebPreviewSink's resolve_token.
        web_token=env.get(WEB_TOKEN_ENV) or config.preview.token or None,
        mqtt=mq,
        mqtt_password=mqtt_password,
        logging=config.logging,
        service=config.service,
    )


def make_source(
    settings: RunSettings,
    lores_size_wh: tuple[int, int] | None = None,
    stats: PipelineStats | None = None,
) -> Source:
    """The source; live ones wrapped in a :class:`ReconnectingSource` when
    ``reconnect.enabled`` (call ``source.bind(on_event=pipeline.emit)``)."""
    options = settings.source
    if options.lores_size_wh is None and lores_size_wh is not None:
        options = replace(options, lores_size_wh=lores_size_wh)
    spec = settings.source_spec
    r = settings.reconnect
    if not (settings.live and r.enabled):
        return open_source(spec, options)
    return ReconnectingSource(
        lambda: open_source(spec, options),
        name=spec,
        stall_timeout_s=r.stall_timeout_s,
        initial_delay_s=r.initial_delay_s,
        max_delay_s=r.max_delay_s,
        stats=stats,
    )


def build_sinks(settings: RunSettings, annotator: Annotator | None = None) -> list[Sink]:
    """The JSONL, recording and MQTT sinks the config asks for (previews: run.py);
    sinks that draw share ``annotator`` so each frame is drawn once."""
    from camera_app.sinks.jsonl import JsonlSink
    from camera_app.sinks.record import RecordSink

    sinks: list[Sink] = []
    if settings.jsonl.enabled and settings.jsonl.path:
        sinks.append(JsonlSink(settings.jsonl.path, events=settings.jsonl.events))
    if settings.record.path:
        sinks.append(
            RecordSink(
                settings.record.path,
                annotator or Annotator(),
                fps=settings.record.fps,
                jpeg_quality=settings.record.jpeg_quality,
            )
        )
    m = settings.mqtt
    if m.host:
        from camera_app.sinks.mqtt import MqttSink

        sinks.append(
            MqttSink(
                m.host,
                port=m.port,
                topic_prefix=m.topic_prefix,
                client_id=m.client_id,
                username=m.username,
                password=settings.mqtt_password,
                tls=m.tls,
                ca_file=m.ca_file,
                qos=m.qos,
                max_rate_hz=m.max_rate_hz,
                keepalive_s=m.keepalive_s,
            )
        )
    return sinks


def summary(config: AppConfig) -> str:
    """One line for ``check-config``: what a run with this config would do."""
    outs = [
        name
        for name, on in (
            (
                f"jsonl {config.sinks.jsonl.path}",
                config.sinks.jsonl.enabled and config.sinks.jsonl.path,
            ),
            (f"record {config.sinks.record.path}", config.sinks.record.path),
            (f"mqtt {_mqtt_where(config.sinks.mqtt)}", config.sinks.mqtt.host),
            (f"preview {config.preview.mode}", config.preview.mode != "none"),
        )
        if on
    ]
    return (
        f"source {config.source.spec} ({source_kind(config.source.spec)}), "
        f"model {config.model.path}, outputs: {', '.join(outs) or 'none'}"
    )


def _mqtt_where(m: MqttConfig) -> str:
    from camera_app.sinks.mqtt import default_port

    host = f"[{m.host}]" if m.host and ":" in m.host else m.host
    return f"{host}:{m.port or default_port(m.tls)} {m.topic_prefix}/"
