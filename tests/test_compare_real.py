"""compare_real's checkpoint check: window shares per clip, read as the pipeline reads a track, with jitter."""

from __future__ import annotations

import numpy as np

from har_core.features import WINDOW
from har_core.skeleton import CLASS_INDEX, CLASSES
from models.synth.compare_real import window_accuracy
from models.synth.dataset import film
from models.synth.procedural import random_clip


class FixedAnswer:
    """Stands in for ActionClassifier: always answers `label`, and keeps the features it was given."""

    def __init__(self, label: str) -> None:
        self.label = CLASS_INDEX[label]
        self.seen: list[np.ndarray] = []

    def predict(self, features: np.ndarray) -> np.ndarray:
        self.seen.append(features)
        return np.eye(len(CLASSES), dtype=np.float32)[np.full(len(features), self.label)]


def clapping_track() -> np.ndarray:
    """3 s of a filmed clapping clip as keypoints at 30 samples a second."""
    rng = np.random.default_rng(0)
    motion = random_clip(rng, CLASS_INDEX["CLAPPING_HANDS"], 30.0, 3.0, lead_in=False, lead_out=False)
    return film(motion, rng, fps=30.0)[0]


def test_shares_follow_the_answers_and_windows_are_read_at_the_classifier_rate() -> None:
    keypoints = clapping_track()
    doubled = np.repeat(keypoints, 2, axis=0)  # the same track as a 60 fps video would give it
    tracks = {"CLAPPING_HANDS": (doubled, 60.0)}
    right, wrong = FixedAnswer("CLAPPING_HANDS"), FixedAnswer("BOXING")
    assert window_accuracy(right, tracks) == {"CLAPPING_HANDS": 1.0}
    assert window_accuracy(wrong, tracks) == {"CLAPPING_HANDS": 0.0}
    assert right.seen[0].shape == (len(keypoints) - WINDOW + 1, WINDOW, 51)  # every other frame is read


def test_jitter_moves_the_keypoints_and_zero_jitter_does_not() -> None:
    tracks = {"CLAPPING_HANDS": (clapping_track(), 30.0)}
    spy = FixedAnswer("CLAPPING_HANDS")
    window_accuracy(spy, tracks)
    window_accuracy(spy, tracks)
    window_accuracy(spy, tracks, jitter=0.006)
    np.testing.assert_array_equal(spy.seen[0], spy.seen[1])
    moved = np.abs(spy.seen[2][..., :34] - spy.seen[0][..., :34])
    assert 0.001 < np.median(moved[moved > 0]) < 0.05  # a few thousandths of body height, not more
