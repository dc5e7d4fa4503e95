"""Timelines: windowing, absence, batching, smoothing, the uncertain label and segment building."""

from __future__ import annotations

import numpy as np
import pytest

from har_core.features import WINDOW, track_features
from har_core.poses import Poses
from har_core.skeleton import CLASSES, NUM_CLASSES, NUM_JOINTS, UNCERTAIN
from har_core.timeline import (
    ABSENT,
    NO_WINDOW,
    PersonTrack,
    PoseLog,
    TimelineSettings,
    build_segments,
    compute_timelines,
    qualifying_windows,
    smooth_probabilities,
    usable_frames,
)

FPS = 30.0


def person_keypoints(n_frames: int, x: float, rng: np.random.Generator) -> np.ndarray:
    """A jittering upright skeleton around horizontal position x (pixels), all joints seen."""
    kp = np.zeros((n_frames, NUM_JOINTS, 3), dtype=np.float32)
    kp[:, :, 0] = x + rng.normal(0, 20, (1, NUM_JOINTS)) + rng.normal(0, 1, (n_frames, NUM_JOINTS))
    kp[:, :, 1] = 240 + np.linspace(-150, 150, NUM_JOINTS) + rng.normal(0, 1, (n_frames, NUM_JOINTS))
    kp[:, :, 2] = 0.9
    return kp


class RecordingPredictor:
    """Stands in for the classifier: remembers batch sizes and returns fixed probabilities."""

    def __init__(self, probs: np.ndarray | None = None) -> None:
        self.calls: list[int] = []
        self.probs = probs if probs is not None else np.eye(NUM_CLASSES, dtype=np.float32)[1]
        self.features: list[np.ndarray] = []

    def predict(self, features: np.ndarray) -> np.ndarray:
        self.calls.append(len(features))
        self.features.append(features)
        return np.tile(self.probs, (len(features), 1))


def track(person_id: int, keypoints: np.ndarray, detected: np.ndarray, first_frame: int = 0) -> PersonTrack:
    kp = keypoints.copy()
    kp[~detected] = 0.0
    return PersonTrack(person_id, first_frame, kp, detected)


def times_for(n_frames: int) -> np.ndarray:
    return np.arange(n_frames) / FPS


def test_first_31_frames_have_no_window_and_every_later_frame_a_prediction() -> None:
    rng = np.random.default_rng(0)
    n = 100
    person = track(3, person_keypoints(n, 320, rng), np.ones(n, dtype=bool))
    predictor = RecordingPredictor()
    (timeline,) = compute_timelines([person], times_for(n), predictor, TimelineSettings(smoothing=0))
    assert sum(predictor.calls) == n - WINDOW + 1
    assert (timeline.labels[: WINDOW - 1] == NO_WINDOW).all()
    assert np.isnan(timeline.probs[: WINDOW - 1]).all()
    assert (timeline.labels[WINDOW - 1 :] == CLASSES[1]).all()
    np.testing.assert_allclose(timeline.confidence[WINDOW - 1 :], 1.0)
    assert timeline.person_id == 3 and timeline.frames_present == n


def test_features_are_exactly_those_of_track_features() -> None:
    rng = np.random.default_rng(1)
    n = 80
    detected = np.ones(n, dtype=bool)
    detected[[40, 41, 60]] = False  # short gaps the feature function bridges
    person = track(0, person_keypoints(n, 200, rng), detected)
    predictor = RecordingPredictor()
    compute_timelines([person], times_for(n), predictor, TimelineSettings(batch_windows=16))
    np.testing.assert_array_equal(np.concatenate(predictor.features), track_features(person.keypoints))


def test_windows_of_all_people_are_batched_into_few_calls() -> None:
    rng = np.random.default_rng(2)
    n = 100
    people = [track(i, person_keypoints(n, 100 + 200 * i, rng), np.ones(n, dtype=bool)) for i in range(3)]
    predictor = RecordingPredictor()
    compute_timelines(people, times_for(n), predictor, TimelineSettings(batch_windows=64))
    assert sum(predictor.calls) == 3 * (n - WINDOW + 1)
    assert predictor.calls == [64, 64, 64, 15]


def test_person_absent_for_a_stretch() -> None:
    rng = np.random.default_rng(3)
    n = 200
    detected = np.ones(n, dtype=bool)
    detected[80:130] = False  # gone for 50 frames, then back
    person = track(1, person_keypoints(n, 300, rng), detected)
    (timeline,) = compute_timelines([person], times_for(n), RecordingPredictor(), TimelineSettings(smoothing=0))
    assert (timeline.labels[80:130] == ABSENT).all()
    assert np.isnan(timeline.probs[80:130]).all()
    # After re-entry a window needs a third of its frames (11 of 32) with the person: frames 130..139 have
    # fewer, so they wait for history; from frame 140 on predictions resume.
    assert (timeline.labels[130:140] == NO_WINDOW).all()
    assert (timeline.labels[140:] == CLASSES[1]).all()
    assert (timeline.labels[WINDOW - 1 : 80] == CLASSES[1]).all()
    assert timeline.frames_present == n - 50


def test_track_starting_late_is_absent_before_and_after() -> None:
    rng = np.random.default_rng(4)
    n_video, start, length = 120, 30, 60
    person = track(7, person_keypoints(length, 300, rng), np.ones(length, dtype=bool), first_frame=start)
    (timeline,) = compute_timelines([person], times_for(n_video), RecordingPredictor(), TimelineSettings())
    assert (timeline.labels[:start] == ABSENT).all()
    assert (timeline.labels[start : start + WINDOW - 1] == NO_WINDOW).all()
    assert (timeline.labels[start + WINDOW - 1 : start + length] == CLASSES[1]).all()
    assert (timeline.labels[start + length :] == ABSENT).all()


def test_short_gaps_are_bridged_and_long_ones_are_not() -> None:
    detected = np.array([1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 1], dtype=bool)
    assert usable_frames(detected, max_gap=5).tolist() == [1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 1, 1]


def test_qualifying_windows_need_a_usable_last_frame_and_a_third_of_frames_seen() -> None:
    detected = np.zeros(64, dtype=bool)
    detected[:11] = True
    detected[63] = True
    # Windows 0..10 end on frames 31..41 (not usable, gap of 52 frames); window 32 ends on frame 63 but
    # has only 1 detection in it.
    assert qualifying_windows(detected).tolist() == []
    detected[53:64] = True
    assert qualifying_windows(detected).tolist() == [32]
    assert len(qualifying_windows(np.ones(WINDOW - 1, dtype=bool))) == 0


def test_smoothing_is_a_centred_average_that_skips_frames_without_predictions() -> None:
    probs = np.full((7, 2), np.nan, dtype=np.float32)
    probs[1:6, 0] = [0.0, 0.0, 1.0, 0.0, 0.0]
    probs[1:6, 1] = 1 - probs[1:6, 0]
    smoothed = smooth_probabilities(probs, 3)
    np.testing.assert_allclose(smoothed[1:6, 0], [0.0, 1 / 3, 1 / 3, 1 / 3, 0.0], atol=1e-6)
    assert np.isnan(smoothed[0]).all() and np.isnan(smoothed[6]).all()
    np.testing.assert_allclose(smoothed.sum(axis=1)[1:6], 1.0, atol=1e-6)
    np.testing.assert_array_equal(smooth_probabilities(probs, 1), probs)


def test_low_top_probability_is_uncertain() -> None:
    rng = np.random.default_rng(5)
    n = 40
    probs = np.array([0.45, 0.2, 0.1, 0.1, 0.05, 0.05, 0.05], dtype=np.float32)
    person = track(0, person_keypoints(n, 320, rng), np.ones(n, dtype=bool))
    (strict,) = compute_timelines([person], times_for(n), RecordingPredictor(probs), TimelineSettings(threshold=0.5))
    (loose,) = compute_timelines([person], times_for(n), RecordingPredictor(probs), TimelineSettings(threshold=0.4))
    assert (strict.labels[WINDOW - 1 :] == UNCERTAIN).all()
    assert (loose.labels[WINDOW - 1 :] == CLASSES[0]).all()
    np.testing.assert_allclose(strict.confidence[WINDOW - 1 :], 0.45)


def one_hot_probs(classes: list[int], confidence: float = 0.9) -> np.ndarray:
    rest = (1 - confidence) / (NUM_CLASSES - 1)
    probs = np.full((len(classes), NUM_CLASSES), rest, dtype=np.float32)
    probs[np.arange(len(classes)), classes] = confidence
    return probs


def test_segments_merge_tiny_runs_into_the_longer_neighbour() -> None:
    classes = [0] * 20 + [2] * 3 + [0] * 10 + [1] * 30
    probs = one_hot_probs(classes)
    probs[20:23] = one_hot_probs([2] * 3, confidence=0.6)
    labels = np.array([CLASSES[c] for c in classes])
    times = times_for(len(classes))
    segments = build_segments(4, labels, probs, times, min_segment_frames=8)
    assert [(s.label, s.start_frame, s.end_frame) for s in segments] == [
        (CLASSES[0], 0, 32),
        (CLASSES[1], 33, 62),
    ]
    first = segments[0]
    assert first.person_id == 4 and first.n_frames == 33
    assert first.start_s == 0.0 and first.end_s == pytest.approx(33 / FPS)
    # Mean probability of the segment's own class: 30 frames at 0.9 and 3 merged frames at 0.4/6.
    assert first.mean_confidence == pytest.approx((30 * 0.9 + 3 * 0.4 / 6) / 33, abs=1e-4)
    assert segments[1].end_s == pytest.approx(63 / FPS)


def test_segments_stop_at_frames_without_prediction_and_keep_uncertain_runs() -> None:
    labels = np.array([NO_WINDOW] * 5 + [CLASSES[3]] * 10 + [ABSENT] * 4 + [UNCERTAIN] * 12 + [CLASSES[3]] * 9)
    probs = np.full((len(labels), NUM_CLASSES), np.nan, dtype=np.float32)
    predicted = ~np.isin(labels, [NO_WINDOW, ABSENT])
    probs[predicted] = one_hot_probs([3] * int(predicted.sum()), confidence=0.7)
    probs[19:31] = one_hot_probs([3] * 12, confidence=0.4)
    segments = build_segments(0, labels, probs, times_for(len(labels)), min_segment_frames=8)
    assert [(s.label, s.start_frame, s.end_frame) for s in segments] == [
        (CLASSES[3], 5, 14),
        (UNCERTAIN, 19, 30),
        (CLASSES[3], 31, 39),
    ]
    assert segments[1].mean_confidence == pytest.approx(0.4, abs=1e-4)


def test_pose_log_keeps_frames_and_builds_tracks_with_gaps() -> None:
    rng = np.random.default_rng(6)
    log = PoseLog()
    kp = person_keypoints(1, 100, rng)
    for frame in range(300):  # more rows than the initial capacity: the log must grow
        ids = [5] if frame % 10 else [5, 9]
        if 100 <= frame < 110:
            ids = [9]
        n = len(ids)
        keypoints = np.repeat(kp, n, axis=0) + frame
        log.append(Poses(keypoints, np.zeros((n, 4)), np.full(n, 0.8), np.array(ids)))
    log.append(Poses.empty())
    assert log.n_frames == 301
    assert log.person_ids() == [5, 9]
    at = log.poses_at(20)
    assert at.track_ids.tolist() == [5, 9]
    np.testing.assert_allclose(at.keypoints[0, :, :2], kp[0, :, :2] + 20)
    assert len(log.poses_at(300)) == 0
    five, nine = log.tracks()
    assert (five.person_id, five.first_frame, five.last_frame) == (5, 0, 299)
    assert not five.detected[100:110].any() and five.detected[:100].all()
    assert (five.keypoints[100:110] == 0).all()
    assert (nine.first_frame, nine.last_frame) == (0, 290)
    assert nine.detected.sum() == 30 + 10 - 1  # every tenth frame plus frames 100..109 (100 counted once)
    assert [t.person_id for t in log.tracks(keep={9})] == [9]


def test_a_60_fps_track_is_classified_at_30_fps_and_each_prediction_covers_two_frames() -> None:
    rng = np.random.default_rng(9)
    n = 200
    person = track(0, person_keypoints(n, 250, rng), np.ones(n, dtype=bool))
    predictor = RecordingPredictor(np.eye(NUM_CLASSES, dtype=np.float32)[-1])
    (timeline,) = compute_timelines([person], np.arange(n) / 60.0, predictor, TimelineSettings(smoothing=0))
    # The windows are those of the 30 fps track made of every other frame: 32 samples span 1.07 s.
    np.testing.assert_array_equal(np.concatenate(predictor.features), track_features(person.keypoints[::2]))
    first = 2 * (WINDOW - 1)  # the video frame on which sample 31, the first with a window, is shown
    assert (timeline.labels[:first] == NO_WINDOW).all()
    assert (timeline.labels[first:] == CLASSES[-1]).all()
