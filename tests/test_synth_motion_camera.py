"""Motion container and virtual cameras: resampling, mirroring, projection geometry, camera sampling."""

from __future__ import annotations

import numpy as np
import pytest

from har_core.skeleton import CLASS_INDEX, JOINT_INDEX, NUM_JOINTS
from models.synth.body import PARAMS, Body, P, forward_kinematics
from models.synth.camera import MAX_YAW_DEG, Camera, random_camera
from models.synth.motion import Motion, concatenate

LS, RS = JOINT_INDEX["left_shoulder"], JOINT_INDEX["right_shoulder"]
LW, RW = JOINT_INDEX["left_wrist"], JOINT_INDEX["right_wrist"]


def standing(n: int = 10, fps: float = 30.0) -> Motion:
    """A person standing still, arms hanging, built with the kinematic body model."""
    params = np.zeros((n, len(PARAMS)))
    for limb in ("l_arm", "r_arm", "l_leg", "r_leg"):
        params[:, P[f"{limb}_reach"]] = 0.99
    return Motion(forward_kinematics(params, Body(), fps), fps, np.full(n, CLASS_INDEX["OTHER"]), "procedural")


def test_motion_rejects_bad_shapes_and_labels() -> None:
    with pytest.raises(ValueError, match="joints"):
        Motion(np.zeros((5, 12, 3)), 30.0, np.zeros(5), "x")
    with pytest.raises(ValueError, match="labels"):
        Motion(np.zeros((5, NUM_JOINTS, 3)), 30.0, np.zeros(4), "x")
    with pytest.raises(ValueError, match="0..6"):
        Motion(np.zeros((5, NUM_JOINTS, 3)), 30.0, np.full(5, 7), "x")


def test_resample_interpolates_in_time_and_keeps_labels() -> None:
    n = 121  # two seconds at 60 fps
    joints = np.zeros((n, NUM_JOINTS, 3), dtype=np.float32)
    joints[:, :, 0] = np.arange(n)[:, None] / 60.0  # x moves at 1 m/s
    labels = np.where(np.arange(n) < 60, 0, 3)
    motion = Motion(joints, 60.0, labels, "test")
    slow = motion.resample(15.0)
    assert len(slow) == 31 and slow.fps == 15.0
    np.testing.assert_allclose(slow.joints[:, 0, 0], np.arange(31) / 15.0, atol=1e-6)
    assert slow.labels[0] == 0 and slow.labels[-1] == 3
    shifted = motion.resample(15.0, phase=0.5)
    np.testing.assert_allclose(shifted.joints[0, 0, 0], 0.5 / 15.0, atol=1e-6)
    assert motion.duration == pytest.approx(n / 60.0)


def test_mirrored_swaps_sides_and_negates_x() -> None:
    motion = standing()
    mirrored = motion.mirrored()
    np.testing.assert_allclose(mirrored.joints[:, LS, 0], -motion.joints[:, RS, 0])
    np.testing.assert_allclose(mirrored.joints[:, LS, 1:], motion.joints[:, RS, 1:])
    np.testing.assert_allclose(mirrored.mirrored().joints, motion.joints)


def test_concatenate_joins_and_requires_same_fps() -> None:
    a, b = standing(5), standing(7)
    joined = concatenate([a, b])
    assert len(joined) == 12 and joined.source == "procedural"
    with pytest.raises(ValueError, match="same fps"):
        concatenate([a, standing(5, fps=25.0)])


def test_look_at_point_lands_on_principal_point() -> None:
    camera = Camera(
        (640, 480), yaw_deg=30, pitch_deg=10, roll_deg=3, look_at=np.array([0.2, 1.1, -0.3]), frame_position=(0.3, 0.6)
    )
    np.testing.assert_allclose(camera.project(camera.look_at), [192.0, 288.0], atol=1e-3)
    assert camera.depth(camera.look_at) == pytest.approx(camera.distance)


def test_focal_length_follows_field_of_view() -> None:
    camera = Camera((640, 480), fov_deg=60, distance=5.0, look_at=np.array([0.0, 1.0, 0.0]))
    top, bottom = camera.project(np.array([[0.0, 1.5, 0.0], [0.0, 0.5, 0.0]]))
    expected = 1.0 * (240 / np.tan(np.radians(30))) / 5.0  # 1 m at 5 m
    assert bottom[1] - top[1] == pytest.approx(expected, rel=1e-4)
    assert top[1] < bottom[1]  # image y grows downwards


def test_frontal_view_puts_left_side_on_image_right() -> None:
    joints = standing().joints[0]
    pixels = Camera((640, 480)).project(joints)
    assert pixels[LS, 0] > pixels[RS, 0]
    assert pixels[JOINT_INDEX["nose"], 1] < pixels[LS, 1] < pixels[JOINT_INDEX["left_ankle"], 1]


def test_yaw_90_turns_the_shoulders_edge_on() -> None:
    joints = standing().joints[0]
    front = Camera((640, 480), yaw_deg=0).project(joints)
    side = Camera((640, 480), yaw_deg=90).project(joints)
    assert abs(front[LS, 0] - front[RS, 0]) > 30
    assert abs(side[LS, 0] - side[RS, 0]) < 2
    # From the left (+x), the left shoulder is nearer the camera.
    camera = Camera((640, 480), yaw_deg=90)
    assert camera.depth(joints[LS]) < camera.depth(joints[RS])


def test_pitch_from_above_looks_down() -> None:
    camera = Camera((640, 480), pitch_deg=30)
    assert camera.position[1] > camera.look_at[1]
    assert camera.rotation[2] @ np.array([0.0, -1.0, 0.0]) > 0  # the optical axis points downwards


def test_random_cameras_cover_profile_and_frame_the_person() -> None:
    rng = np.random.default_rng(0)
    joints = standing().joints[0]
    yaws, inside = [], []
    for _ in range(300):
        camera = random_camera(rng, (640, 480), subject_height=1.75)
        yaws.append(camera.yaw_deg)
        px = camera.project(joints)
        inside.append(np.mean((px[:, 0] >= 0) & (px[:, 0] < 640) & (px[:, 1] >= 0) & (px[:, 1] < 480)))
    yaws = np.abs(yaws)
    assert yaws.max() <= MAX_YAW_DEG and (yaws > 80).mean() > 0.12 and (yaws > 105).any()
    assert np.median(inside) == 1.0  # most shots show the whole body
    assert 0.05 < np.mean(np.array(inside) < 1.0) < 0.5  # some close shots cut the legs off
