"""The rendered look-alikes of the blind test's failures: the hand-written squat-then-star-jump motion."""

from __future__ import annotations

import numpy as np

from har_core.skeleton import CLASS_INDEX, JOINT_INDEX
from models.lookalikes import CASES, _squat_star_jumps


def test_squat_star_jumps_squat_then_leave_the_ground_spread() -> None:
    """Each cycle sinks the hips well below standing, then lifts the feet off the ground with the ankles apart and
    the wrists above the head: the blind clip's squat followed by a star jump."""
    motion = _squat_star_jumps(np.random.default_rng(3), 30.0, 4.0)
    joints = motion.joints
    hips = joints[:, [JOINT_INDEX["left_hip"], JOINT_INDEX["right_hip"]], 1].mean(axis=1)
    ankles = joints[:, [JOINT_INDEX["left_ankle"], JOINT_INDEX["right_ankle"]]]
    wrists_y = joints[:, [JOINT_INDEX["left_wrist"], JOINT_INDEX["right_wrist"]], 1].min(axis=1)
    head_y = joints[:, JOINT_INDEX["nose"], 1]
    standing = np.percentile(hips, 90)
    assert hips.min() < standing - 0.2  # a deep squat (metres)
    airborne = ankles[:, :, 1].min(axis=1) > ankles[:, :, 1].min() + 0.1
    assert airborne.any()
    apart = np.abs(ankles[:, 0, 0] - ankles[:, 1, 0])
    assert apart[airborne].max() > apart[~airborne].min() + 0.2  # legs spread in the air
    assert (wrists_y[airborne] > head_y[airborne]).any()  # arms overhead in the air
    assert set(motion.labels.tolist()) == {CLASS_INDEX["JUMPING_JACKS"]}
    assert "squat_star_jump" in CASES
