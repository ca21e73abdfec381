"""Child process of test_mux's kill test: records like a live camera until killed.

``python kill_child.py VIDEO OUT.mp4 OUT.jsonl``: frames of VIDEO (looped,
640x360) paced at 30 fps with their capture times, each one recorded and
logged as a JSON line; after each frame the number of frames recorded so far
is printed on stdout (the parent reads it through a pipe, then SIGKILLs us).
"""

from __future__ import annotations

import sys
import time

import cv2

from camera_app.recording.encoder import EncoderOptions
from camera_app.recording.linelog import LineLog
from camera_app.recording.recorder import SegmentedRecorder

FPS = 30.0


def main(video: str, out: str, jsonl: str) -> None:
    cap = cv2.VideoCapture(video)
    frames: list[cv2.typing.MatLike] = []
    while len(frames) < 60:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(cv2.resize(frame, (640, 360)))
    cap.release()
    recorder = SegmentedRecorder.to_file(out, options=EncoderOptions(fps=FPS))
    recorder.open()
    log = LineLog(jsonl)
    log.open()
    log.write_marker(video=video)
    written = 0
    next_s = time.monotonic()
    i = 0
    while True:
        if recorder.write(frames[i % len(frames)], time.monotonic_ns()):
            written += 1
        log.write({"frame": i, "detections": [{"label": "bottle", "score": 0.9}] * 3})
        i += 1
        sys.stdout.write(f"{written}\n")
        sys.stdout.flush()
        next_s += 1 / FPS
        delay = next_s - time.monotonic()
        if delay > 0:
            time.sleep(delay)  # a camera's pace, not synchronisation


if __name__ == "__main__":
    main(*sys.argv[1:4])
