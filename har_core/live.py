"""The causal per-frame step: one frame in, tracked people with their current action out, as frames arrive.

`analyze` reads a whole file twice; a camera gives one frame at a time and wants an answer for it now.
`LiveRecognizer.step` runs the same stages on each frame as it comes — the pose backend
(`create_pose_backend`), `PoseTracker`, the classifier-rate sampling of `frame_rate`, the feature function
and `ActionClassifier` — keeping per person only the last few dozen samples, so memory stays flat on an
endless stream. It works on any iterator of `har_core.video.Frame` (a file, a camera, a test's rendered
frames) and needs no Streamlit.

A frame's label is the one `analyze` gives that frame with smoothing off, as far as it can be known
without later frames (tested in tests/test_live.py). Two rules of the timeline look ahead and so differ
here: a joint missing in the newest samples is not yet bridged by `fill_short_gaps` (it is once it
reappears), and a sample where the person is missing is not yet known to lie inside a short gap. Neither
matters for drawing, which shows the people found in the frame.

Samples: with `fps` near 30 (a file read frame by frame) each frame is one sample, as in the timeline.
Otherwise, or when the rate is unknown (a camera, or frames dropped because the CPU is behind), samples are
taken every 1/30 s of the frames' own timestamps, counted from the person's first frame, and interpolated
between the two frames around them exactly as `frame_rate.to_classifier_rate` does.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np
import torch

from har_core.classifier import ActionClassifier
from har_core.errors import HarError
from har_core.features import MAX_GAP_FRAMES, WINDOW, features_for_windows, fill_short_gaps
from har_core.frame_rate import (
    CLASSIFIER_FPS,
    SAMPLE_EPSILON_S,
    at_classifier_rate,
    blend_frames,
    frame_weights,
    last_sample_index,
)
from har_core.pose import PoseBackend, create_pose_backend
from har_core.poses import Poses
from har_core.render import Annotator, FrameAnnotations, annotate_frame, default_annotators
from har_core.skeleton import CLASSES, NUM_CLASSES, NUM_JOINTS, UNCERTAIN
from har_core.timeline import MIN_SEEN_FRACTION, Predictor
from har_core.tracking import PoseTracker
from har_core.video import Frame

WARMING_UP = "warming up"
# Samples kept per person: one window plus the longest gap `fill_short_gaps` bridges and the seen sample
# before it, so every gap inside the window is bridged as it is on the whole track.
HISTORY = WINDOW + MAX_GAP_FRAMES + 1
_MIN_SEEN = int(np.ceil(MIN_SEEN_FRACTION * WINDOW))
_NO_PROBS = np.full(NUM_CLASSES, np.nan, dtype=np.float32)


@dataclass(frozen=True)
class LiveSettings:
    """What a live run can choose: the pose model, the uncertainty threshold, and how frames are timed.

    fps: the stream's nominal frame rate when every frame is processed (a file); None samples by timestamps.
    pose_threads: LiteRT threads for MoveNet; a live step runs one frame at a time, so all of them.
    torch_threads: torch's intra-op threads, set for the whole process when a recognizer is made. The LSTM
        sees a few windows per frame, far too little work to share; with more threads torch's pool spins
        against MoveNet's for the same cores and a step now and then took seconds instead of 20 ms
        (bench/live.py, 2 cores under load: 95th percentile 2.2 s with 2 threads, 20 ms with 1).
    """

    backend: str = "movenet"
    input_size: int = 256
    pose_runtime: str = "openvino"  # openvino | litert, as AnalysisSettings.pose_runtime
    model: str | None = None  # an action model folder (e.g. fine-tuned); None: the shipped checkpoint
    device: str = "auto"
    threshold: float = 0.5
    fps: float | None = None
    pose_threads: int = max(1, min(4, os.cpu_count() or 1))
    torch_threads: int = 1


@dataclass(frozen=True)
class LivePerson:
    """One tracked person in the current frame: a class, UNCERTAIN, or WARMING_UP before a full window.

    probs: (7,) class probabilities of the window ending at this frame; NaN while warming up.
    """

    person_id: int
    label: str
    confidence: float
    probs: np.ndarray

    @property
    def warming_up(self) -> bool:
        return self.label == WARMING_UP


@dataclass(frozen=True)
class LiveResult:
    """What one step found: the frame's tracked people (`poses`, parallel to `people`) and how long it took."""

    index: int
    time_s: float
    poses: Poses
    people: list[LivePerson]
    seconds: float

    def annotations(self) -> FrameAnnotations:
        """The renderer's input for this frame (the same annotators draw the annotated video)."""
        probs = np.array([person.probs for person in self.people], dtype=np.float32).reshape(-1, NUM_CLASSES)
        return FrameAnnotations(poses=self.poses, labels=[person.label for person in self.people],
                                confidence=np.array([person.confidence for person in self.people], dtype=np.float32),
                                probs=probs)


@dataclass
class _PersonSamples:
    """One person's last HISTORY samples at the classifier's rate, built one video frame at a time.

    `origin_s` is the time of the person's first frame, the zero of their sample clock (as in the timeline,
    where a track starts at its first detection). `probs` is the prediction on show: the window ending at
    the newest sample, or None when that window does not qualify.
    """

    origin_s: float
    keypoints: np.ndarray = field(default_factory=lambda: np.zeros((0, NUM_JOINTS, 3), dtype=np.float32))
    detected: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    count: int = 0  # samples made since the person's first frame
    last_frame: tuple[float, np.ndarray, bool] | None = None
    last_seen_s: float = 0.0
    probs: np.ndarray | None = None

    def add_frame(self, time_s: float, keypoints: np.ndarray, detected: bool, by_time: bool) -> bool:
        """Take the person's next video frame (zeros when not detected); True if it made new samples."""
        if detected:
            self.last_seen_s = time_s
        if not by_time:
            self._push(keypoints[None], np.array([detected]))
            return True
        wanted = int(last_sample_index(time_s - self.origin_s)) + 1
        if wanted <= self.count:
            self.last_frame = (time_s, keypoints, detected)
            return False
        indices = np.arange(self.count, wanted)
        samples = self.origin_s + indices / CLASSIFIER_FPS
        values = np.repeat(keypoints[None], len(indices), axis=0)
        flags = np.full(len(indices), detected)
        if self.last_frame is not None:
            # Samples before this frame lie between it and the previous frame (to_classifier_rate's rule);
            # a sample on this frame's time takes the frame itself.
            before_s, before, was_detected = self.last_frame
            between = samples + SAMPLE_EPSILON_S < time_s
            weight = frame_weights(samples[between], before_s, time_s)
            count = int(between.sum())
            values[between] = blend_frames(np.repeat(before[None], count, axis=0), values[between], weight)
            flags[between] = np.where(weight <= 0.5, was_detected, detected)
        self.last_frame = (time_s, keypoints, detected)
        self._push(values, flags)
        return True

    def _push(self, keypoints: np.ndarray, detected: np.ndarray) -> None:
        self.keypoints = np.concatenate([self.keypoints, keypoints])[-HISTORY:]
        self.detected = np.concatenate([self.detected, detected])[-HISTORY:]
        self.count += len(detected)

    def window(self) -> np.ndarray | None:
        """The (32, 17, 3) window ending at the newest sample, gaps bridged, if it gets a prediction.

        The timeline's rules, known causally: a full window exists, the newest sample saw the person, and
        the person was seen in at least a third of the window's samples.
        """
        if self.count < WINDOW or not self.detected[-1] or self.detected[-WINDOW:].sum() < _MIN_SEEN:
            return None
        return fill_short_gaps(self.keypoints)[-WINDOW:]


class LiveRecognizer:
    """The causal step, holding the models and each person's recent samples; one instance per stream.

    Not thread safe: one thread steps it (the live page's frame worker, or a loop over a file).

    Args:
        settings: pose model, threshold, frame timing.
        backend: a loaded pose backend to use instead of `create_pose_backend(settings.backend, ...)`.
        classifier: a loaded classifier (anything with `predict`) instead of the shipped checkpoint.
        annotators: what `annotate` draws; the annotated video's annotators by default.
    """

    def __init__(self, settings: LiveSettings | None = None, backend: PoseBackend | None = None,
                 classifier: Predictor | None = None, annotators: list[Annotator] | None = None) -> None:
        self.settings = settings or LiveSettings()
        if not 0.0 <= self.settings.threshold <= 1.0:
            raise HarError(f"The uncertainty threshold must be between 0 and 1, not {self.settings.threshold}.")
        if self.settings.fps is not None and not self.settings.fps > 0:
            raise HarError(f"The frame rate must be positive (or None to go by timestamps), not {self.settings.fps}.")
        torch.set_num_threads(self.settings.torch_threads)
        self.backend = backend or self._load_backend()
        self.classifier = classifier or ActionClassifier.load(self.settings.model, device=self.settings.device)
        self.annotators = annotators if annotators is not None else default_annotators()
        fps = self.settings.fps
        self._by_time = fps is None or not at_classifier_rate(np.array([0.0, 1.0 / fps]))
        self._tracker = PoseTracker(fps=fps or CLASSIFIER_FPS)
        # After this long unseen the tracker can no longer give a person's id back, so their samples go.
        self.forget_after_s = max(self._tracker.reentry_seconds, self._tracker.lost_seconds)
        self._people: dict[int, _PersonSamples] = {}
        self._index = 0

    def _load_backend(self) -> PoseBackend:
        options = ({"num_threads": self.settings.pose_threads, "runtime": self.settings.pose_runtime}
                   if self.settings.backend == "movenet" else {})
        return create_pose_backend(self.settings.backend, input_size=self.settings.input_size,
                                   device=self.settings.device, **options)

    def step(self, image: np.ndarray, time_s: float) -> LiveResult:
        """Process the next frame (RGB uint8, times increasing) and return its people and labels."""
        started = time.perf_counter()
        found = self.backend([image])[0]
        tracked = self._tracker.update(found, self._index, time_s)
        self._advance(tracked, time_s)
        people = [self._person(int(person_id)) for person_id in tracked.track_ids]
        result = LiveResult(self._index, time_s, tracked, people, time.perf_counter() - started)
        self._index += 1
        return result

    def run(self, frames: Iterable[Frame]) -> Iterator[LiveResult]:
        """Step through any frame iterator (e.g. `iter_frames(path)`), one result per frame."""
        for frame in frames:
            yield self.step(frame.image, frame.time_s)

    def annotate(self, image: np.ndarray, result: LiveResult) -> np.ndarray:
        """Draw the step's result onto `image` in place (skeletons, ids, labels, class bars)."""
        return annotate_frame(image, result.annotations(), self.annotators)

    @property
    def people_tracked(self) -> int:
        """People whose samples are kept (on screen now, or gone for less than the re-entry time)."""
        return len(self._people)

    def _advance(self, tracked: Poses, time_s: float) -> None:
        """Give every known person this frame's sample(s), classify the windows that changed, forget the long gone."""
        rows = {int(person_id): row for row, person_id in enumerate(tracked.track_ids)}
        for person_id in rows:
            self._people.setdefault(person_id, _PersonSamples(origin_s=time_s, last_seen_s=time_s))
        changed: list[_PersonSamples] = []
        for person_id, person in list(self._people.items()):
            row = rows.get(person_id)
            if row is None and time_s - person.last_seen_s > self.forget_after_s:
                del self._people[person_id]  # the tracker can no longer give this id back
                continue
            keypoints = tracked.keypoints[row] if row is not None else np.zeros((NUM_JOINTS, 3), dtype=np.float32)
            if person.add_frame(time_s, keypoints, row is not None, self._by_time):
                changed.append(person)
        windows = [(person, person.window()) for person in changed]
        for person, _ in windows:
            person.probs = None
        ready = [(person, window) for person, window in windows if window is not None]
        if ready:
            probs = self.classifier.predict(features_for_windows(np.stack([window for _, window in ready])))
            for (person, _), person_probs in zip(ready, np.asarray(probs, dtype=np.float32), strict=True):
                person.probs = person_probs

    def _person(self, person_id: int) -> LivePerson:
        """The label on show for a person in this frame (the timeline's labelling, without smoothing)."""
        probs = self._people[person_id].probs
        if probs is None:
            return LivePerson(person_id, WARMING_UP, float("nan"), _NO_PROBS)
        confidence = float(probs.max())
        label = CLASSES[int(np.argmax(probs))] if confidence >= self.settings.threshold else UNCERTAIN
        return LivePerson(person_id, label, confidence, probs)
