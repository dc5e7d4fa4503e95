"""The rendered figure, multi-person scenes, the evaluation-clip set and the bundled sample video.

Poses here are written out by hand (a 1.75 m person standing on the floor, facing the camera) so the
drawing is tested independently of the procedural motion generator.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import av
import numpy as np
import pytest

from har_core.pose.movenet import MoveNetBackend
from har_core.skeleton import CLASS_INDEX, CLASSES, JOINT_INDEX, NUM_JOINTS
from models.render_sample import ACTIONS, action_sequence
from models.synth.camera import Camera
from models.synth.figure import FigureStyle, Lighting, draw_figure, figure_frames
from models.synth.motion import Motion
from models.synth.scenes import (
    BACKGROUNDS,
    PersonSpec,
    SceneTruth,
    make_background,
    render_eval_clips,
    render_scene,
    write_scene_video,
)

DATA = Path(__file__).resolve().parents[1] / "har_core" / "data"
BACKGROUND = (90, 140, 90)
# Colours far apart, so a pixel's colour says which part covers it.
STYLE = FigureStyle(skin=(240, 190, 150), hair=(30, 20, 15), shirt=(40, 60, 210), trousers=(200, 200, 40),
                    shoes=(20, 20, 20), long_sleeves=False, shorts=False)
LIGHT = Lighting(direction=(0.0, 0.6, 0.8), ambient=0.8)

STANDING = np.array([
    (0.0, 1.62, 0.10), (0.035, 1.66, 0.08), (-0.035, 1.66, 0.08), (0.075, 1.63, 0.0), (-0.075, 1.63, 0.0),
    (0.19, 1.45, 0.0), (-0.19, 1.45, 0.0), (0.22, 1.17, 0.0), (-0.22, 1.17, 0.0), (0.24, 0.92, 0.03),
    (-0.24, 0.92, 0.03), (0.10, 0.95, 0.0), (-0.10, 0.95, 0.0), (0.11, 0.52, 0.01), (-0.11, 0.52, 0.01),
    (0.12, 0.07, -0.02), (-0.12, 0.07, -0.02),
])


def _pose(kind: str, yaw_deg: float = 0.0) -> np.ndarray:
    """A standing, T or arms-up pose turned by yaw about the vertical axis."""
    p = STANDING.copy()
    if kind == "T":
        p[7:11] = [(0.47, 1.45, 0), (-0.47, 1.45, 0), (0.73, 1.45, 0), (-0.73, 1.45, 0)]
    elif kind == "up":
        p[7:11] = [(0.25, 1.73, 0), (-0.25, 1.73, 0), (0.28, 2.0, 0), (-0.28, 2.0, 0)]
    a = np.radians(yaw_deg)
    turn = np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])
    return p @ turn.T


def _camera(size: tuple[int, int] = (640, 480), distance: float = 3.2) -> Camera:
    return Camera(image_size=size, fov_deg=50.0, distance=distance, look_at=np.array([0.0, 0.95, 0.0]))


def _canvas(camera: Camera) -> np.ndarray:
    width, height = camera.image_size
    image = np.empty((height, width, 3), np.uint8)
    image[:] = BACKGROUND
    return image


def _still(pose: np.ndarray, frames: int, label: str = "OTHER", fps: float = 10.0) -> Motion:
    return Motion(np.repeat(pose[None], frames, 0), fps, np.full(frames, CLASS_INDEX[label]), "test")


def test_figure_covers_every_projected_joint():
    camera = _camera()
    for kind in ("standing", "T", "up"):
        image = _canvas(camera)
        keypoints = draw_figure(image, _pose(kind), camera, STYLE, LIGHT)
        np.testing.assert_allclose(keypoints, camera.project(_pose(kind)), atol=1e-3)
        changed = np.any(image != BACKGROUND, axis=-1)
        for joint, (x, y) in enumerate(np.rint(keypoints).astype(int)):
            assert changed[y - 1:y + 2, x - 1:x + 2].all(), f"{kind}: nothing drawn at joint {joint}"
        # The figure is a body, not a skeleton: it covers far more than its joints, but stays near them.
        xs = np.nonzero(changed)[1]
        assert changed.sum() > 8000
        assert xs.min() > keypoints[:, 0].min() - 40 and xs.max() < keypoints[:, 0].max() + 40


def _colour_at(image: np.ndarray, point: np.ndarray) -> np.ndarray:
    x, y = np.rint(point).astype(int)
    return image[y - 1:y + 2, x - 1:x + 2].reshape(-1, 3).mean(axis=0)


def _closest(colour: np.ndarray, candidates: dict[str, tuple]) -> str:
    """The candidate colour nearest in RGB; shading keeps parts within ~25% of their base colour here."""
    return min(candidates, key=lambda name: np.linalg.norm(colour - np.array(candidates[name])))


def test_limb_behind_the_torso_is_hidden_and_in_front_is_shown():
    camera = _camera()
    wrist, elbow = JOINT_INDEX["right_wrist"], JOINT_INDEX["right_elbow"]
    parts = {"skin": STYLE.skin, "shirt": STYLE.shirt}
    for z, expected in ((-0.25, "shirt"), (0.3, "skin")):
        pose = _pose("standing")
        pose[elbow] = (-0.12, 1.25, z * 0.6)
        pose[wrist] = (0.0, 1.28, z)  # the hand reaches to the middle of the chest, behind or in front
        image = _canvas(camera)
        keypoints = draw_figure(image, pose, camera, STYLE, LIGHT)
        assert _closest(_colour_at(image, keypoints[wrist]), parts) == expected


def test_turned_figure_shows_its_back_and_hides_the_far_arm():
    camera = _camera()
    front, back = _canvas(camera), _canvas(camera)
    draw_figure(front, _pose("standing"), camera, STYLE, LIGHT)
    keypoints = draw_figure(back, _pose("standing", 180), camera, STYLE, LIGHT)
    nose = keypoints[JOINT_INDEX["nose"]]
    head = {"skin": STYLE.skin, "hair": STYLE.hair}
    assert _closest(_colour_at(front, camera.project(_pose("standing"))[0]), head) == "skin"
    assert _closest(_colour_at(back, nose), head) == "hair"  # seen from behind: hair where the face would be

    profile = _canvas(camera)
    keypoints = draw_figure(profile, _pose("T", 90), camera, STYLE, LIGHT)  # faces +x: right side to the camera
    far_hand, near_hand = keypoints[JOINT_INDEX["left_wrist"]], keypoints[JOINT_INDEX["right_wrist"]]
    parts = {"skin": STYLE.skin, "shirt": STYLE.shirt}
    assert _closest(_colour_at(profile, far_hand), parts) == "shirt"  # the far hand is behind the chest
    assert _closest(_colour_at(profile, near_hand), parts) == "skin"


def test_figure_frames_rejects_wrong_shapes():
    with pytest.raises(ValueError, match="figure joints"):
        figure_frames(np.zeros((4, 12, 3)), _camera(), STYLE, LIGHT)


def test_movenet_finds_the_figure_across_poses_and_turns():
    camera = _camera()
    backend = MoveNetBackend(input_size=256)
    errors = []
    for kind, yaw in (("standing", 0), ("T", 30), ("up", -40), ("standing", 150)):
        image = make_background("noise", camera, np.random.default_rng(yaw + 200))
        truth = draw_figure(image, _pose(kind, yaw), camera, STYLE, LIGHT)
        poses = backend([image])[0]
        assert len(poses) >= 1, f"MoveNet found nobody in the {kind} pose at yaw {yaw}"
        distance = np.linalg.norm(poses.keypoints[:, :, :2] - truth[None], axis=-1).mean(axis=1)
        errors.append(distance.min())
    assert np.mean(errors) < 25, f"mean keypoint error {np.mean(errors):.1f} px"


def test_multi_person_scene_truth_matches_projected_joints():
    camera = _camera((480, 320), distance=6.0)
    fps, frames = 10.0, 20
    people = [
        PersonSpec(_still(_pose("standing"), frames, "JUMPING"), path=((0.0, -1.5, 0.0),)),
        # Walks left to right, out of the frame and back in.
        PersonSpec(_still(_pose("T"), frames, "BOXING"), path=((0.0, 0.0, 1.0), (0.9, 6.0, 1.0), (1.9, 0.0, 1.0))),
        PersonSpec(_still(_pose("up"), frames, "CLAPPING_HANDS"), path=((0.0, 1.5, -0.5),), yaw_deg=90.0),
    ]
    rendered = list(render_scene(people, camera, fps=fps, background="plain", seed=3))
    assert len(rendered) == frames
    for frame in rendered:
        t = frame.index / fps
        walker_x = np.interp(t, [0.0, 0.9, 1.9], [0.0, 6.0, 0.0])
        expected = [
            camera.project(_pose("standing") + (-1.5, 0.0, 0.0)),
            camera.project(_pose("T") + (walker_x, 0.0, 1.0)),
            camera.project(_pose("up", 90.0) + (1.5, 0.0, -0.5)),
        ]
        np.testing.assert_allclose(frame.keypoints[..., :2], np.stack(expected), atol=0.05)
        assert frame.labels.tolist() == [CLASS_INDEX[c] for c in ("JUMPING", "BOXING", "CLAPPING_HANDS")]
        inside = ((frame.keypoints[..., 0] >= 0) & (frame.keypoints[..., 0] < 480)
                  & (frame.keypoints[..., 1] >= 0) & (frame.keypoints[..., 1] < 320))
        np.testing.assert_array_equal(frame.keypoints[..., 2] > 0, inside)
    present = np.array([f.keypoints[1, :, 2].max() > 0 for f in rendered])
    assert present[0] and not present[9] and present[-1], "the walker should leave the frame and come back"


def test_scene_video_truth_round_trip(tmp_path):
    camera = _camera((320, 240))
    people = [PersonSpec(_still(_pose("standing", a), 12, "WAVING_1HAND", fps=12.0), path=((0.0, x, 0.0),))
              for a, x in ((0, -1.0), (40, 0.0), (-40, 1.0), (180, 0.5), (90, -0.5), (0, 1.5), (0, -1.5))]
    path = tmp_path / "crowd.mp4"
    truth = write_scene_video(path, people, camera, fps=12.0, background="stripes", seed=1)
    assert truth.labels.shape == (12, 7) and truth.keypoints.shape == (12, 7, NUM_JOINTS, 3)
    assert truth.present.all()
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        decoded = sum(1 for _ in container.decode(stream))
    assert decoded == 12
    truth.save(tmp_path / "truth.json")
    loaded = SceneTruth.load(tmp_path / "truth.json")
    np.testing.assert_array_equal(loaded.labels, truth.labels)
    np.testing.assert_allclose(loaded.keypoints, truth.keypoints, atol=0.051)
    assert loaded.image_size == (320, 240) and loaded.fps == 12.0


def test_backgrounds_have_the_camera_size_and_texture():
    camera = _camera((200, 150))
    for kind in BACKGROUNDS:
        image = make_background(kind, camera, np.random.default_rng(5))
        assert image.shape == (150, 200, 3) and image.dtype == np.uint8
        spread = image.reshape(-1, 3).astype(float).std(axis=0).max()
        assert spread > (1.0 if kind == "plain" else 5.0), kind
    with pytest.raises(ValueError, match="unknown background"):
        make_background("marble", camera, np.random.default_rng(0))


def test_rendering_is_fast():
    camera = _camera()
    frames = 120
    motion = _still(_pose("T"), frames, fps=30.0)
    motion.joints[:, 9:11, 1] += np.sin(np.arange(frames) / 4)[:, None].astype(np.float32) * 0.3
    start = time.perf_counter()
    for _ in render_scene([PersonSpec(motion)], camera, fps=30.0, background="plain"):
        pass
    fps = frames / (time.perf_counter() - start)
    assert fps > 100, f"rendered {fps:.0f} frames/s"  # ~1000 measured on one core; the margin absorbs a busy machine


def test_action_sequence_is_smooth_and_labelled_in_order():
    fps = 30.0
    motion = action_sequence(np.random.default_rng(0), ACTIONS, 1.0, fps, 0.4)
    assert len(motion) == 6 * 30
    assert [CLASSES[c] for c in motion.labels[15::30]] == list(ACTIONS)
    step = np.linalg.norm(np.diff(motion.joints, axis=0), axis=-1).max(axis=1)
    # No teleporting between actions: a jump would move joints by a limb length (0.5 m or more) in a frame.
    # Punches are the fastest motion the synthesiser makes (fists and elbows up to ~10 m/s, 0.33 m a frame at
    # 30 fps) and last a few frames, so at most a few percent of frames move more than 0.25 m.
    assert step.max() < 0.5
    assert (step > 0.25).mean() < 0.05


def test_render_eval_clips_writes_labelled_clips(tmp_path):
    clips = render_eval_clips(1, seed=4, out_dir=tmp_path, seconds=1.0, image_size=(160, 120), fps=15.0)
    assert [c.label for c in clips] == list(CLASSES)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert [c["label"] for c in manifest["clips"]] == list(CLASSES)
    for clip in clips:
        truth = SceneTruth.load(clip.truth)
        assert clip.video.exists() and truth.labels.shape == (15, 1)
        assert set(truth.labels[:, 0].tolist()) == {CLASS_INDEX[clip.label]}


def test_bundled_sample_video_matches_its_labels():
    video, labels_file = DATA / "sample.mp4", DATA / "sample_labels.json"
    assert video.stat().st_size < 2 * 1024 * 1024
    record = json.loads(labels_file.read_text())
    with av.open(str(video)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        assert (stream.codec_context.width, stream.codec_context.height) == (640, 480)
        decoded = sum(1 for _ in container.decode(stream))
    assert decoded == record["frames"] == len(record["labels"])
    assert 10 <= decoded / record["fps"] <= 20
    assert [s["label"] for s in record["segments"]] == list(ACTIONS)
