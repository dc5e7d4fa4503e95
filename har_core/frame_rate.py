"""Keypoint tracks at the classifier's frame rate, so that a window always lasts 32/30 s.

The classifier reads 32-frame windows. If a window were 32 video frames, it would span 0.53 s of a 60 fps
clip and 1.3 s of a 25 fps one, so the network would have to recognise every action at every tempo the
frame rate can fake: a slow overhead stretch filmed at 15 fps moves as fast per frame as a two-hand wave
at 30 fps. Training data and the pipeline therefore both pass every track through `to_classifier_rate`,
which samples it at CLASSIFIER_FPS by time, so a window always covers the same 1.07 s.

Tracks already at about 30 fps (within RATE_TOLERANCE, which covers 29.97 and the 29.6 fps of some
webcams) are left exactly as they are: resampling would only blur them. Elsewhere each joint is
interpolated linearly between the two video frames around the sample time when both saw it; otherwise the
nearer frame's value is taken, so a missed joint never gets coordinates halfway to the origin.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from har_core.features import KEYPOINT_THRESHOLD

CLASSIFIER_FPS = 30.0
RATE_TOLERANCE = 0.025
# Sample times this close to a video frame (as a share of the frame step) take that frame unchanged.
_SNAP = 1e-3


@dataclass(frozen=True)
class RateConverted:
    """A track sampled at CLASSIFIER_FPS.

    Attributes:
        keypoints: (K, 17, 3) float32 keypoints at the classifier's rate.
        nearest: (K,) int, the video frame nearest each sample (for per-frame values such as labels or
            whether the person was detected).
        shown: (T,) int, for each video frame the sample on show when it starts: the last sample at or before
            its time, so a video frame never receives a prediction from the future.
    """

    keypoints: np.ndarray
    nearest: np.ndarray
    shown: np.ndarray


def at_classifier_rate(times: np.ndarray) -> bool:
    """Whether frames at `times` (seconds, increasing) are already close enough to 1/CLASSIFIER_FPS apart."""
    if len(times) < 2:
        return True
    step = float(np.median(np.diff(times)))
    return abs(step * CLASSIFIER_FPS - 1.0) <= RATE_TOLERANCE


def sample_count(times: np.ndarray) -> int:
    """How many classifier-rate samples a track with frames at `times` has."""
    return len(times) if at_classifier_rate(times) else _samples_in_span(times)


def sample_times(times: np.ndarray) -> np.ndarray:
    """When each classifier-rate sample of a track with frames at `times` is taken (seconds).

    The frames' own times for a track already at the classifier's rate, else every 1/CLASSIFIER_FPS from
    the first frame, exactly the samples `to_classifier_rate` produces; labels given in seconds (a user's
    corrections) find their windows through these.
    """
    times = np.asarray(times, dtype=np.float64)
    if len(times) == 0 or at_classifier_rate(times):
        return times.copy()
    return times[0] + np.arange(_samples_in_span(times)) / CLASSIFIER_FPS


def _samples_in_span(times: np.ndarray) -> int:
    """Samples 1/CLASSIFIER_FPS apart from the first frame's time up to the last one's."""
    return int(np.floor((times[-1] - times[0]) * CLASSIFIER_FPS + _SNAP)) + 1


def to_classifier_rate(
    keypoints: np.ndarray, times: np.ndarray, threshold: float = KEYPOINT_THRESHOLD
) -> RateConverted:
    """Sample one person's (T, 17, 3) keypoints, taken at video times `times` (T,), at CLASSIFIER_FPS.

    Args:
        keypoints: pixels and scores; frames where the person was not seen hold zeros.
        times: (T,) increasing seconds of each frame (variable frame rates are fine).
        threshold: joints scoring below this are not interpolated from.
    """
    keypoints = np.asarray(keypoints, dtype=np.float32)
    times = np.asarray(times, dtype=np.float64)
    n = len(times)
    if len(keypoints) != n:
        raise ValueError(f"{len(keypoints)} keypoint frames but {n} frame times")
    if n == 0 or at_classifier_rate(times):
        frames = np.arange(n)
        return RateConverted(keypoints, frames, frames)
    samples = times[0] + np.arange(_samples_in_span(times)) / CLASSIFIER_FPS
    before = np.clip(np.searchsorted(times, samples + 1e-9, side="right") - 1, 0, n - 2)
    step = times[before + 1] - times[before]
    weight = np.clip((samples - times[before]) / np.where(step > 0, step, 1.0), 0.0, 1.0)
    weight = np.where(weight < _SNAP, 0.0, np.where(weight > 1 - _SNAP, 1.0, weight))
    nearest = np.where(weight <= 0.5, before, before + 1)
    first, second = keypoints[before], keypoints[before + 1]
    both_seen = (first[..., 2] >= threshold) & (second[..., 2] >= threshold)
    w = weight[:, None, None].astype(np.float32)
    blended = first + (second - first) * w
    out = np.where(both_seen[..., None], blended, keypoints[nearest])
    shown = np.clip(np.floor((times - times[0]) * CLASSIFIER_FPS + _SNAP).astype(np.int64), 0, len(samples) - 1)
    return RateConverted(out.astype(np.float32), nearest, shown)
