"""Tracks at the classifier's frame rate: identity near 30 fps, exact decimation at 60, interpolation elsewhere,
never interpolating from a missed joint, and predictions shown on video frames without looking ahead."""

from __future__ import annotations

import numpy as np
import pytest

from har_core.features import KEYPOINT_THRESHOLD
from har_core.frame_rate import CLASSIFIER_FPS, at_classifier_rate, sample_count, to_classifier_rate
from har_core.skeleton import NUM_JOINTS


def moving_track(times: np.ndarray, speed: float = 90.0) -> np.ndarray:
    """Every joint moves right at `speed` px/s and down at speed/3 px/s from its own start; all seen."""
    kp = np.zeros((len(times), NUM_JOINTS, 3), dtype=np.float32)
    start = np.arange(NUM_JOINTS) * 10.0
    kp[..., 0] = 100 + start + speed * times[:, None]
    kp[..., 1] = 50 + start + speed / 3 * times[:, None]
    kp[..., 2] = 0.8
    return kp


@pytest.mark.parametrize("fps", [30.0, 29.97, 29.58])
def test_tracks_near_30_fps_are_read_as_they_are(fps: float) -> None:
    times = np.arange(90) / fps
    track = moving_track(times)
    rate = to_classifier_rate(track, times)
    assert at_classifier_rate(times) and sample_count(times) == 90
    np.testing.assert_array_equal(rate.nearest, np.arange(90))
    np.testing.assert_array_equal(rate.keypoints, track)
    np.testing.assert_array_equal(rate.shown, np.arange(90))


def test_60_fps_keeps_every_other_frame_and_each_sample_is_shown_on_two_frames() -> None:
    times = np.arange(120) / 60.0
    track = moving_track(times)
    rate = to_classifier_rate(track, times)
    assert len(rate.keypoints) == sample_count(times) == 60 and not at_classifier_rate(times)
    np.testing.assert_array_equal(rate.keypoints, track[::2])
    np.testing.assert_array_equal(rate.nearest, np.arange(0, 120, 2))
    np.testing.assert_array_equal(rate.shown, np.arange(120) // 2)


@pytest.mark.parametrize("fps", [10.0, 15.0, 24.0, 25.0, 50.0])
def test_other_rates_are_sampled_every_thirtieth_of_a_second_on_the_motion(fps: float) -> None:
    times = np.arange(int(3 * fps)) / fps
    rate = to_classifier_rate(moving_track(times), times)
    sample_times = np.arange(len(rate.keypoints)) / CLASSIFIER_FPS
    assert sample_times[-1] <= times[-1] + 1e-9 and times[-1] - sample_times[-1] < 1 / CLASSIFIER_FPS
    # Linear motion is reproduced exactly by linear interpolation.
    np.testing.assert_allclose(rate.keypoints, moving_track(sample_times), atol=1e-3)
    assert np.all(np.abs(times[rate.nearest] - sample_times) <= 0.5 / fps + 1e-9)


def test_each_video_frame_shows_the_last_sample_at_or_before_it() -> None:
    times = np.arange(75) / 25.0
    rate = to_classifier_rate(moving_track(times), times)
    sample_times = rate.shown / CLASSIFIER_FPS
    assert np.all(sample_times <= times + 1e-9)
    assert np.all(times - sample_times < 1 / CLASSIFIER_FPS)
    assert set(np.diff(rate.shown)) <= {1, 2}  # 30 samples a second over 25 frames a second


def test_variable_frame_rate_is_sampled_by_time() -> None:
    rng = np.random.default_rng(0)
    times = np.cumsum(rng.uniform(0.01, 0.07, 100))  # median step ~0.04 s: not 30 fps
    times -= times[0]
    rate = to_classifier_rate(moving_track(times), times)
    sample_times = np.arange(len(rate.keypoints)) / CLASSIFIER_FPS
    np.testing.assert_allclose(rate.keypoints, moving_track(sample_times), atol=1e-3)


def test_a_missed_joint_is_never_interpolated_towards_the_origin() -> None:
    times = np.arange(4) / 15.0
    track = moving_track(times)
    wrist = 9
    track[1, wrist] = 0.0  # missed on the second frame
    track[2, wrist, 2] = KEYPOINT_THRESHOLD / 2  # barely seen on the third
    rate = to_classifier_rate(track, times)
    # Samples at 0, 1/30, ..., 6/30 s; sample 1 lies halfway between frames 0 and 1.
    half = rate.keypoints[1, wrist]
    assert half[2] == pytest.approx(0.8) and half[0] == pytest.approx(track[0, wrist, 0])
    assert rate.keypoints[2, wrist, 2] == 0.0  # sample 2 is frame 1 itself: still missed
    between = rate.keypoints[3, wrist]  # between frames 1 (missed) and 2 (low): neither is blended
    assert between[2] in (0.0, np.float32(KEYPOINT_THRESHOLD / 2))
    other = rate.keypoints[1, 0]
    np.testing.assert_allclose(other[:2], (track[0, 0, :2] + track[1, 0, :2]) / 2, rtol=1e-6)


def test_mismatched_lengths_are_refused() -> None:
    with pytest.raises(ValueError, match="keypoint frames"):
        to_classifier_rate(np.zeros((5, NUM_JOINTS, 3)), np.arange(4) / 60.0)


def test_short_and_empty_tracks() -> None:
    assert len(to_classifier_rate(np.zeros((0, NUM_JOINTS, 3)), np.zeros(0)).keypoints) == 0
    assert sample_count(np.arange(40) / 60.0) == 20
    assert sample_count(np.arange(20) / 10.0) == 58
