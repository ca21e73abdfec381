# Two commands that work on a fresh machine: `make run` and `make test`.
# Both create .venv on first use.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
APP    := $(VENV)/bin/camera-app
EXTRAS ?= dev,convert
OUT    := out

# BlazeFace full-range finds the demo's face in 120 of 120 frames; the
# short-range model, made for faces close to the camera, in 110.
MODEL  := models/face_detection_full_range.tflite
CLIP   := models/demo.mp4

.PHONY: run test lint models clean venv bench tflite-venv pi-check

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[$(EXTRAS)]"
	touch $@

models: $(MODEL) $(CLIP)

$(MODEL): | venv
	$(PY) models/fetch.py --dest models

$(CLIP): models/demo_clip.py | venv
	$(PY) models/demo_clip.py --dest models --force

# The main job, on a default that works anywhere: BlazeFace (MediaPipe's face
# detector) on a clip of a public-domain photo; writes an annotated video and
# a detections log, prints the summary.
run: venv models
	@mkdir -p $(OUT)
	$(APP) run --model $(MODEL) --source $(CLIP) \
		--jsonl $(OUT)/detections.jsonl --record $(OUT)/annotated.mp4
	@echo "outputs in $(OUT)/: the recording (a new annotated-<time>.mp4 when annotated.mp4 exists) and detections.jsonl (appended)"

# A second venv with the legacy tflite-runtime (2.14: Python <= 3.11, numpy < 2)
# and no ai-edge-litert, so the runtime fallback is tested for real. The other
# core dependencies (PyAV, paho-mqtt) are listed by hand.
# --no-deps: otherwise pip would pull ai-edge-litert in and mask the fallback.
TFLITE_VENV := $(VENV)-tflite
$(TFLITE_VENV)/.installed: pyproject.toml
	test -x $(TFLITE_VENV)/bin/python || $(PYTHON) -m venv $(TFLITE_VENV)
	$(TFLITE_VENV)/bin/pip install --quiet tflite-runtime==2.14.0 "numpy<2" "opencv-python-headless<4.11" \
		"av>=18" "paho-mqtt>=2.0"
	$(TFLITE_VENV)/bin/pip install --quiet --no-deps -e .
	touch $@

tflite-venv: $(TFLITE_VENV)/.installed

test: venv models
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info >= (3, 12))' \
		&& $(MAKE) --no-print-directory tflite-venv \
		|| echo "python3 is 3.12+: no tflite-runtime wheels; its fallback test will skip"
	$(PY) -m pytest $(PYTEST_ARGS)

lint: venv
	$(VENV)/bin/ruff check camera_app tests models benchmarks tools
	$(VENV)/bin/ruff format --check camera_app tests models benchmarks tools
	$(VENV)/bin/mypy

bench: venv
	$(APP) bench --model $(FIXTURES)/models/ssd_mobilenet_v1_coco_quant.tflite \
		--source $(FIXTURES)/videos/one-by-one-person-detection.mp4

FIXTURES ?= ../shared/fixtures

# The Pi install, proved on emulated arm64 Raspberry Pi OS bases (Bookworm and
# Trixie): as root. PI_CHECK_CACHE=DIR keeps the roots between runs.
pi-check: venv
	CAMERA_APP_FIXTURES="$${CAMERA_APP_FIXTURES:-$(abspath $(FIXTURES))}" tools/pi_check/run.sh

clean:
	rm -rf $(VENV) $(TFLITE_VENV) $(OUT) .pytest_cache .mypy_cache .ruff_cache
