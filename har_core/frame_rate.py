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
# A sample time is taken as at or after a frame once within this many seconds of it (float rounding).
SAMPLE_EPSILON_S = 1e-9


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
    before = np.clip(np.searchsorted(times, samples + SAMPLE_EPSILON_S, side="right") - 1, 0, n - 2)
    weight = frame_weights(samples, times[before], times[before + 1])
    nearest = np.where(weight <= 0.5, before, before + 1)
    out = blend_frames(keypoints[before], keypoints[before + 1], weight, threshold)
    shown = np.clip(last_sample_index(times - times[0]), 0, len(samples) - 1)
    return RateConverted(out, nearest, shown)


def last_sample_index(elapsed_s: np.ndarray | float) -> np.ndarray:
    """The index of the last classifier-rate sample at or before `elapsed_s` seconds after a track's first frame."""
    return np.floor(np.asarray(elapsed_s) * CLASSIFIER_FPS + _SNAP).astype(np.int64)


def frame_weights(samples: np.ndarray, before_s: np.ndarray | float, after_s: np.ndarray | float) -> np.ndarray:
    """How far each sample time lies from the frame before it (0) to the frame after it (1), snapped.

    Weights within `_SNAP` of 0 or 1 become exactly 0 or 1, so a sample that falls on a frame takes that
    frame unchanged instead of an interpolation rounded differently.
    """
    step = np.asarray(after_s, dtype=np.float64) - before_s
    weight = np.clip((samples - before_s) / np.where(step > 0, step, 1.0), 0.0, 1.0)
    return np.where(weight < _SNAP, 0.0, np.where(weight > 1 - _SNAP, 1.0, weight))


def blend_frames(first: np.ndarray, second: np.ndarray, weight: np.ndarray,
                 threshold: float = KEYPOINT_THRESHOLD) -> np.ndarray:
    """Keypoints (K, 17, 3) a share `weight` (K,) of the way from `first` to `second` (both (K, 17, 3)).

    Joints seen in both frames are interpolated; others take the nearer frame's value, so a joint missed
    in one frame never gets coordinates halfway to the origin. The one rule for the offline conversion
    above and the live step (`har_core.live`), which meets its frames one at a time.
    """
    both_seen = (first[..., 2] >= threshold) & (second[..., 2] >= threshold)
    w = weight[:, None, None].astype(np.float32)
    blended = first + (second - first) * w
    nearer = np.where((weight <= 0.5)[:, None, None], first, second)
    return np.where(both_seen[..., None], blended, nearer).astype(np.float32)
