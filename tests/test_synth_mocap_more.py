"""The `more/` motion capture: DAZ-named cgspeed BVH, per-frame labels and the person-disjoint split.

The DAZ BVH files are written here (a small skeleton with the cgspeed joint names, in centimetres, with its
T-pose first frame); the ASF/AMC trials reuse the shipped excerpts in tests/fixtures under new names.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from har_core.skeleton import CLASS_INDEX, JOINT_INDEX
from models.synth.mocap import (
    VALIDATION_CMU_SUBJECTS,
    VALIDATION_HDM05_ACTORS,
    MocapError,
    label_jumps,
    load_bvh,
    load_library,
    more_trials,
)
from models.synth.motion import Motion
from tests.test_synth_mocap import FIXTURES, make_mocap_dir

J = JOINT_INDEX
# DAZ joints: (name, parent, offset in cm). Arms point along x in the rest (T) pose, legs down.
DAZ_JOINTS = [
    ("hip", None, (0, 0, 0)),
    ("abdomen", "hip", (0, 20, 0)),
    ("chest", "abdomen", (0, 30, 0)),
    ("neck", "chest", (0, 15, 0)),
    ("head", "neck", (0, 8, 0)),
    *[
        joint
        for side, sign in (("l", 1), ("r", -1))
        for joint in (
            (f"{side}Collar", "chest", (5 * sign, 12, 0)),
            (f"{side}Shldr", f"{side}Collar", (12 * sign, 0, 0)),
            (f"{side}ForeArm", f"{side}Shldr", (28 * sign, 0, 0)),
            (f"{side}Hand", f"{side}ForeArm", (25 * sign, 0, 0)),
            (f"{side}Thigh", "hip", (9 * sign, -5, 0)),
            (f"{side}Shin", f"{side}Thigh", (0, -45, 0)),
            (f"{side}Foot", f"{side}Shin", (0, -42, 0)),
        )
    ],
]
HIP_CM = 95.0  # root height that puts the ankles 3 cm above y = 0


def write_daz_bvh(path: Path, arms_down: int, frame_time: float = 1 / 120) -> Path:
    """A cgspeed-style DAZ BVH: a T-pose frame, then `arms_down` frames with both arms hanging."""
    children: dict[str | None, list[str]] = {}
    for name, parent, _ in DAZ_JOINTS:
        children.setdefault(parent, []).append(name)
    offsets = {name: offset for name, _, offset in DAZ_JOINTS}
    lines: list[str] = ["HIERARCHY"]

    def emit(name: str, depth: int) -> None:
        pad = "  " * depth
        lines.append(f"{pad}{'ROOT' if depth == 0 else 'JOINT'} {name}")
        lines.append(pad + "{")
        lines.append(f"{pad}  OFFSET {' '.join(str(v) for v in offsets[name])}")
        rotations = "Zrotation Yrotation Xrotation" if depth == 0 else "Zrotation Xrotation Yrotation"
        lines.append(f"{pad}  CHANNELS {6 if depth == 0 else 3} {'Xposition Yposition Zposition ' * (depth == 0)}{rotations}")
        for child in children.get(name, []):
            emit(child, depth + 1)
        if name not in children:
            lines.extend([f"{pad}  End Site", pad + "  {", f"{pad}    OFFSET 0 1 0", pad + "  }"])
        lines.append(pad + "}")

    emit("hip", 0)
    order = []  # joints in file order, as the emitter visits them
    stack = ["hip"]
    while stack:
        name = stack.pop()
        order.append(name)
        stack += reversed(children.get(name, []))
    tpose = np.zeros(3 + 3 * len(order))
    tpose[1] = HIP_CM
    down = tpose.copy()
    for side, angle in (("lShldr", -80.0), ("rShldr", 80.0)):  # Z rotation swings the arm down
        down[3 + 3 * order.index(side)] = angle
    lines += ["MOTION", f"Frames: {1 + arms_down}", f"Frame Time: {frame_time}"]
    lines += [" ".join(f"{v:g}" for v in frame) for frame in [tpose] + [down] * arms_down]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_daz_bvh_maps_to_coco_in_metres_and_drops_the_tpose(tmp_path: Path) -> None:
    bvh = write_daz_bvh(tmp_path / "14_99.bvh", arms_down=5)
    motion = load_bvh(bvh, CLASS_INDEX["OTHER"], "cmu", cgspeed=True)
    joints = motion.joints
    assert len(motion) == 5 and motion.fps == pytest.approx(120)
    shoulder, elbow, wrist = (joints[:, J[f"left_{k}"]] for k in ("shoulder", "elbow", "wrist"))
    np.testing.assert_allclose(np.linalg.norm(elbow - shoulder, axis=-1), 0.28, atol=1e-6)  # centimetres -> metres
    np.testing.assert_allclose(joints[:, J["left_shoulder"], 0] - joints[:, J["right_shoulder"], 0], 0.34, atol=1e-6)
    np.testing.assert_allclose(joints[:, J["left_knee"], 1] - joints[:, J["left_ankle"], 1], 0.42, atol=1e-6)
    assert (wrist[:, 1] < shoulder[:, 1] - 0.4).all()  # arms hang in every frame: the T-pose frame is gone
    assert np.allclose(joints[:, J["left_ankle"], 1], 0.07)  # feet on the floor
    assert (joints[:, J["nose"], 1] > joints[:, J["left_shoulder"], 1]).all()

    kept = load_bvh(bvh, CLASS_INDEX["OTHER"], "cmu", metres_per_unit=0.01)  # read as is: the T-pose stays
    assert len(kept) == 6
    np.testing.assert_allclose(kept.joints[0, J["left_wrist"], 1], kept.joints[0, J["left_shoulder"], 1], atol=1e-6)


def test_bvh_without_known_joint_names_is_a_clear_error(tmp_path: Path) -> None:
    bvh = write_daz_bvh(tmp_path / "x.bvh", arms_down=2)
    bvh.write_text(bvh.read_text().replace("lShldr", "LeftUpperArm"))
    with pytest.raises(MocapError, match="neither CMU .* nor DAZ"):
        load_bvh(bvh, 0, "cmu", cgspeed=True)


def standing_clip(hip_lift: np.ndarray, ankle_lift: np.ndarray, fps: float = 120.0) -> Motion:
    """A rigid standing figure whose hips and ankles move up (or down) by the given metres per frame."""
    rest = np.zeros((17, 3))
    for name, height in (("ankle", 0.07), ("knee", 0.5), ("hip", 0.9), ("wrist", 0.85), ("shoulder", 1.4)):
        rest[J[f"left_{name}"]] = (0.15, height, 0)
        rest[J[f"right_{name}"]] = (-0.15, height, 0)
    rest[:5] = (0, 1.6, 0.05)
    joints = np.repeat(rest[None], len(hip_lift), axis=0)
    joints[:, :, 1] += hip_lift[:, None]
    joints[:, [J["left_ankle"], J["right_ankle"]], 1] += (ankle_lift - hip_lift)[:, None]
    return Motion(joints, fps, np.full(len(joints), CLASS_INDEX["JUMPING"]), "cmu")


def test_jumps_are_labelled_around_the_flight_and_standing_or_squatting_is_other() -> None:
    t = np.arange(480) / 120  # 4 s: stand, jump at 1.8-2.2 s, stand
    flight = np.clip(1 - ((t - 2.0) / 0.2) ** 2, 0, None) * 0.3
    labels = label_jumps(standing_clip(flight, flight)).labels
    jumping = labels == CLASS_INDEX["JUMPING"]
    assert jumping[(t > 1.85) & (t < 2.15)].all()
    assert not jumping[(t < 1.4) | (t > 2.6)].any()
    assert set(labels) == {CLASS_INDEX["JUMPING"], CLASS_INDEX["OTHER"]}

    squat = -flight  # the hips go down, the feet stay on the floor: no flight, no jump
    assert set(label_jumps(standing_clip(squat, np.zeros_like(t))).labels) == {CLASS_INDEX["OTHER"]}


def make_more_dir(root: Path) -> Path:
    """The miniature mocap dir of test_synth_mocap plus a `more/` with trials by held-out and training people."""
    make_mocap_dir(root)
    held_cmu, held_hdm = VALIDATION_CMU_SUBJECTS[0], VALIDATION_HDM05_ACTORS[0]
    cmu, hdm = root / "more" / "cmu", root / "more" / "hdm05"
    for folder in (cmu / "asf", cmu / "JUMPING", cmu / "OTHER", cmu / "WAVING_2HANDS", hdm / "asf", hdm / "OTHER"):
        folder.mkdir(parents=True)
    for asf in (f"{held_cmu}.asf", "118.asf", "07-walk.asf"):
        shutil.copy(FIXTURES / "cmu_13.asf", cmu / "asf" / asf)
    for amc in (f"JUMPING/{held_cmu}_01.amc", "JUMPING/118_01.amc", "OTHER/07_01-walk.amc"):
        shutil.copy(FIXTURES / "cmu_13_29_first96.amc", cmu / amc)
    write_daz_bvh(cmu / "OTHER" / "88_11.bvh", arms_down=40)  # left out: neither OTHER nor JUMPING throughout
    write_daz_bvh(cmu / "OTHER" / f"{held_cmu}_20.bvh", arms_down=40)
    for actor in (held_hdm, "bk"):
        shutil.copy(FIXTURES / "hdm05_bk.asf", hdm / "asf" / f"HDM_{actor}.asf")
        shutil.copy(FIXTURES / "hdm05_bk_hop_020.amc", hdm / "OTHER" / f"HDM_{actor}_squat1Reps_001_120.AMC")
    return root


def test_more_trials_split_by_person_and_carry_their_classes(tmp_path: Path) -> None:
    root = make_more_dir(tmp_path)
    trials = more_trials(root)
    assert sorted(t.name for t in trials) == sorted(
        [f"{VALIDATION_CMU_SUBJECTS[0]}_01", "118_01", "07_01", f"{VALIDATION_CMU_SUBJECTS[0]}_20"]
        + [f"HDM_{a}_squat1Reps_001_120" for a in (VALIDATION_HDM05_ACTORS[0], "bk")]
    )
    walk = next(t for t in trials if t.name == "07_01")
    assert walk.skeleton.name == "07-walk.asf" and walk.label == CLASS_INDEX["OTHER"] and walk.subject == "07"
    val_people = {(t.source, t.subject) for t in trials if t.validation}
    train_people = {(t.source, t.subject) for t in trials if not t.validation}
    assert val_people == {("cmu", VALIDATION_CMU_SUBJECTS[0]), ("hdm05", VALIDATION_HDM05_ACTORS[0])}
    assert train_people == {("cmu", "118"), ("cmu", "07"), ("hdm05", "bk")}

    base_train, base_val = 3, 2  # make_mocap_dir's clips (test_synth_mocap)
    train, val = load_library(root, "train"), load_library(root, "val")
    assert (len(train), len(val)) == (base_train + 3, base_val + 3)
    assert [m.source for m in val[base_val:]] == ["cmu", "cmu", "hdm05"]
    for clip in train + val:  # every clip faces the default camera and stands on the floor
        assert (clip.joints[:, J["left_shoulder"], 0] > clip.joints[:, J["right_shoulder"], 0]).mean() > 0.9
        assert abs(np.percentile(clip.joints[:, [J["left_ankle"], J["right_ankle"]], 1].min(axis=1), 5) - 0.07) < 0.02


def test_the_traffic_signalling_trial_is_labelled_per_frame(tmp_path: Path) -> None:
    root = make_mocap_dir(tmp_path)
    folder = root / "more" / "cmu" / "WAVING_2HANDS"
    folder.mkdir(parents=True)
    write_daz_bvh(folder / "cmu-13_26.bvh", arms_down=130, frame_time=0.1)  # 13 s at 10 fps
    clip = load_library(root, "train")[-1]
    t = np.arange(len(clip)) / clip.fps
    assert len(clip) == 130
    expected = np.full(len(t), CLASS_INDEX["OTHER"])
    expected[(t >= 0.3) & (t < 2.4)] = CLASS_INDEX["WAVING_2HANDS"]
    expected[(t >= 8.8) & (t < 11.4)] = CLASS_INDEX["WAVING_1HAND"]
    np.testing.assert_array_equal(clip.labels, expected)
