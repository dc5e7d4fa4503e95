"""The procedural synthesiser: anatomically plausible bodies, and the defining property of every class."""

from __future__ import annotations

import numpy as np
import pytest

from har_core.skeleton import CLASS_INDEX, JOINT_INDEX
from models.synth.body import Body
from models.synth.procedural import KINDS, random_clip

J = JOINT_INDEX
SEEDS = range(12)
FPS = 30.0


def clips(name: str, seconds: float = 6.0, fps: float = FPS) -> list[np.ndarray]:
    """Joints (T, 17, 3) of clips of one class without lead-in or lead-out, for several seeds."""
    label = CLASS_INDEX[name]
    return [
        random_clip(
            np.random.default_rng([7, label, s]), label, fps, seconds, lead_in=False, lead_out=False
        ).joints.astype(np.float64)
        for s in SEEDS
    ]


def rel(joints: np.ndarray, a: str, b: str) -> np.ndarray:
    return joints[:, J[a]] - joints[:, J[b]]


def spread(x: np.ndarray) -> float:
    """Mean distance from the mean position: how much a point moves."""
    return float(np.linalg.norm(x - x.mean(axis=0), axis=-1).mean())


def lowest_ankle(joints: np.ndarray) -> np.ndarray:
    return joints[:, [J["left_ankle"], J["right_ankle"]], 1].min(axis=1)


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.name)
def test_every_generator_keeps_bones_rigid_and_feet_down(kind) -> None:
    rng = np.random.default_rng(3)
    body = Body.random(rng)
    joints = random_clip(rng, kind.label, FPS, 4.0, body=body, lead_in=False, lead_out=False).joints.astype(np.float64)
    for a, b, length in (
        ("left_shoulder", "left_elbow", body.upper_arm),
        ("right_elbow", "right_wrist", body.forearm),
        ("left_hip", "left_knee", body.thigh),
        ("right_knee", "right_ankle", body.shin),
    ):
        np.testing.assert_allclose(np.linalg.norm(rel(joints, a, b), axis=-1), length, rtol=1e-4)
    assert lowest_ankle(joints).min() == pytest.approx(body.ankle_height, abs=1e-4)  # nobody sinks into the floor
    assert (joints[:, J["nose"], 1] > joints[:, J["left_hip"], 1]).all()
    assert np.isfinite(joints).all()


def test_jumping_both_feet_leave_the_ground_and_the_hips_bounce() -> None:
    for joints in clips("JUMPING"):
        ankle_height = lowest_ankle(joints).min()
        airborne = lowest_ankle(joints) > ankle_height + 0.01
        assert 0.15 < airborne.mean() < 0.8
        hips = joints[:, [J["left_hip"], J["right_hip"]], 1].mean(axis=1)
        assert np.ptp(hips) > 0.05
        # Feet stay together (that is what tells jumping from jumping jacks).
        assert np.ptp(np.linalg.norm(rel(joints, "left_ankle", "right_ankle"), axis=-1)) < 0.12


def test_jumping_jacks_spread_arms_and_legs_together() -> None:
    for joints in clips("JUMPING_JACKS"):
        feet = np.linalg.norm(rel(joints, "left_ankle", "right_ankle"), axis=-1)
        wrist_height = rel(joints, "left_wrist", "left_hip")[:, 1]
        assert np.ptp(feet) > 0.12 and np.ptp(wrist_height) > 0.4
        assert np.corrcoef(feet, wrist_height)[0, 1] > 0.5  # arms up while the feet are apart


def test_boxing_extends_each_arm_from_a_guard() -> None:
    for joints in clips("BOXING"):
        for side in ("left", "right"):
            reach = np.linalg.norm(rel(joints, f"{side}_wrist", f"{side}_shoulder"), axis=-1)
            assert np.ptp(reach) > 0.15  # punches go out and come back
            assert np.median(np.abs(rel(joints, f"{side}_wrist", f"{side}_shoulder")[:, 1])) < 0.2  # at chin height
        assert np.ptp(lowest_ankle(joints)) < 0.06  # at most a light bounce


def test_waving_two_hands_keeps_both_hands_up_and_moving_with_still_legs() -> None:
    for joints in clips("WAVING_2HANDS"):
        for side in ("left", "right"):
            hand = rel(joints, f"{side}_wrist", f"{side}_shoulder")
            assert (hand[:, 1] > -0.1).mean() > 0.5 and spread(hand) > 0.015
        assert np.ptp(joints[:, [J["left_hip"], J["right_hip"]], 1].mean(axis=1)) < 0.02


def test_waving_one_hand_moves_one_raised_hand_while_the_other_stays() -> None:
    hands_used = set()
    for joints in clips("WAVING_1HAND"):
        hands = {side: rel(joints, f"{side}_wrist", f"{side}_shoulder") for side in ("left", "right")}
        waving = max(hands, key=lambda s: spread(hands[s]))
        still = "right" if waving == "left" else "left"
        hands_used.add(waving)
        assert hands[waving][:, 1].mean() > -0.15  # raised to about shoulder height or above
        assert spread(hands[waving]) > 0.02 and spread(hands[still]) < 0.5 * spread(hands[waving])
        assert hands[still][:, 1].mean() < hands[waving][:, 1].mean() - 0.15
    assert hands_used == {"left", "right"}  # either hand waves


def test_clapping_hands_meet_periodically_low_and_wide() -> None:
    heights = []
    for joints in clips("CLAPPING_HANDS", fps=120.0):  # fast enough to catch the instant of each clap
        gap = np.linalg.norm(rel(joints, "left_wrist", "right_wrist"), axis=-1)
        claps = np.flatnonzero((gap[1:-1] < gap[:-2]) & (gap[1:-1] <= gap[2:]) & (gap[1:-1] < 0.15))
        assert len(claps) >= 6  # at least one clap a second over 6 s
        assert gap.max() > 0.3
        wrists_y = joints[:, [J["left_wrist"], J["right_wrist"]], 1].mean(axis=1)
        heights.append(np.median(wrists_y - joints[:, J["left_shoulder"], 1]))
    # Mostly well below the shoulders (wide and low, as filmed); some clap at chest height.
    assert max(heights) < 0.1 and np.mean(np.array(heights) < -0.1) >= 0.75


def test_other_has_no_action_like_flight() -> None:
    """Standing and walking motions (OTHER) never lift both feet for long."""
    for joints in clips("OTHER"):
        assert (lowest_ankle(joints) > lowest_ankle(joints).min() + 0.03).mean() < 0.35


def test_clip_labels_follow_lead_in_action_and_lead_out() -> None:
    rng = np.random.default_rng(11)
    motion = random_clip(rng, CLASS_INDEX["BOXING"], FPS, 12.0, lead_in=True, lead_out=True)
    labels = motion.labels
    assert labels[0] == CLASS_INDEX["OTHER"] and labels[-1] == CLASS_INDEX["OTHER"]
    assert labels[len(labels) // 2] == CLASS_INDEX["BOXING"]
    assert np.count_nonzero(np.diff(labels)) == 2  # exactly one start and one end of the action
    assert (labels == CLASS_INDEX["BOXING"]).mean() >= 0.6
    # The transition is smooth: no joint jumps more than a fast limb moves in one frame.
    assert np.linalg.norm(np.diff(motion.joints, axis=0), axis=-1).max() < 0.35


def test_same_seed_same_motion() -> None:
    a = random_clip(np.random.default_rng(5), 2, FPS, 3.0)
    b = random_clip(np.random.default_rng(5), 2, FPS, 3.0)
    c = random_clip(np.random.default_rng(6), 2, FPS, 3.0)
    np.testing.assert_array_equal(a.joints, b.joints)
    assert not np.array_equal(a.joints[: len(c)], c.joints[: len(a)])
