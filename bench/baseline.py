"""The original app's processing loop, rebuilt as the benchmark's point of comparison (issue 6).

The app this project replaces handled one frame at a time: read a frame with OpenCV, run the pose model
on it, keep the last 32 frames of keypoints, call the LSTM once per frame on that window, draw, and write
the frame with OpenCV's `mp4v` VideoWriter. `run_baseline` does exactly that with today's parts (the same
MoveNet backend and settings as the pipeline's default, the shipped classifier, the same feature function
and annotators), so the comparison measures the shape of the loop, not a weaker model:

- nothing overlaps: decode, pose, LSTM, drawing and encoding take turns in one thread;
- the LSTM runs once per frame on a batch of one instead of once per clip on large batches;
- MoveNet uses its default threads per frame instead of whole frames per core;
- colour conversion and encoding go through OpenCV (BGR, MPEG-4 Part 2), as the original did.

Like the original it follows one person (the most confident one in each frame) and writes no data files.
Its time runs from loading the models to the last frame written, as the pipeline's does (until 2026-12-06
it started after loading, which left out reading MoveNet, about 0.1 s, that the pipeline's time includes);
the code itself is imported before either clock starts.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from har_core.classifier import ActionClassifier
from har_core.errors import OutputError, VideoError
from har_core.features import WINDOW, features_for_windows
from har_core.pose.movenet import MoveNetBackend  # imported here, like the pipeline's code: not part of the time
from har_core.pose.movenet_runtime import DEFAULT_RUNTIME
from har_core.poses import Poses
from har_core.render import FrameAnnotations, annotate_frame, default_annotators
from har_core.skeleton import CLASSES, NUM_CLASSES, NUM_JOINTS, UNCERTAIN

THRESHOLD = 0.5  # the pipeline's default uncertainty threshold


@dataclass
class BaselineResult:
    """Frames processed, wall time, and seconds per step summed over frames."""

    frames: int
    wall_s: float
    runtime: dict = field(default_factory=dict)  # how MoveNet ran (har_core.pose.movenet_runtime.RuntimeInfo)
    seconds: dict[str, float] = field(default_factory=dict)

    def add(self, step: str, started: float) -> float:
        """Add the time since `started` to `step`; return now, the next step's start."""
        now = time.perf_counter()
        self.seconds[step] = self.seconds.get(step, 0.0) + now - started
        return now


def _most_confident(poses: Poses) -> Poses:
    """The one person the original followed: the highest person score, with id 0 for drawing."""
    if len(poses) == 0:
        return poses
    best = poses[[int(np.argmax(poses.scores))]]
    best.track_ids = np.zeros(1, dtype=np.int64)
    return best


def run_baseline(video: Path, out: Path, input_size: int = 256, device: str = "auto",
                 runtime: str = DEFAULT_RUNTIME) -> BaselineResult:
    """Process `video` frame by frame as the original app did and write the annotated `out` (mp4v).

    Raises:
        VideoError: OpenCV cannot open the video.
        OutputError: OpenCV cannot open the output for writing.
    """
    wall = time.perf_counter()  # from loading the models, as the pipeline's time is (`analyze` loads them)
    backend = MoveNetBackend(input_size=input_size, device=device, runtime=runtime)
    classifier = ActionClassifier.load(device=device)
    annotators = default_annotators()
    out.parent.mkdir(parents=True, exist_ok=True)
    capture = cv2.VideoCapture(str(video))
    if not capture.isOpened():
        raise VideoError(f"OpenCV cannot open {video}.")
    fps = capture.get(cv2.CAP_PROP_FPS) or 30.0
    size = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
    writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
    if not writer.isOpened():
        capture.release()
        raise OutputError(f"OpenCV cannot write {out}.")
    history: deque[np.ndarray] = deque(maxlen=WINDOW)
    result = BaselineResult(frames=0, wall_s=0.0, runtime=backend.info.runtime or {})
    result.add("load_models", wall)
    try:
        while True:
            started = time.perf_counter()
            ok, bgr = capture.read()
            if not ok:
                break
            rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            started = result.add("decode", started)
            person = _most_confident(backend([rgb])[0])
            started = result.add("pose", started)
            history.append(person.keypoints[0] if len(person) else np.zeros((NUM_JOINTS, 3), dtype=np.float32))
            probs = np.full((len(person), NUM_CLASSES), np.nan, dtype=np.float32)
            if len(history) == WINDOW and len(person):
                window = np.stack(history)[None]
                probs[:] = classifier.predict(features_for_windows(window))
            started = result.add("lstm", started)
            labels = [_label(row) for row in probs]
            annotate_frame(rgb, FrameAnnotations(person, labels, probs.max(axis=1), probs), annotators)
            started = result.add("render", started)
            writer.write(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
            result.add("encode", started)
            result.frames += 1
    finally:
        capture.release()
        writer.release()
    result.wall_s = time.perf_counter() - wall
    return result


def _label(probs: np.ndarray) -> str:
    """The top class, UNCERTAIN below the threshold, NO_WINDOW before the first full window."""
    if np.isnan(probs).all():
        return "NO_WINDOW"
    top = int(np.argmax(probs))
    return CLASSES[top] if probs[top] >= THRESHOLD else UNCERTAIN
