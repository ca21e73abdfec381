"""``camera-app models list|pull`` end to end, against a local HTTP server
serving the fixture models through a catalogue override."""

from __future__ import annotations

import argparse
import errno
import hashlib
import io
import json
import os
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import camera_app.cli as cli
from camera_app.catalogue import CATALOGUE_ENV
from camera_app.catalogue import download as download_mod
from camera_app.commands import models as models_cmd
from camera_app.commands.args import Parser
from camera_app.config import load_config
from camera_app.inference.model import Model, ModelOptions

FAKES = Path(__file__).resolve().parent.parent / "fakes"
FIELDS = {
    "name",
    "title",
    "family",
    "task",
    "input_size_wh",
    "size_bytes",
    "licence",
    "url",
    "sha256",
    "labels",
    "verified",
    "verified_how",
}


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture(autouse=True)
def parser(monkeypatch: pytest.MonkeyPatch) -> None:
    """``camera-app`` with only the models command: cli.main's error handling,
    without importing every other command."""

    def build() -> argparse.ArgumentParser:
        p = Parser(prog="camera-app")
        p.add_argument("--debug", action="store_true")
        p.add_argument("--log-level", default=None)
        sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
        models_cmd.register(sub)
        return p

    monkeypatch.setattr(cli, "build_parser", build)
    monkeypatch.delenv(CATALOGUE_ENV, raising=False)


@pytest.fixture()
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.syspath_prepend(str(FAKES))
    from http_files import FileServer

    with FileServer() as s:
        yield s


@pytest.fixture()
def ssd(server: Any, models_dir: Path, tmp_path: Path) -> Path:
    """A catalogue with the fixture COCO SSD and its labels on the local server."""
    model = (models_dir / "ssd_mobilenet_v1_coco_quant.tflite").read_bytes()
    labels = (models_dir / "coco_labels.txt").read_bytes()
    entry = {
        "name": "coco-ssd",
        "title": "COCO SSD (fixture)",
        "family": "ssd",
        "task": "detection",
        "input_size_wh": [300, 300],
        "file": "ssd.tflite",
        "url": server.add("ssd.tflite", model),
        "sha256": sha256(model),
        "size_bytes": len(model),
        "licence": "Apache-2.0",
        "labels": {
            "url": server.add("coco_labels.txt", labels),
            "sha256": sha256(labels),
            "file": "coco_labels.txt",
        },
    }
    path = tmp_path / "catalogue.json"
    path.write_text(json.dumps({"models": [entry]}))
    return path


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    rc = cli.main(argv)
    out, err = capsys.readouterr()
    return rc, out, err


def test_list_shows_every_builtin_model(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = run(["models", "list"], capsys)
    assert rc == 0
    for name in (
        "coco-ssd-mobilenet-v1",
        "efficientdet-lite0",
        "movenet-thunder",
        "blazeface-full",
    ):
        assert f"\n{name} " in out
    assert "10 models (built-in catalogue)" in out


def test_list_json_has_the_fields_for_every_entry(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = run(["models", "list", "--json"], capsys)
    assert rc == 0
    models = json.loads(out)["models"]
    assert len(models) >= 8
    for m in models:
        assert FIELDS <= set(m), m["name"]
        assert len(m["sha256"]) == 64
        assert m["labels"].get("builtin") or (m["labels"]["url"] and m["labels"]["sha256"])


def test_list_json_reads_the_catalogue_from_the_environment(
    ssd: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(CATALOGUE_ENV, str(ssd))
    rc, out, _ = run(["models", "list", "--json"], capsys)
    assert rc == 0
    assert [m["name"] for m in json.loads(out)["models"]] == ["coco-ssd"]


def test_pull_prints_model_lines_a_config_can_use(
    ssd: Path,
    tmp_path: Path,
    images_dir: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    dest = tmp_path / "models"
    rc, out, err = run(
        ["models", "pull", "coco-ssd", "--dest", str(dest), "--catalogue", str(ssd)], capsys
    )
    assert rc == 0
    assert err.splitlines() == [
        f"{dest / 'ssd.tflite'}: downloaded, sha256 ok",
        f"{dest / 'coco_labels.txt'}: downloaded, sha256 ok",
    ]
    assert "%" not in err, "no progress bar when stderr is not a terminal"
    config = tmp_path / "camera-app.toml"
    config.write_text(f'[source]\nspec = "{images_dir / "cat.bmp"}"\n\n{out}')
    loaded = load_config(config)  # what check-config runs
    assert loaded.model.path == str(dest / "ssd.tflite")
    with Model(ModelOptions(path=loaded.model.path, labels=loaded.model.labels)) as model:
        assert model.family == "ssd"
        assert model.labels is not None and model.labels.name(0) == "person"
    rc, out2, err = run(
        ["models", "pull", "coco-ssd", "--dest", str(dest), "--catalogue", str(ssd)], capsys
    )
    assert rc == 0 and out2 == out
    assert err.splitlines()[0] == f"{dest / 'ssd.tflite'}: already present, sha256 ok"


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_on_a_terminal(
    ssd: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    err = Tty()
    monkeypatch.setattr("sys.stderr", err)
    assert (
        cli.main(["models", "pull", "coco-ssd", "--dest", str(tmp_path), "--catalogue", str(ssd)])
        == 0
    )
    text = err.getvalue()
    assert "\rssd.tflite  100% [########################] 4.2/4.2 MB" in text
    assert "\rcoco_labels.txt  100%" in text


def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_dns(*args: Any, **kwargs: Any) -> Any:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_dns)


def disk_full(monkeypatch: pytest.MonkeyPatch) -> None:
    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(download_mod.os, "fsync", full)


CASES: dict[str, tuple[Callable[[Any, pytest.MonkeyPatch], None], str]] = {
    "http 404": (lambda s, m: s.routes.pop("ssd.tflite"), "HTTP 404 Not Found from http://"),
    "http 500": (lambda s, m: setattr(s.routes["ssd.tflite"], "status", 500), "HTTP 500"),
    "mismatch": (
        lambda s, m: setattr(s.routes["ssd.tflite"], "body", b"\0" * 4183312),
        "ssd.tflite from http://",
    ),
    "interrupted": (
        lambda s, m: setattr(s.routes["ssd.tflite"], "truncate_at", 65536),
        "download interrupted: connection closed after 65536 of 4183312 bytes",
    ),
    "offline": (lambda s, m: offline(m), "cannot resolve 127.0.0.1"),
    "disk full": (lambda s, m: disk_full(m), "disk full writing"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_each_failure_is_one_line_exit_1_and_no_file(
    case: str,
    ssd: Path,
    server: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    cli_error: Callable[[list[str]], tuple[int, str]],
) -> None:
    breaks, text = CASES[case]
    breaks(server, monkeypatch)
    dest = tmp_path / "models"
    rc, line = cli_error(
        ["models", "pull", "coco-ssd", "--dest", str(dest), "--catalogue", str(ssd)]
    )
    assert rc == 1
    assert text in line
    assert sorted(p.name for p in dest.iterdir()) == []


def test_a_different_file_in_the_way_needs_force(
    ssd: Path,
    tmp_path: Path,
    cli_error: Callable[[list[str]], tuple[int, str]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    (tmp_path / "ssd.tflite").write_bytes(b"mine")
    argv = ["models", "pull", "coco-ssd", "--dest", str(tmp_path), "--catalogue", str(ssd)]
    rc, line = cli_error(argv)
    assert rc == 2, "nothing was fetched: the user decides (--force)"
    assert "exists with another sha256" in line and "--force" in line
    assert (tmp_path / "ssd.tflite").read_bytes() == b"mine"
    rc, _out, _err = run([*argv, "--force"], capsys)
    assert rc == 0
    assert (tmp_path / "ssd.tflite").stat().st_size == 4183312


@pytest.mark.parametrize(
    ("argv", "text"),
    [
        (
            ["models", "pull", "nope"],
            'unknown model "nope"; expected one of: coco-ssd-mobilenet-v1',
        ),
        (["models", "pull", "movenet-lightnin"], 'did you mean "movenet-lightning"?'),
        (["models", "pull", "x", "--timeout", "0"], "--timeout: expected a number from 0.1"),
        (["models"], "the following arguments are required: SUBCOMMAND"),
    ],
)
def test_bad_arguments_exit_2(
    argv: list[str], text: str, cli_error: Callable[[list[str]], tuple[int, str]]
) -> None:
    rc, line = cli_error(argv)
    assert rc == 2
    assert text in line


def test_a_bad_catalogue_file_exits_2(
    tmp_path: Path, cli_error: Callable[[list[str]], tuple[int, str]]
) -> None:
    bad = tmp_path / "c.json"
    bad.write_text('{"models": [{"name": "x", "url": "file:///etc/passwd"}]}')
    rc, line = cli_error(["models", "list", "--catalogue", str(bad)])
    assert rc == 2
    assert f"catalogue {bad}: models[0].url: expected an http:// or https:// URL" in line
