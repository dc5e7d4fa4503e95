"""Per-person action timelines: every frame of every tracked person gets class probabilities and a label.

Windowing rules (documented in docs/outputs.md, tested in tests/test_timeline.py):

- A person's track runs from the first to the last frame they were detected in. The classifier reads it
  at 30 frames a second (``frame_rate.to_classifier_rate``; tracks of 29.3-30.8 fps video are read as they
  are): window i covers samples i .. i+31 and its prediction belongs to the last of them (causal, as in
  training). Each video frame shows the prediction of the last sample at or before its time, so the first
  31 samples (about a second) of a track have no prediction: label ``NO_WINDOW``.
- A window gets a prediction only when its last sample is *usable* (the person was detected there, or it
  lies inside a gap of at most ``features.MAX_GAP_FRAMES`` samples that the feature function bridges) and
  the person was detected in at least a third of its 32 samples. Below that the window is mostly padding
  and the model would be guessing. (A sample counts as detected when the video frame nearest it was.)
- Frames without a prediction are ``ABSENT`` where the person was not detected and ``NO_WINDOW`` where
  they were (not enough history yet, or too sparse a window).
- Smoothing is a *centred* moving average over frames that have predictions (frames without one are
  skipped, never filled), so a label does not flicker on a single noisy window; it looks
  ``smoothing // 2`` frames ahead, which is fine for offline analysis.
- The label is the top class, or ``UNCERTAIN`` when its (smoothed) probability is below the threshold.

Segments are runs of one label over consecutive predicted frames (``NO_WINDOW``/``ABSENT`` frames end a
segment). Runs shorter than ``min_segment_frames`` are merged into the longer neighbouring run of the
same stretch (shortest first), because a 3-frame blip between two long runs is noise, not an action. The
per-frame labels in frames.csv are not rewritten by this merging.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from har_core.features import MAX_GAP_FRAMES, WINDOW, features_for_windows, fill_short_gaps, sliding_windows
from har_core.frame_rate import RateConverted, to_classifier_rate
from har_core.poses import Poses
from har_core.skeleton import CLASSES, NUM_CLASSES, NUM_JOINTS, UNCERTAIN

NO_WINDOW = "NO_WINDOW"
ABSENT = "ABSENT"
MIN_SEEN_FRACTION = 1.0 / 3.0


class Predictor(Protocol):
    """What the timeline needs from the classifier: features (N, 32, 51) -> probabilities (N, 7)."""

    def predict(self, features: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True)
class TimelineSettings:
    """How raw window predictions become labels and segments."""

    threshold: float = 0.5  # top probability below this -> UNCERTAIN
    smoothing: int = 5  # centred moving-average length in frames; 0 or 1 = off
    min_segment_frames: int = 8  # shorter runs are merged into a neighbour (~0.25 s at 30 fps)
    batch_windows: int = 4096  # windows per classifier call; bounds feature memory on long videos


@dataclass
class PersonTrack:
    """One person's keypoints from their first to their last detection.

    Attributes:
        person_id: the tracker's id.
        first_frame: video frame index of keypoints[0].
        keypoints: (n, 17, 3) float32; all zeros on frames where the person was not detected.
        detected: (n,) bool, whether the person was detected on each frame of the span.
    """

    person_id: int
    first_frame: int
    keypoints: np.ndarray
    detected: np.ndarray

    @property
    def last_frame(self) -> int:
        return self.first_frame + len(self.keypoints) - 1


@dataclass
class Segment:
    """A run of one label for one person; frames are inclusive, end_s is when the last frame ends."""

    person_id: int
    label: str
    start_frame: int
    end_frame: int
    start_s: float
    end_s: float
    mean_confidence: float

    @property
    def n_frames(self) -> int:
        return self.end_frame - self.start_frame + 1


@dataclass
class PersonTimeline:
    """Per-frame results for one person over the whole video (T frames).

    Attributes:
        probs: (T, 7) float32 class probabilities after smoothing; NaN where there is no prediction.
        confidence: (T,) float32 top probability; NaN where there is no prediction.
        labels: (T,) str: a class name, UNCERTAIN, NO_WINDOW or ABSENT.
        detected: (T,) bool.
    """

    person_id: int
    probs: np.ndarray
    confidence: np.ndarray
    labels: np.ndarray
    detected: np.ndarray
    segments: list[Segment] = field(default_factory=list)

    @property
    def frames_present(self) -> int:
        return int(self.detected.sum())


class PoseLog:
    """Every frame's tracked poses in a few flat growable arrays.

    Both pipeline passes need the poses (timeline in pass 1, drawing in pass 2) but not the frames, so
    this keeps only keypoints, boxes, scores and ids: memory grows with detections, not pixels, and
    without one Python object per frame.
    """

    def __init__(self) -> None:
        self._size = 0
        self._keypoints = np.zeros((256, NUM_JOINTS, 3), dtype=np.float32)
        self._boxes = np.zeros((256, 4), dtype=np.float32)
        self._scores = np.zeros(256, dtype=np.float32)
        self._ids = np.zeros(256, dtype=np.int64)
        self._frame_starts: list[int] = [0]

    @property
    def n_frames(self) -> int:
        return len(self._frame_starts) - 1

    def append(self, poses: Poses) -> None:
        """Record the next frame's people (tracked: track_ids set)."""
        n = len(poses)
        if self._size + n > len(self._ids):
            self._grow(max(2 * len(self._ids), self._size + n))
        end = self._size + n
        self._keypoints[self._size : end] = poses.keypoints
        self._boxes[self._size : end] = poses.boxes
        self._scores[self._size : end] = poses.scores
        self._ids[self._size : end] = poses.track_ids
        self._size = end
        self._frame_starts.append(end)

    def _grow(self, capacity: int) -> None:
        def grown(array: np.ndarray) -> np.ndarray:
            bigger = np.zeros((capacity, *array.shape[1:]), dtype=array.dtype)
            bigger[: self._size] = array[: self._size]
            return bigger

        self._keypoints, self._boxes = grown(self._keypoints), grown(self._boxes)
        self._scores, self._ids = grown(self._scores), grown(self._ids)

    def poses_at(self, frame: int) -> Poses:
        """The tracked people of one frame."""
        s, e = self._frame_starts[frame], self._frame_starts[frame + 1]
        return Poses(self._keypoints[s:e], self._boxes[s:e], self._scores[s:e], self._ids[s:e].copy())

    def person_ids(self) -> list[int]:
        """Tracked ids (>= 0) in order of first appearance."""
        ids = self._ids[: self._size]
        unique, first = np.unique(ids, return_index=True)
        order = np.argsort(first)
        return [int(i) for i in unique[order] if i >= 0]

    def tracks(self, keep: set[int] | None = None) -> list[PersonTrack]:
        """One PersonTrack per tracked id (optionally only those in `keep`), in order of first appearance."""
        ids = self._ids[: self._size]
        frames = np.repeat(np.arange(self.n_frames), np.diff(self._frame_starts))
        result = []
        for person_id in self.person_ids():
            if keep is not None and person_id not in keep:
                continue
            rows = np.flatnonzero(ids == person_id)
            person_frames = frames[rows]
            first, last = int(person_frames[0]), int(person_frames[-1])
            keypoints = np.zeros((last - first + 1, NUM_JOINTS, 3), dtype=np.float32)
            keypoints[person_frames - first] = self._keypoints[rows]
            detected = np.zeros(last - first + 1, dtype=bool)
            detected[person_frames - first] = True
            result.append(PersonTrack(person_id, first, keypoints, detected))
        return result


def usable_frames(detected: np.ndarray, max_gap: int = MAX_GAP_FRAMES) -> np.ndarray:
    """Detected frames plus undetected ones inside a gap of at most `max_gap` between two detections.

    These are exactly the frames the feature function bridges by interpolation.
    """
    seen = np.flatnonzero(detected)
    gap = np.diff(seen) - 1
    bridged = (gap > 0) & (gap <= max_gap)
    marks = np.zeros(len(detected) + 1, dtype=np.int32)
    np.add.at(marks, seen[:-1][bridged] + 1, 1)
    np.add.at(marks, seen[1:][bridged], -1)
    usable = detected | (np.cumsum(marks)[:-1] > 0)
    return usable


def qualifying_windows(detected: np.ndarray, window: int = WINDOW) -> np.ndarray:
    """Indices of the windows of one track that get a prediction (rules in the module docstring)."""
    n_windows = len(detected) - window + 1
    if n_windows <= 0:
        return np.zeros(0, dtype=np.int64)
    counts = np.convolve(detected.astype(np.int32), np.ones(window, dtype=np.int32), mode="valid")
    end_usable = usable_frames(detected)[window - 1 :]
    return np.flatnonzero(end_usable & (counts >= np.ceil(MIN_SEEN_FRACTION * window)))


def track_windows(sampled: PersonTrack) -> tuple[np.ndarray, np.ndarray]:
    """The windows of one track (at the classifier's rate) that get a prediction, as the classifier cuts them.

    Returns:
        indices (N,) of the qualifying windows (window i ends at sample i + 31), and a view of every stride-1
        window of the gap-filled track (index it with `indices`; nothing is copied here).
    """
    indices = qualifying_windows(sampled.detected)
    if len(indices) == 0:
        return indices, np.zeros((0, WINDOW, NUM_JOINTS, 3), dtype=np.float32)
    return indices, sliding_windows(fill_short_gaps(sampled.keypoints))


def sampled_track(track: PersonTrack, times: np.ndarray) -> tuple[PersonTrack, RateConverted]:
    """One video-frame track sampled at the classifier's rate (`times`: the whole video's frame times).

    The sampled track starts at sample 0; `RateConverted.shown` maps its samples back to the track's frames.
    """
    rate = to_classifier_rate(track.keypoints, times[track.first_frame : track.last_frame + 1])
    return PersonTrack(track.person_id, 0, rate.keypoints, track.detected[rate.nearest]), rate


def _window_batches(
    tracks: list[PersonTrack], batch: int
) -> Iterator[tuple[list[tuple[int, np.ndarray]], np.ndarray]]:
    """Yield ([(track index, window indices)], raw windows (N, 32, 17, 3)) with N <= batch, across people.

    Uses the same composition as `features.track_features` (gap filling on the whole track, then stride-1
    windows), but only for the windows that qualify and a batch at a time, so feature memory stays
    bounded on long videos.
    """
    parts: list[tuple[int, np.ndarray]] = []
    raws: list[np.ndarray] = []
    size = 0
    for t, track in enumerate(tracks):
        indices, windows = track_windows(track)
        if len(indices) == 0:
            continue
        while len(indices):
            take, indices = indices[: batch - size], indices[batch - size :]
            parts.append((t, take))
            raws.append(windows[take])
            size += len(take)
            if size == batch:
                yield parts, np.concatenate(raws)
                parts, raws, size = [], [], 0
    if parts:
        yield parts, np.concatenate(raws)


def smooth_probabilities(probs: np.ndarray, length: int) -> np.ndarray:
    """Centred moving average over frames that have a prediction (rows without one stay NaN).

    For an even `length` the window reaches one frame further back than ahead.
    """
    if length <= 1:
        return probs.copy()
    has = ~np.isnan(probs[:, 0])
    values = np.where(has[:, None], probs, 0.0).astype(np.float64)
    sums = np.concatenate([np.zeros((1, probs.shape[1])), np.cumsum(values, axis=0)])
    counts = np.concatenate([[0], np.cumsum(has)])
    n = len(probs)
    lo = np.clip(np.arange(n) - length // 2, 0, n)
    hi = np.clip(np.arange(n) + (length - 1) // 2 + 1, 0, n)
    window_counts = counts[hi] - counts[lo]
    out = (sums[hi] - sums[lo]) / np.maximum(window_counts, 1)[:, None]
    return np.where(has[:, None], out, np.nan).astype(np.float32)


def label_frames(probs: np.ndarray, detected: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """Labels (T,) str and confidence (T,) from per-frame probabilities (NaN rows = no prediction)."""
    has = ~np.isnan(probs[:, 0])
    confidence = np.full(len(probs), np.nan, dtype=np.float32)
    labels = np.where(detected, NO_WINDOW, ABSENT).astype(object)
    if has.any():
        top = np.argmax(probs[has], axis=1)
        confidence[has] = probs[has].max(axis=1)
        names = np.asarray(CLASSES, dtype=object)[top]
        labels[has] = np.where(confidence[has] >= threshold, names, UNCERTAIN)
    return labels.astype(str), confidence


def _runs(values: np.ndarray) -> list[list]:
    """[value, start, end] for each run of equal values (end inclusive)."""
    if len(values) == 0:
        return []
    change = np.flatnonzero(values[1:] != values[:-1]) + 1
    starts = np.concatenate([[0], change])
    ends = np.concatenate([change - 1, [len(values) - 1]])
    return [[values[s].item(), int(s), int(e)] for s, e in zip(starts, ends, strict=True)]


def _merge_short_runs(runs: list[list], min_length: int) -> list[list]:
    """Merge runs shorter than min_length into the longer adjacent run, shortest first, within one stretch."""
    runs = [run[:] for run in runs]
    while len(runs) > 1:
        lengths = [e - s + 1 for _, s, e in runs]
        i = int(np.argmin(lengths))
        if lengths[i] >= min_length:
            break
        prev_len = lengths[i - 1] if i > 0 else -1
        next_len = lengths[i + 1] if i + 1 < len(runs) else -1
        j = i - 1 if prev_len >= next_len else i + 1
        runs[j] = [runs[j][0], min(runs[i][1], runs[j][1]), max(runs[i][2], runs[j][2])]
        del runs[i]
        # Neighbours that now carry the same label become one run.
        merged: list[list] = []
        for run in runs:
            if merged and merged[-1][0] == run[0]:
                merged[-1][2] = run[2]
            else:
                merged.append(run)
        runs = merged
    return runs


def build_segments(
    person_id: int,
    labels: np.ndarray,
    probs: np.ndarray,
    times: np.ndarray,
    min_segment_frames: int,
) -> list[Segment]:
    """Action segments of one person from per-frame labels (rules in the module docstring).

    Args:
        labels: (T,) str per frame; probs: (T, 7) with NaN rows where there is no prediction;
        times: (T,) seconds at which each frame starts.
    """
    predicted = np.isin(labels, (*CLASSES, UNCERTAIN))
    segments = []
    for _, start, end in (run for run in _runs(predicted) if run[0]):
        for label, s, e in _merge_short_runs(_runs(labels[start : end + 1]), min_segment_frames):
            s, e = s + start, e + start
            if label == UNCERTAIN:
                conf = float(np.max(probs[s : e + 1], axis=1).mean())
            else:
                conf = float(probs[s : e + 1, CLASSES.index(label)].mean())
            segments.append(Segment(person_id, label, s, e, float(times[s]), _frame_end(times, e), round(conf, 4)))
    return segments


def _frame_end(times: np.ndarray, frame: int) -> float:
    """When a frame stops showing: the next frame's time, or for the last frame its time plus a typical step."""
    if frame + 1 < len(times):
        return float(times[frame + 1])
    step = float(np.median(np.diff(times))) if len(times) > 1 else 0.0
    return float(times[frame]) + step


def compute_timelines(
    tracks: list[PersonTrack],
    times: np.ndarray,
    classifier: Predictor,
    settings: TimelineSettings = TimelineSettings(),
) -> list[PersonTimeline]:
    """Classify every qualifying window of every person (batched across people) and build timelines.

    Args:
        tracks: the tracked people; frame indices refer to the video (0 .. T-1).
        times: (T,) seconds at which each video frame starts; they set how tracks are sampled at the
            classifier's frame rate.
        classifier: anything with `predict(features (N, 32, 51)) -> (N, 7)`.
    """
    n_frames = len(times)
    # The classifier reads the tracks at its own frame rate; `converted[t].shown` maps the results back.
    pairs = [sampled_track(track, times) for track in tracks]
    sampled, converted = [pair[0] for pair in pairs], [pair[1] for pair in pairs]
    raw = [np.full((len(track.keypoints), NUM_CLASSES), np.nan, dtype=np.float32) for track in sampled]
    for parts, windows in _window_batches(sampled, settings.batch_windows):
        probs = np.asarray(classifier.predict(features_for_windows(windows)), dtype=np.float32)
        offset = 0
        for t, indices in parts:
            raw[t][indices + WINDOW - 1] = probs[offset : offset + len(indices)]
            offset += len(indices)
    timelines = []
    for track, rate, sample_probs in zip(tracks, converted, raw, strict=True):
        person_probs = np.full((n_frames, NUM_CLASSES), np.nan, dtype=np.float32)
        person_probs[track.first_frame : track.last_frame + 1] = sample_probs[rate.shown]
        detected = np.zeros(n_frames, dtype=bool)
        detected[track.first_frame : track.last_frame + 1] = track.detected
        smoothed = smooth_probabilities(person_probs, settings.smoothing)
        labels, confidence = label_frames(smoothed, detected, settings.threshold)
        segments = build_segments(track.person_id, labels, smoothed, times, settings.min_segment_frames)
        timelines.append(PersonTimeline(track.person_id, smoothed, confidence, labels, detected, segments))
    return timelines
