"""The shared feature function: invariances, masking, gap filling and windowing."""

from __future__ import annotations

import numpy as np
import pytest

from har_core.features import (
    FEATURE_DIM,
    KEYPOINT_THRESHOLD,
    WINDOW,
    features_for_windows,
    fill_short_gaps,
    mirrored_features,
    sliding_windows,
    track_features,
)
from har_core.skeleton import FLIP_PAIRS, JOINT_INDEX, NUM_JOINTS

X, Y, VALID = slice(0, NUM_JOINTS), slice(NUM_JOINTS, 2 * NUM_JOINTS), slice(2 * NUM_JOINTS, 3 * NUM_JOINTS)


def standing_person(n_frames: int, rng: np.random.Generator) -> np.ndarray:
    """A plausible upright skeleton (pixels) with a waving right wrist and some jitter."""
    base = np.array(
        [
            [0, -160], [-6, -166], [6, -166], [-14, -162], [14, -162],
            [-30, -120], [30, -120], [-40, -70], [40, -70], [-44, -25], [44, -25],
            [-18, 0], [18, 0], [-20, 70], [20, 70], [-22, 140], [22, 140],
        ],
        dtype=np.float32,
    )
    track = np.zeros((n_frames, NUM_JOINTS, 3), dtype=np.float32)
    track[:, :, :2] = base + rng.normal(0, 1.5, (n_frames, NUM_JOINTS, 2))
    phase = np.linspace(0, 6 * np.pi, n_frames)
    track[:, JOINT_INDEX["right_wrist"], 0] += 25 * np.sin(phase)
    track[:, :, :2] += np.array([320, 240], dtype=np.float32)
    track[:, :, 2] = 0.9
    return track


@pytest.fixture
def track() -> np.ndarray:
    return standing_person(80, np.random.default_rng(0))


def test_shapes_and_window_count(track: np.ndarray) -> None:
    feats = track_features(track)
    assert feats.shape == (len(track) - WINDOW + 1, WINDOW, FEATURE_DIM)
    assert feats.dtype == np.float32


def test_too_short_track_gives_no_windows(track: np.ndarray) -> None:
    assert track_features(track[: WINDOW - 1]).shape == (0, WINDOW, FEATURE_DIM)


def test_sliding_window_i_covers_frames_i_to_i_plus_31(track: np.ndarray) -> None:
    windows = sliding_windows(track)
    np.testing.assert_array_equal(windows[7], track[7 : 7 + WINDOW])


def test_translation_invariant(track: np.ndarray) -> None:
    shifted = track.copy()
    shifted[..., :2] += np.array([123.0, -57.0], dtype=np.float32)
    np.testing.assert_allclose(track_features(shifted), track_features(track), atol=1e-4)


def test_scale_invariant(track: np.ndarray) -> None:
    scaled = track.copy()
    scaled[..., :2] *= 2.7
    np.testing.assert_allclose(track_features(scaled), track_features(track), atol=1e-4)


def test_mirrored_features_are_the_features_of_the_mirrored_person(track: np.ndarray) -> None:
    windows = sliding_windows(track)[::7].copy()
    windows[1, :, JOINT_INDEX["left_hip"], 2] = 0.0  # an unseen hip: the centre falls back to the shoulders
    windows[2, :, :, 2] = 0.1  # nobody seen: all-zero features
    mirror = np.arange(NUM_JOINTS)
    for left, right in FLIP_PAIRS:
        mirror[left], mirror[right] = right, left
    seen_in_mirror = windows[:, :, mirror].copy()
    seen_in_mirror[..., 0] = 640.0 - seen_in_mirror[..., 0]
    features = features_for_windows(windows)
    np.testing.assert_allclose(mirrored_features(features), features_for_windows(seen_in_mirror), atol=1e-4)
    np.testing.assert_array_equal(mirrored_features(mirrored_features(features)), features)
    # The waving right wrist becomes a waving left wrist.
    wrists = mirrored_features(features)[0, :, [JOINT_INDEX["left_wrist"], JOINT_INDEX["right_wrist"]]]
    np.testing.assert_array_equal(wrists, -features[0, :, [JOINT_INDEX["right_wrist"], JOINT_INDEX["left_wrist"]]])


def test_body_bounce_survives_per_window_centring(track: np.ndarray) -> None:
    """A jump moves every joint up and down inside the window; per-frame centring would erase that."""
    jumping = track.copy()
    jumping[:, :, 1] -= (40 * np.abs(np.sin(np.linspace(0, 4 * np.pi, len(track)))))[:, None]
    hip_y = track_features(jumping)[0, :, Y][:, JOINT_INDEX["left_hip"]]
    assert hip_y.max() - hip_y.min() > 0.1


def test_low_confidence_joints_are_masked(track: np.ndarray) -> None:
    track = track.copy()
    track[:, JOINT_INDEX["left_ankle"], 2] = KEYPOINT_THRESHOLD / 2
    feats = track_features(track)
    ankle = JOINT_INDEX["left_ankle"]
    assert np.all(feats[..., VALID][..., ankle] == 0)
    assert np.all(feats[..., X][..., ankle] == 0) and np.all(feats[..., Y][..., ankle] == 0)
    assert np.all(feats[..., VALID][..., JOINT_INDEX["nose"]] == 1)


def test_short_gap_is_interpolated_long_gap_is_not(track: np.ndarray) -> None:
    wrist = JOINT_INDEX["left_wrist"]
    gappy = track.copy()
    gappy[10:13, wrist, 2] = 0.0  # 3 missing frames: bridged
    gappy[30:50, wrist, 2] = 0.0  # 20 missing frames: left masked
    filled = fill_short_gaps(gappy)
    assert np.all(filled[10:13, wrist, 2] >= KEYPOINT_THRESHOLD)
    expected_x = np.interp(np.arange(10, 13), [9, 13], gappy[[9, 13], wrist, 0])
    np.testing.assert_allclose(filled[10:13, wrist, 0], expected_x, rtol=1e-5)
    assert np.all(filled[30:50, wrist, 2] == 0)
    # The input is not modified.
    assert np.all(gappy[10:13, wrist, 2] == 0)


def test_gap_at_track_edges_is_not_extrapolated(track: np.ndarray) -> None:
    wrist = JOINT_INDEX["right_wrist"]
    gappy = track.copy()
    gappy[:3, wrist, 2] = 0.0
    assert np.all(fill_short_gaps(gappy)[:3, wrist, 2] == 0)


def test_missing_hips_fall_back_to_shoulders(track: np.ndarray) -> None:
    """Close shots lose the hips; the window must still be centred on the body, not the image."""
    upper_body = track.copy()
    for name in ("left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle"):
        upper_body[:, JOINT_INDEX[name], 2] = 0.0
    feats = features_for_windows(sliding_windows(upper_body)[:1])
    shoulder_x = feats[0, :, X][:, [JOINT_INDEX["left_shoulder"], JOINT_INDEX["right_shoulder"]]].mean()
    assert abs(shoulder_x) < 0.05
    assert np.isfinite(feats).all()


def test_absent_person_frames_give_finite_zero_features(track: np.ndarray) -> None:
    track = track.copy()
    track[:WINDOW, :, 2] = 0.0  # the person is not seen at all in the first window
    feats = track_features(track)
    assert np.isfinite(feats).all()
    assert np.all(feats[0] == 0)
