"""The config file: every kind of bad config is one line naming its key."""

from __future__ import annotations

import argparse
import dataclasses
import re
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, get_type_hints

import pytest

from camera_app.app import model_options, pacing, pipeline_options
from camera_app.cli import build_parser, main
from camera_app.components import COMPONENTS
from camera_app.config import AppConfig, check_files, load_config
from camera_app.errors import ConfigError, UsageError
from camera_app.inference.labels import Labels, resolve_classes
from camera_app.overrides import cli_overrides, config_from_args, with_values
from camera_app.pipeline import Pacing
from camera_app.sinks.mqtt import mqtt_password
from camera_app.sinks.preview import web_token

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "systemd" / "camera-app.toml"


@pytest.fixture
def model_file(tmp_path: Path) -> Path:
    """A stand-in model: the config only checks that the file exists."""
    p = tmp_path / "model.tflite"
    p.write_bytes(b"TFL3")
    return p


def write(tmp_path: Path, text: str, name: str = "camera-app.toml") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


BAD = [
    (
        "unknown top-level key",
        "modle = 1",
        'unknown key "modle" in [top level] (did you mean "model"?)',
    ),
    (
        "unknown nested key",
        "[detect]\nthresh = 0.3",
        'unknown key "thresh" in [detect] (did you mean "threshold"?)',
    ),
    (
        "unknown deep key",
        "[sinks.jsonl]\npth = 'x'",
        'unknown key "pth" in [sinks.jsonl] (did you mean "path"?)',
    ),
    (
        "unknown section",
        "[mqttt]\nhost = 'x'",
        'unknown key "mqttt" in [top level] (allowed: source, model,',
    ),
    (
        "wrong type int",
        '[model]\nthreads = "four"',
        'model.threads: expected an integer from 1 to 64, got "four"',
    ),
    (
        "float for int",
        "[pipeline]\nqueue_size = 2.5",
        "pipeline.queue_size: expected an integer from 1 to 1000, got 2.5",
    ),
    (
        "bool for int",
        "[pipeline]\nqueue_size = true",
        "pipeline.queue_size: expected an integer from 1 to 1000, got true",
    ),
    (
        "out of range",
        "[detect]\nthreshold = 1.5",
        "detect.threshold: expected a number from 0 to 1, got 1.5",
    ),
    (
        "below minimum",
        "[pipeline]\nmax_frames = 0",
        "pipeline.max_frames: expected an integer >= 1, got 0",
    ),
    (
        "port range",
        "[preview]\nweb_port = 70000",
        "preview.web_port: expected an integer from 1 to 65535, got 70000",
    ),
    (
        "bad literal",
        '[preview]\nmode = "tv"',
        'preview.mode: expected one of "none", "window", "web", got "tv"',
    ),
    ("bad family", '[model]\nfamily = "yolo"', 'model.family: expected one of "ssd", "blazeface"'),
    ("bad bool", '[source]\nloop = "yes"', 'source.loop: expected true or false, got "yes"'),
    (
        "list length",
        "[source]\nsize_wh = [640]",
        "source.size_wh: expected a list of 2 integers from 16 to 8192, got [640]",
    ),
    (
        "list item",
        "[model.preprocess]\nstd = [1, 0, 1]",
        "model.preprocess.std: expected a list of 3 numbers > 0, got [1, 0, 1]",
    ),
    (
        "classes item",
        "[detect]\nclasses = [1.5]",
        "detect.classes: expected a list of class names or ids >= 0, got [1.5]",
    ),
    ("section not a table", "source = 3", "source: expected a table [source], got 3"),
    (
        "cross check",
        "[reconnect]\ninitial_delay_s = 20",
        "reconnect.initial_delay_s: expected at most reconnect.max_delay_s (10), got 20",
    ),
    (
        "bad delegate",
        '[model]\ndelegates = ["x.so;oops"]',
        "model.delegates[0]: delegate option 'oops'",
    ),
    (
        "unknown mqtt key",
        "[sinks.mqtt]\nhots = 'broker'",
        'unknown key "hots" in [sinks.mqtt] (did you mean "host"?)',
    ),
    (
        "mqtt port range",
        "[sinks.mqtt]\nport = 0",
        "sinks.mqtt.port: expected an integer from 1 to 65535, got 0",
    ),
    ("mqtt qos", "[sinks.mqtt]\nqos = 2", "sinks.mqtt.qos: expected an integer from 0 to 1, got 2"),
    (
        "mqtt rate",
        "[sinks.mqtt]\nmax_rate_hz = -1",
        "sinks.mqtt.max_rate_hz: expected a number from 0 to 1000, got -1",
    ),
    (
        "mqtt keepalive",
        "[sinks.mqtt]\nkeepalive_s = 1",
        "sinks.mqtt.keepalive_s: expected an integer from 5 to 3600, got 1",
    ),
    (
        "mqtt tls type",
        '[sinks.mqtt]\ntls = "yes"',
        'sinks.mqtt.tls: expected true or false, got "yes"',
    ),
    (
        "mqtt topic wildcard",
        '[sinks.mqtt]\ntopic_prefix = "cams/#"',
        "sinks.mqtt.topic_prefix: expected topic levels without wildcards (+, #) or a leading "
        'or trailing /, got "cams/#"',
    ),
    (
        "mqtt host",
        '[sinks.mqtt]\nhost = "my broker"',
        'sinks.mqtt.host: expected a host name or address, got "my broker"',
    ),
    (
        "mqtt ca_file without tls",
        '[sinks.mqtt]\nhost = "b"\nca_file = "ca.pem"',
        "sinks.mqtt.ca_file: needs sinks.mqtt.tls = true",
    ),
    (
        "mqtt password without user",
        '[sinks.mqtt]\nhost = "b"\npassword = "pw"',
        "sinks.mqtt.password: needs sinks.mqtt.username",
    ),
    (
        "toml syntax",
        "[model]\nthreads = = 2",
        "TOML syntax error: Invalid value (at line 2, column 11)",
    ),
]


@pytest.mark.parametrize(("text", "expected"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_config_is_one_line_naming_the_key(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path, files=False)
    message = str(info.value)
    assert message.startswith(f"config {path}: ")
    assert expected in message
    assert "\n" not in message
    assert info.value.exit_code == 2


FILES = [
    (
        "missing model",
        'path = "{tmp}/absent.tflite"',
        "",
        'model.path: no such file "{tmp}/absent.tflite"',
    ),
    ("model is a folder", 'path = "{tmp}"', "", 'model.path: not a file "{tmp}"'),
    (
        "missing labels",
        'path = "{model}"\nlabels = "{tmp}/labels.txt"',
        "",
        "model.labels: no such file",
    ),
    ("no model at all", "", "", "model.path: required"),
    (
        "missing MQTT CA file",
        'path = "{model}"\n[sinks.mqtt]\nhost = "b"\ntls = true\nca_file = "{tmp}/ca.pem"',
        "",
        'sinks.mqtt.ca_file: no such file "{tmp}/ca.pem"',
    ),
    (
        "bad source string",
        'path = "{model}"',
        'spec = "picamera2:x"',
        "source.spec: source 'picamera2:x': expected picamera2",
    ),
    (
        "bad URL scheme",
        'path = "{model}"',
        'spec = "ftp://cam"',
        "source.spec: source 'ftp://cam': unsupported URL scheme",
    ),
    (
        "missing video",
        'path = "{model}"',
        'spec = "{tmp}/clip.mp4"',
        'source.spec: no such video file or camera "{tmp}/clip.mp4"',
    ),
]


@pytest.mark.parametrize(
    ("model", "source", "expected"), [f[1:] for f in FILES], ids=[f[0] for f in FILES]
)
def test_file_checks(
    tmp_path: Path, model_file: Path, model: str, source: str, expected: str
) -> None:
    fill = {"tmp": tmp_path, "model": model_file}
    text = f"[source]\n{source.format(**fill)}\n[model]\n{model.format(**fill)}\n"
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value).startswith(f"config {path}: ")
    assert expected.format(**fill) in str(info.value)


def test_missing_and_unreadable_config_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"config .*absent\.toml: no such file$"):
        load_config(tmp_path / "absent.toml")
    with pytest.raises(ConfigError, match="is a directory"):
        load_config(tmp_path)


def test_valid_config_values(tmp_path: Path, model_file: Path) -> None:
    video = tmp_path / "clip.mp4"
    video.write_bytes(b"")
    path = write(
        tmp_path,
        f"""
[source]
spec = "{video}"
mode = "realtime"
size_wh = [640, 480]
fps = 15
[model]
path = "{model_file}"
delegates = ["edgetpu:usb"]
[model.preprocess]
mean = [0, 0, 0]
[detect]
threshold = 0.6
classes = ["person", 3]
[pipeline]
max_frames = 10
""",
    )
    c = load_config(path)
    assert c.source.size_wh == (640, 480)
    assert c.source.fps == 15.0 and isinstance(c.source.fps, float)
    assert c.model.delegates == ("edgetpu:usb",)
    assert c.model.preprocess.mean == (0.0, 0.0, 0.0)
    assert c.detect.classes == ("person", 3)
    assert c.pipeline.max_frames == 10
    assert c.reconnect == AppConfig.default().reconnect
    assert pacing(c) is Pacing.REALTIME
    m = model_options(c)
    assert m.threshold == 0.6 and m.decode.classes is None  # names: at model load
    assert pipeline_options(c).max_frames == 10


def _run_args(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(["run", *argv])


def _merge(config: AppConfig, args: argparse.Namespace) -> AppConfig:
    return with_values(config, cli_overrides(args))


def test_cli_flags_override_the_file_and_absent_flags_do_not(
    tmp_path: Path, model_file: Path
) -> None:
    other = tmp_path / "other.tflite"
    other.write_bytes(b"TFL3")
    path = write(
        tmp_path,
        f'[model]\npath = "{model_file}"\nthreads = 2\n[detect]\nthreshold = 0.3\n'
        "[pipeline]\nmax_frames = 5\n[source]\nloop = true\n",
    )
    base = load_config(path)
    merged = _merge(base, _run_args("--model", str(other), "--threshold", "0.7", "--realtime"))
    assert merged.model.path == str(other)
    assert merged.detect.threshold == 0.7
    assert merged.source.mode == "realtime"
    # Flags not given keep the file's values (store_true flags included).
    assert merged.model.threads == 2
    assert merged.pipeline.max_frames == 5
    assert merged.source.loop is True
    assert _merge(base, _run_args()) == base


def test_cli_override_values_are_validated() -> None:
    with pytest.raises(UsageError, match=r"^--max-frames: expected an integer >= 1, got 0$"):
        _merge(AppConfig.default(), _run_args("--max-frames", "0"))


def test_run_config_checks_files_after_the_flags(tmp_path: Path, model_file: Path) -> None:
    path = write(tmp_path, f'[model]\npath = "{tmp_path}/gone.tflite"\n[source]\nspec = "0"\n')
    args = _run_args("--model", str(model_file))
    args.config = str(path)
    assert config_from_args(args).model.path == str(model_file)
    args = _run_args()
    args.config = str(path)
    with pytest.raises(
        ConfigError, match=rf"^config {re.escape(str(path))}: model.path: no such file"
    ):
        config_from_args(args)


def test_mqtt_flag_sets_host_and_port(tmp_path: Path, model_file: Path) -> None:
    path = write(
        tmp_path,
        f'[model]\npath = "{model_file}"\n[sinks.mqtt]\nhost = "file"\nport = 1884\nqos = 1\n',
    )
    base = load_config(path)
    for flag, host, port in [
        ("broker.lan", "broker.lan", None),
        ("broker.lan:1885", "broker.lan", 1885),
        ("10.0.0.2:1883", "10.0.0.2", 1883),
        ("[fd00::2]:8883", "fd00::2", 8883),
        ("fd00::2", "fd00::2", None),
    ]:
        m = _merge(base, _run_args("--mqtt", flag)).section("sinks.mqtt")
        assert (m.host, m.port, m.qos) == (host, port, 1), flag
    assert _merge(base, _run_args()).section("sinks.mqtt").host == "file"


@pytest.mark.parametrize(
    "flag",
    ["broker:0", "broker:70000", "broker:x", "broker:", "my broker", "[::1", "[::1]:", "[::1]x"],
)
def test_bad_mqtt_flag(flag: str) -> None:
    with pytest.raises(UsageError) as info:
        _merge(AppConfig.default(), _run_args("--mqtt", flag))
    assert str(info.value) == (
        f"--mqtt: expected HOST or HOST:PORT with a port from 1 to 65535, got {flag!r}"
    )


def test_mqtt_password_from_the_environment() -> None:
    c = with_values(
        AppConfig.default(),
        {"model.path": "m.tflite", "sinks.mqtt.host": "b", "sinks.mqtt.username": "cam"},
    )
    env = {"CAMERA_APP_MQTT_PASSWORD": "s3cret"}
    m = c.section("sinks.mqtt")
    assert mqtt_password(m, env) == "s3cret"
    m2 = with_values(c, {"sinks.mqtt.password": "file"}).section("sinks.mqtt")
    assert mqtt_password(m2, env) == "s3cret"
    assert mqtt_password(m2, {}) == "file"
    assert mqtt_password(m, {}) is None
    no_user = with_values(c, {"sinks.mqtt.username": None}).section("sinks.mqtt")
    with pytest.raises(ConfigError, match=r"^sinks.mqtt.username: required with a password"):
        mqtt_password(no_user, env)


def test_web_token_from_the_environment() -> None:
    c = with_values(AppConfig.default(), {"model.path": "m.tflite", "preview.mode": "web"})
    p = c.section("preview")
    assert web_token(p, {"CAMERA_APP_WEB_TOKEN": "s3cret"}) == "s3cret"
    p2 = with_values(c, {"preview.token": "file"}).section("preview")
    assert web_token(p2, {"CAMERA_APP_WEB_TOKEN": "s3cret"}) == "s3cret"
    assert web_token(p2, {}) == "file"
    assert web_token(p, {}) is None


# -- check-config ------------------------------------------------------------
def test_check_config_bad_file_exits_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, '[model]\nthreads = "four"\n')
    assert main(["check-config", str(path)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines() == [
        f'camera-app: error: config {path}: model.threads: expected an integer from 1 to 64, got "four"'
    ]


def test_check_config_good_file(
    tmp_path: Path, model_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, f'[model]\npath = "{model_file}"\n[sinks.jsonl]\npath = "-"\n')
    assert main(["check-config", str(path)]) == 0
    out, err = capsys.readouterr()
    assert out.splitlines() == [
        f"{path}: ok",
        f"source picamera2 (picamera2), model {model_file}, outputs: jsonl -",
    ]
    assert err == ""


def test_check_config_lists_mqtt(
    tmp_path: Path, model_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(
        tmp_path,
        f'[model]\npath = "{model_file}"\n[sinks.jsonl]\npath = "-"\n'
        '[sinks.mqtt]\nhost = "broker.lan"\ntls = true\ntopic_prefix = "cams/garage"\n',
    )
    assert main(["check-config", str(path)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1] == (
        f"source picamera2 (picamera2), model {model_file}, "
        "outputs: jsonl -, mqtt broker.lan:8883 cams/garage/"
    )


# -- the shipped example ------------------------------------------------------
def test_example_config_validates(tmp_path: Path, model_file: Path) -> None:
    config = load_config(EXAMPLE, files=False)
    assert config.model.path == "/var/lib/camera-app/models/ssd_mobilenet_v1_coco_quant.tflite"
    assert config.source.spec == "picamera2"
    assert config.reconnect.max_delay_s < 30  # the unit's WatchdogSec
    labels = tmp_path / "labels.txt"
    labels.write_text("person\n")
    local = with_values(config, {"model.path": str(model_file), "model.labels": str(labels)})
    check_files(local)
    assert pacing(local) is Pacing.LIVE


def _leaf_keys(cls: Any = AppConfig, path: str = "") -> dict[str, set[str]]:
    """Every documented key by section: the core sections and every component's."""
    out: dict[str, set[str]] = {}
    hints = get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if f.name == "components" and cls is AppConfig:
            for c in COMPONENTS:
                tp = c.config_type
                if getattr(tp, "__origin__", None) is tuple:
                    tp = tp.__args__[0]
                out.update(_leaf_keys(tp, c.section))
        elif dataclasses.is_dataclass(hints[f.name]):
            out.update(_leaf_keys(hints[f.name], f"{path}.{f.name}" if path else f.name))
        elif typing.get_origin(hints[f.name]) in (dict, Mapping):  # [objects.filters.<label>]
            out.update(_leaf_keys(typing.get_args(hints[f.name])[1], f"{path}.{f.name}.*"))
        else:
            out.setdefault(path, set()).add(f.name)
    return out


def test_example_config_documents_every_key() -> None:
    found: dict[str, set[str]] = {}
    section = ""
    for line in EXAMPLE.read_text().splitlines():
        if m := re.match(r"^#? ?\[\[?([\w.]+)\]\]?$", line):
            section = m.group(1)
            if section.startswith("objects.filters."):
                section = "objects.filters.*"
        elif m := re.match(r"^#? ?(\w+) = ", line):
            found.setdefault(section, set()).add(m.group(1))
    assert found == _leaf_keys()


def test_every_field_has_help_and_toml_defaults_round_trip() -> None:
    components = {c.section: c.config_type for c in COMPONENTS}
    for section, keys in _leaf_keys().items():
        cls: Any = components.get(section, AppConfig)
        if getattr(cls, "__origin__", None) is tuple:
            cls = cls.__args__[0]
        if section == "objects.filters.*":
            cls = typing.get_args(get_type_hints(components["objects"])["filters"])[1]
        elif section not in components:
            for name in filter(None, section.split(".")):
                cls = get_type_hints(cls)[name]
        for key in keys:
            assert cls.__dataclass_fields__[key].metadata.get("help"), f"{section}.{key}"


# -- class names ---------------------------------------------------------------
LABELS = Labels({0: "???", 1: "person", 2: "bicycle", 3: "car"}, "labels.txt", offset=1)


@pytest.mark.parametrize(
    ("given", "expected"),
    [(("person",), (0,)), (("Car", 1), (2, 1)), ((0, "person"), (0,)), ((5,), (5,))],
)
def test_resolve_classes(given: tuple[int | str, ...], expected: tuple[int, ...]) -> None:
    assert resolve_classes(given, LABELS) == expected


@pytest.mark.parametrize(
    ("given", "labels", "message"),
    [
        (
            ("persn",),
            LABELS,
            'detect.classes: unknown class "persn" in labels labels.txt (did you mean "person"?)',
        ),
        (("zebra",), LABELS, 'detect.classes: unknown class "zebra" in labels labels.txt'),
        (("person",), None, 'detect.classes: class name "person" needs labels'),
    ],
)
def test_resolve_classes_errors(
    given: tuple[int | str, ...], labels: Labels | None, message: str
) -> None:
    with pytest.raises(ConfigError) as info:
        resolve_classes(given, labels)
    assert str(info.value).startswith(message)


def test_class_names_filter_a_real_model(models_dir: Path, images_dir: Path) -> None:
    import cv2

    from camera_app.inference.model import Model

    image = cv2.imread(str(images_dir / "kite_and_cold.jpg"))
    assert image is not None
    c = with_values(
        AppConfig.default(),
        {
            "model.path": str(models_dir / "ssd_mobilenet_v1_coco_quant.tflite"),
            "model.labels": str(models_dir / "coco_labels.txt"),
            "detect.threshold": 0.4,
        },
    )
    full = Model(model_options(c))
    assert full.labels is not None
    everything = full.infer_image(image).detections
    kite = full.labels.class_id_of("kite")
    assert kite is not None
    kites = int((everything.class_id == kite).sum())
    assert 0 < kites < len(everything)  # persons too (fixtures README: 5 and 5)

    model = Model(model_options(with_values(c, {"detect.classes": ("Kite",)})))
    assert model.decode_options.classes == (kite,)
    only = model.infer_image(image).detections
    assert len(only) == kites
    assert set(only.class_id.tolist()) == {kite}


@pytest.mark.parametrize(
    ("spec", "enabled", "wrapped"),
    [
        ("rtsp://cam.local/stream", True, True),
        ("/dev/video0", True, True),
        ("picamera2", True, True),
        ("rtsp://cam.local/stream", False, False),
    ],
)
def test_make_source_wraps_live_sources(spec: str, enabled: bool, wrapped: bool) -> None:
    from camera_app.app import make_source
    from camera_app.sources.reconnect import ReconnectingSource

    c = with_values(
        AppConfig.default(),
        {
            "model.path": "m.tflite",
            "source.spec": spec,
            "reconnect.enabled": enabled,
            "reconnect.max_delay_s": 7.0,
            "reconnect.stall_timeout_s": 3.0,
        },
    )
    src = make_source(c, lores_size_wh=(320, 240))
    assert isinstance(src, ReconnectingSource) is wrapped
    if isinstance(src, ReconnectingSource):
        assert (src.backoff.max_s, src.stall_timeout_s, src.name) == (7.0, 3.0, spec)
        assert not src.up  # built, not started


def test_make_source_keeps_files_unwrapped(videos_dir: Path) -> None:
    from camera_app.app import make_source
    from camera_app.sources.reconnect import ReconnectingSource
    from camera_app.sources.video import VideoFileSource

    spec = str(videos_dir / "bottle-detection.mp4")
    c = with_values(AppConfig.default(), {"model.path": "m.tflite", "source.spec": spec})
    src = make_source(c)
    assert isinstance(src, VideoFileSource) and not isinstance(src, ReconnectingSource)


@pytest.mark.parametrize(
    ("argv", "key", "expected"),
    [
        (["--preview", "web", "--web-port", "8081"], "web_port", 8081),
        (["--web-host", "0.0.0.0"], "web_host", "0.0.0.0"),
    ],
)
def test_component_flags_convert_their_text(argv: list[str], key: str, expected: object) -> None:
    merged = _merge(AppConfig.default(), _run_args(*argv))
    assert getattr(merged.section("preview"), key) == expected


def test_component_flag_out_of_bounds_names_the_flag() -> None:
    with pytest.raises(UsageError, match=r"^--web-port: expected an integer from 1 to 65535"):
        _merge(AppConfig.default(), _run_args("--web-port", "70000"))
