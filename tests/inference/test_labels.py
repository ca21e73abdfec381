"""Label files, offsets and metadata labels (camera_app/inference/labels.py)."""

from __future__ import annotations

import logging
import shutil
import zipfile
from pathlib import Path

import cv2
import pytest

from camera_app.errors import LabelsError
from camera_app.inference.labels import (
    Labels,
    load_labels,
    metadata_labels,
    parse_labels,
    resolve_offset,
)
from camera_app.inference.model import Model, ModelOptions

COCO_FILES = ("coco_labels.txt", "coco_labels_id_name.txt", "coco_labelmap_unknown_first.txt")
SSD = "ssd_mobilenet_v1_coco_quant.tflite"
MOBILENET = "mobilenet_v2_1.0_224_quant.tflite"
SSD_CLASSES = 90

# The SSD model's class ids (COCO with gaps); None marks an unused id.
COCO_IDS = [
    (0, "person"),
    (1, "bicycle"),
    (11, None),
    (12, "stop sign"),
    (16, "cat"),
    (17, "dog"),
    (31, "tie"),
    (37, "kite"),
    (43, "bottle"),
    (44, None),
    (71, "tv"),
    (87, "teddy bear"),
    (89, "toothbrush"),
]


def coco(models_dir: Path, name: str) -> Labels:
    return resolve_offset(load_labels(models_dir / name), SSD_CLASSES, None)


@pytest.mark.parametrize("name", COCO_FILES)
@pytest.mark.parametrize(("class_id", "expected"), COCO_IDS)
def test_coco_files_name_the_ssd_class_ids(
    models_dir: Path, name: str, class_id: int, expected: str | None
) -> None:
    assert coco(models_dir, name).name(class_id) == expected


def test_coco_files_agree_on_every_id(models_dir: Path) -> None:
    names = {f: [coco(models_dir, f).name(i) for i in range(SSD_CLASSES)] for f in COCO_FILES}
    reference = names[COCO_FILES[0]]
    assert sum(n is not None for n in reference) == 80
    for f in COCO_FILES[1:]:
        assert names[f] == reference, f


@pytest.mark.parametrize("name", COCO_FILES)
def test_coco_files_cover_the_model_without_warning(
    models_dir: Path, name: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="camera_app"):
        labels = coco(models_dir, name)
    assert labels.count == SSD_CLASSES
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


# -- offsets --------------------------------------------------------------------

# (text, model classes, explicit offset, expected offset, class 0's name)
OFFSET_CASES = [
    ("???\na\nb\nc\n", 3, None, 1, "a"),
    ("background\na\nb\n", 2, None, 1, "a"),
    ("???\na\nb\nc\n", 4, None, 0, None),  # same count: no shift
    ("a\nb\nc\n", 2, None, 0, "a"),  # first line is a real name
    ("???\na\nb\nc\n", None, None, 0, None),  # classes unknown: no guess
    ("0 ???\n1 a\n2 b\n", 2, None, 0, None),  # id maps say what they mean
    ("???\na\nb\nc\n", 3, 0, 0, None),  # explicit wins
    ("a\nb\nc\n", 3, 1, 1, "b"),
    ("???\na\nb\nc\n", 3, 2, 2, "b"),
]


@pytest.mark.parametrize(("text", "classes", "explicit", "offset", "first"), OFFSET_CASES)
def test_offset(
    text: str, classes: int | None, explicit: int | None, offset: int, first: str | None
) -> None:
    labels = resolve_offset(parse_labels(text, "test.txt"), classes, explicit)
    assert labels.offset == offset
    assert labels.name(0) == first


def test_imagenet_background_first_keeps_offset_zero(models_dir: Path) -> None:
    labels = resolve_offset(load_labels(models_dir / "imagenet_labels.txt"), 1001, None)
    assert labels.offset == 0
    assert labels.name(0) == "background"
    assert labels.name(286) == "Egyptian cat"
    assert labels.name(653) == "military uniform"


def test_explicit_offset_on_the_unknown_first_map(models_dir: Path) -> None:
    raw = load_labels(models_dir / "coco_labelmap_unknown_first.txt")
    assert resolve_offset(raw, SSD_CLASSES, 0).name(1) == "person"
    assert resolve_offset(raw, SSD_CLASSES, 0).name(0) is None


@pytest.mark.parametrize(
    ("count", "classes", "way", "amount"),
    [(90, 80, "too many", 10), (80, 90, "too few", 10), (91, 89, "too many", 2)],
)
def test_count_mismatch_warns(
    caplog: pytest.LogCaptureFixture, count: int, classes: int, way: str, amount: int
) -> None:
    text = "\n".join(f"name{i}" for i in range(count))
    with caplog.at_level(logging.WARNING, logger="camera_app"):
        resolve_offset(parse_labels(text, "odd.txt"), classes, None)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "odd.txt" in warnings[0]
    assert f"{amount} {way}" in warnings[0]
    assert "--label-offset" in warnings[0]


# -- formats --------------------------------------------------------------------

FORMAT_CASES = [
    ("0 a\n2 c\n5 f\n", {0: "a", 1: None, 2: "c", 5: "f"}, 6),
    ("0: a\n2: c\n5: f\n", {0: "a", 1: None, 2: "c", 5: "f"}, 6),
    ("0:a\n2:c\n5:f", {0: "a", 2: "c", 5: "f"}, 6),
    ("3\tcar\n7   teddy bear\n", {3: "car", 7: "teddy bear", 0: None}, 8),
    ("  1  person  \n 2 bicycle\n", {1: "person", 2: "bicycle"}, 3),
    ("person\nn/a\ncar\n", {0: "person", 1: None, 2: "car"}, 3),
    ("person\r\ncar\r\n", {0: "person", 1: "car"}, 2),
    ("3d glasses\n1 tench\n", {0: "3d glasses", 1: "1 tench"}, 2),  # names, not ids
]


@pytest.mark.parametrize(("text", "names", "count"), FORMAT_CASES)
def test_formats(text: str, names: dict[int, str | None], count: int) -> None:
    labels = parse_labels(text, "test.txt")
    for class_id, name in names.items():
        assert labels.name(class_id) == name
    assert labels.count == count


def test_utf8_bom_is_ignored(tmp_path: Path) -> None:
    p = tmp_path / "bom.txt"
    p.write_bytes("\ufeffperson\ncar\n".encode())
    assert load_labels(p).name(0) == "person"


def test_pascal_note_is_ignored(models_dir: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="camera_app"):
        labels = resolve_offset(
            load_labels(models_dir / "pascal_voc_segmentation_labels.txt"), 21, None
        )
    assert labels.count == 21
    assert labels.name(3) == "bird"
    assert labels.name(20) == "tvmonitor"
    assert not any("ignore" in name for name in labels.entries.values())
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_blank_line_marks_an_unused_id() -> None:
    """The module docstring: empty names mark unused ids (like n/a and ???)."""
    labels = parse_labels("person\n\ncar\nbus\n", "test.txt")
    assert labels.name(0) == "person"
    assert labels.name(1) is None
    assert labels.name(2) == "car"
    assert labels.name(3) == "bus"


# -- bad files ------------------------------------------------------------------

# (file bytes, words the one-line error must contain)
BAD_FILES = [
    (b"", ["no labels"]),
    (b"\n\n  \n", ["no labels"]),
    (b"person\x00\x00\x01\x02car", ["binary"]),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", ["not UTF-8"]),
    ("caf\u00e9\nth\u00e9\n".encode("latin-1"), ["not UTF-8"]),
    (b"0 person\n1 bicycle\n1 car\n", ["line 3", "1"]),
    (b"0 person\n2 bicycle\n1 car\n", ["line 3"]),
    (b"0 person\n1 bicycle\ncar\n3 motorcycle\n", ["line 3", "car"]),
    (b"0: person\n1: bicycle\n2: car\nairplane\n", ["line 4", "airplane"]),
]


@pytest.mark.parametrize(("data", "words"), BAD_FILES)
def test_bad_file(tmp_path: Path, data: bytes, words: list[str]) -> None:
    path = tmp_path / "labels.txt"
    path.write_bytes(data)
    with pytest.raises(LabelsError) as info:
        load_labels(path)
    message = str(info.value)
    assert str(path) in message
    assert "\n" not in message
    for word in words:
        assert word in message


@pytest.mark.parametrize("make", ["missing", "directory"])
def test_unreadable_file(tmp_path: Path, make: str) -> None:
    path = tmp_path / "labels.txt"
    if make == "directory":
        path.mkdir()
    with pytest.raises(LabelsError) as info:
        load_labels(path)
    assert str(path) in str(info.value)


# -- metadata labels ------------------------------------------------------------


def with_metadata(src: Path, dest: Path, members: dict[str, str]) -> Path:
    """A copy of ``src`` with ``members`` added as a zip (TFLite metadata's associated files)."""
    shutil.copyfile(src, dest)
    with zipfile.ZipFile(dest, "a") as zf:
        for name, text in members.items():
            zf.writestr(name, text)
    return dest


def shouting_coco(models_dir: Path) -> str:
    """The COCO labels in capitals, so a result shows where its names came from."""
    return (models_dir / "coco_labels.txt").read_text().upper()


def test_metadata_labels_found(tmp_path: Path, models_dir: Path) -> None:
    model = with_metadata(
        models_dir / SSD, tmp_path / "ssd_meta.tflite", {"labels.txt": shouting_coco(models_dir)}
    )
    labels = metadata_labels(model)
    assert labels is not None
    assert labels.source == "metadata:labels.txt"
    assert labels.name(37) == "KITE"


def test_metadata_prefers_the_labels_member(tmp_path: Path, models_dir: Path) -> None:
    model = with_metadata(
        models_dir / SSD,
        tmp_path / "ssd_meta.tflite",
        {"readme.txt": "made by hand\n", "my_labels.txt": "a\nb\n"},
    )
    labels = metadata_labels(model)
    assert labels is not None
    assert labels.source == "metadata:my_labels.txt"


@pytest.mark.parametrize("name", [SSD, "deeplabv3_mnv2_dm05_pascal_quant.tflite"])
def test_no_metadata(models_dir: Path, name: str) -> None:
    assert metadata_labels(models_dir / name) is None


def test_no_metadata_for_a_missing_file(tmp_path: Path) -> None:
    assert metadata_labels(tmp_path / "nosuch.tflite") is None


def test_mobilenet_fixture_carries_its_labels(models_dir: Path) -> None:
    labels = metadata_labels(models_dir / MOBILENET)
    assert labels is not None
    assert labels.source == "metadata:imagenet_labels.txt"
    assert labels.entries == load_labels(models_dir / "imagenet_labels.txt").entries


def test_model_uses_metadata_labels(tmp_path: Path, models_dir: Path, images_dir: Path) -> None:
    path = with_metadata(
        models_dir / SSD, tmp_path / "ssd_meta.tflite", {"labels.txt": shouting_coco(models_dir)}
    )
    with Model(ModelOptions(path=str(path))) as model:  # LiteRT loads the zip-suffixed file
        assert model.runtime.name == "ai_edge_litert"
        assert model.labels is not None
        assert model.labels.source == "metadata:labels.txt"
        result = model.infer_image(cv2.imread(str(images_dir / "kite_and_cold.jpg")))
    names = {d["label"] for d in result.payload()["detections"]}
    assert names == {"PERSON", "KITE"}


def test_explicit_labels_beat_metadata(tmp_path: Path, models_dir: Path) -> None:
    path = with_metadata(
        models_dir / SSD, tmp_path / "ssd_meta.tflite", {"labels.txt": shouting_coco(models_dir)}
    )
    explicit = models_dir / "coco_labels_id_name.txt"
    with Model(ModelOptions(path=str(path), labels=str(explicit))) as model:
        assert model.labels is not None
        assert model.labels.source == str(explicit)
        assert model.labels.name(37) == "kite"


def test_mobilenet_copy_with_an_extra_member_still_loads(
    tmp_path: Path, models_dir: Path, images_dir: Path
) -> None:
    path = with_metadata(
        models_dir / MOBILENET, tmp_path / "mobilenet.tflite", {"notes.txt": "extra\n"}
    )
    with Model(ModelOptions(path=str(path))) as model:
        assert model.labels is not None
        assert model.labels.source == "metadata:imagenet_labels.txt"
        result = model.infer_image(cv2.imread(str(images_dir / "cat.bmp")))
    assert result.classes is not None
    assert int(result.classes.class_id[0]) == 286
