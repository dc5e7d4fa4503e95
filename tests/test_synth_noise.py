"""The pose-estimator error model: clean pass-through, size-relative jitter, scores, border, swaps, dropouts."""

from __future__ import annotations

import numpy as np
import pytest

from har_core.features import KEYPOINT_THRESHOLD
from har_core.skeleton import JOINT_INDEX, NUM_JOINTS
from models.synth.noise import NoiseProfile, perturb_windows, simulate_estimator

J = JOINT_INDEX
SIZE = (640, 480)


def person(n: int, scale: float = 1.0, centre: tuple[float, float] = (320, 240)) -> tuple[np.ndarray, np.ndarray]:
    """A still, frontal stick person (pixels and depths), about 300 px tall at scale 1."""
    base = np.array(
        [
            [0, -140],
            [-6, -146],
            [6, -146],
            [-14, -142],
            [14, -142],
            [-35, -100],
            [35, -100],
            [-45, -50],
            [45, -50],
            [-48, -5],
            [48, -5],
            [-20, 0],
            [20, 0],
            [-22, 70],
            [22, 70],
            [-24, 140],
            [24, 140],
        ],
        dtype=np.float64,
    )
    base[:, 0] *= -1  # the person faces the camera: their left is on the image right
    points = np.broadcast_to(base * scale + np.array(centre), (n, NUM_JOINTS, 2)).copy()
    depth = np.full((n, NUM_JOINTS), 3.0)
    depth[:, 0] = 2.9  # the nose is nearer than the ears
    return points, depth


def test_clean_profile_passes_points_through_with_full_scores() -> None:
    points, depth = person(20)
    out = simulate_estimator(points, depth, SIZE, np.random.default_rng(0))
    assert out.shape == (20, NUM_JOINTS, 3) and out.dtype == np.float32
    np.testing.assert_allclose(out[..., :2], points, atol=1e-3)
    assert (out[..., 2] == 1.0).all()


def test_jitter_scales_with_person_size() -> None:
    profile = NoiseProfile(jitter=0.01)
    errors = []
    for scale in (0.5, 1.0, 2.0):
        points, depth = person(400, scale)
        out = simulate_estimator(points, depth, (4000, 4000), np.random.default_rng(1), profile)
        errors.append(np.std(out[:, J["left_hip"], :2] - points[:, J["left_hip"]]))
    assert errors[1] / errors[0] == pytest.approx(2.0, rel=0.15)
    assert errors[2] / errors[1] == pytest.approx(2.0, rel=0.15)
    # Wrists wobble more than hips, as MoveNet's do.
    points, depth = person(400)
    out = simulate_estimator(points, depth, SIZE, np.random.default_rng(2), profile)
    assert np.std(out[:, J["left_wrist"], :2] - points[:, J["left_wrist"]]) > 1.3 * errors[1]


def test_scores_look_like_movenet() -> None:
    rng = np.random.default_rng(3)
    points, depth = person(300)
    medians, low = [], []
    for _ in range(40):
        out = simulate_estimator(points, depth, SIZE, rng, NoiseProfile.random(rng))
        seen = out[out[:, :, 2] > 0]  # frames where the person was found
        assert ((seen[:, 2] >= 0) & (seen[:, 2] <= 1)).all()
        medians.append(np.median(seen[:, 2]))
        low.append(np.mean(seen[:, 2] < KEYPOINT_THRESHOLD))
        torso = out[:, [J["left_shoulder"], J["left_hip"]], 2].mean()
        wrists = out[:, [J["left_wrist"], J["right_wrist"]], 2].mean()
        assert torso > wrists  # the torso is the most confident part
    # Real clips: per-clip median scores 0.5-0.82 and few joints under the threshold when fully in view.
    assert 0.45 < np.median(medians) < 0.85 and min(medians) > 0.3
    assert np.median(low) < 0.1


def test_joints_outside_the_image_sit_on_the_border_with_low_scores() -> None:
    points, depth = person(50, scale=1.0, centre=(320, 400))  # ankles (y = 540) below a 480-pixel frame
    out = simulate_estimator(points, depth, SIZE, np.random.default_rng(4), NoiseProfile(score_mean=0.8))
    for joint in ("left_ankle", "right_ankle"):
        assert (out[:, J[joint], 1] <= 479).all() and (out[:, J[joint], 2] < 0.2).all()
    assert (out[:, J["left_shoulder"], 2] > 0.5).all()


def test_far_side_and_turned_away_joints_score_lower() -> None:
    points, depth = person(200)
    depth[:, [J["right_shoulder"], J["right_elbow"], J["right_wrist"]]] += 0.3  # the right arm behind the body
    out = simulate_estimator(points, depth, SIZE, np.random.default_rng(5), NoiseProfile(score_mean=0.8))
    assert out[:, J["right_elbow"], 2].mean() < out[:, J["left_elbow"], 2].mean() - 0.05


def test_left_right_swaps_dropouts_and_repeats() -> None:
    points, depth = person(2000)
    profile = NoiseProfile(swap_rate=0.05, dropout_rate=0.1, repeat_rate=0.05)
    out = simulate_estimator(points, depth, SIZE, np.random.default_rng(6), profile)
    absent = (out[..., 2] == 0).all(axis=1)
    assert 0.05 < absent.mean() < 0.15
    assert (out[absent] == 0).all()
    present = ~absent
    swapped = present & (out[:, J["left_hip"], 0] < out[:, J["right_hip"], 0])
    assert 0.02 < swapped.sum() / present.sum() < 0.15
    # Bursts: swaps and dropouts last several frames, not single frames.
    assert np.mean(swapped[1:] & swapped[:-1]) > 0.4 * swapped.mean()


def test_profile_view_swaps_more_than_frontal() -> None:
    profile = NoiseProfile(swap_rate=0.03)
    points, depth = person(3000)
    frontal = simulate_estimator(points, depth, SIZE, np.random.default_rng(7), profile)
    side_depth = depth.copy()
    side_depth[:, J["right_shoulder"]] += 0.35  # shoulders at different depths: the body is edge-on
    side = simulate_estimator(points, side_depth, SIZE, np.random.default_rng(7), profile)

    def swap_share(out: np.ndarray) -> float:
        return float(np.mean(out[:, J["left_wrist"], 0] < out[:, J["right_wrist"], 0]))

    assert swap_share(side) > 2 * swap_share(frontal) > 0


def test_random_profiles_span_good_and_bad_footage() -> None:
    rng = np.random.default_rng(8)
    profiles = [NoiseProfile.random(rng) for _ in range(500)]
    jitter = np.array([p.jitter for p in profiles])
    assert jitter.min() > 0 and jitter.max() / jitter.min() > 5
    assert np.mean([p.dropout_rate > 0.3 for p in profiles]) > 0.03  # some clips where MoveNet mostly misses
    assert np.mean([p.dropout_rate == 0 for p in profiles]) > 0.3


def test_perturbing_real_windows_jitters_seen_joints_and_misses_some() -> None:
    rng = np.random.default_rng(0)
    windows = np.zeros((50, 32, 17, 3), dtype=np.float32)
    windows[..., 0] = rng.uniform(200, 300, (50, 32, 17))
    windows[..., 1] = np.linspace(100, 400, 17)  # a person 300 px tall
    windows[..., 2] = 0.9
    windows[:, :4] = 0.0  # the person absent at the start of each window
    out = perturb_windows(windows, np.random.default_rng(1), jitter=0.003, miss_rate=0.05)
    seen = windows[..., 2] > 0
    moved = np.linalg.norm(out[..., :2] - windows[..., :2], axis=-1)[seen]
    assert 0.3 < np.median(moved) < 3.0  # about 0.003 x 300 px, weighted per joint
    assert (out[:, :4] == 0).all()  # absent frames stay absent
    missed = (out[..., 2] < 0.25)[seen].mean()
    assert 0.02 < missed < 0.1
    assert perturb_windows(windows[:0], rng).shape == (0, 32, 17, 3)
