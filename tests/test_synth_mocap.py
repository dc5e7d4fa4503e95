"""Motion-capture parsers, forward kinematics and the COCO-17 mapping, on small real excerpts in tests/fixtures."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from har_core.skeleton import CLASS_INDEX, JOINT_INDEX
from models.synth.mocap import (
    MocapError,
    chain,
    cmu_labels,
    face_forward,
    label_raised_hand,
    load_asf_amc,
    load_bvh,
    load_library,
    parse_amc,
    parse_asf,
    remove_travel,
)

FIXTURES = Path(__file__).parent / "fixtures" / "mocap"
J = JOINT_INDEX
BONES = [
    ("left_shoulder", "left_elbow"),
    ("left_elbow", "left_wrist"),
    ("right_hip", "right_knee"),
    ("right_knee", "right_ankle"),
]


def bone_lengths(joints: np.ndarray) -> np.ndarray:
    return np.stack([np.linalg.norm(joints[:, J[a]] - joints[:, J[b]], axis=-1) for a, b in BONES], axis=1)


def torso_length(joints: np.ndarray) -> np.ndarray:
    mid_sh = joints[:, [J["left_shoulder"], J["right_shoulder"]]].mean(axis=1)
    mid_hip = joints[:, [J["left_hip"], J["right_hip"]]].mean(axis=1)
    return np.linalg.norm(mid_sh - mid_hip, axis=-1)


@pytest.fixture(scope="module")
def cmu_jacks():
    return load_asf_amc(
        FIXTURES / "cmu_13.asf", FIXTURES / "cmu_13_29_first96.amc", CLASS_INDEX["JUMPING_JACKS"], "cmu"
    )


@pytest.fixture(scope="module")
def hdm05_hop():
    return load_asf_amc(FIXTURES / "hdm05_bk.asf", FIXTURES / "hdm05_bk_hop_020.amc", CLASS_INDEX["JUMPING"], "hdm05")


@pytest.fixture(scope="module")
def cmu_wave():
    return load_bvh(FIXTURES / "cmu_141_16_first72.bvh", CLASS_INDEX["WAVING_1HAND"], "cmu")


def test_asf_units_and_structure() -> None:
    skeleton = parse_asf(FIXTURES / "cmu_13.asf")
    assert skeleton.metres_per_unit == pytest.approx(0.0254 / 0.45)
    assert skeleton.radians_per_unit == pytest.approx(np.pi / 180)
    assert skeleton.bones["lhumerus"].parent == "lclavicle" and skeleton.bones["lhipjoint"].parent is None
    assert skeleton.bones["lfemur"].dof == ("rx", "ry", "rz")
    frames = parse_amc(FIXTURES / "cmu_13_29_first96.amc")
    assert frames["root"].shape == (96, 6) and frames["rradius"].shape == (96, 1)


@pytest.mark.parametrize("name", ["cmu_jacks", "hdm05_hop", "cmu_wave"])
def test_parsed_skeletons_are_plausible(name: str, request: pytest.FixtureRequest) -> None:
    motion = request.getfixturevalue(name)
    joints = motion.joints.astype(np.float64)
    assert motion.fps == pytest.approx(120.0, rel=1e-3)
    lengths = bone_lengths(joints)
    assert (lengths.std(axis=0) < 1e-4).all(), "bones must keep their length over time"
    assert 0.4 < np.median(torso_length(joints)) < 0.65, "a human torso in metres"
    head = joints[:, J["nose"], 1]
    assert (joints[:, J["left_ankle"], 1] < head - 1.0).all() and (joints[:, J["right_ankle"], 1] < head - 1.0).all()
    assert np.percentile(joints[:, [J["left_ankle"], J["right_ankle"]], 1].min(axis=1), 5) == pytest.approx(
        0.07, abs=0.01
    )
    # Face points sit on the head: eyes above the nose, ears either side of it.
    assert (joints[:, J["left_eye"], 1] > joints[:, J["nose"], 1]).mean() > 0.9
    ear_gap = np.linalg.norm(joints[:, J["left_ear"]] - joints[:, J["right_ear"]], axis=-1)
    assert 0.1 < np.median(ear_gap) < 0.2


def test_face_forward_turns_people_towards_the_default_camera(cmu_wave) -> None:
    turned = face_forward(cmu_wave).joints
    # Facing +z: the left shoulder is at +x and the nose is in front of the ears.
    assert (turned[:, J["left_shoulder"], 0] > turned[:, J["right_shoulder"], 0]).all()
    assert (turned[:, J["nose"], 2] > turned[:, [J["left_ear"], J["right_ear"]], 2].mean(axis=1)).mean() > 0.9
    np.testing.assert_allclose(bone_lengths(turned), bone_lengths(cmu_wave.joints), atol=1e-5)


def test_cmu_wave_raises_one_hand(cmu_wave) -> None:
    joints = face_forward(cmu_wave).joints
    right_up = joints[:, J["right_wrist"], 1] > joints[:, J["right_shoulder"], 1]
    left_up = joints[:, J["left_wrist"], 1] > joints[:, J["left_shoulder"], 1]
    assert right_up.mean() > 0.5 and not left_up.any()


def test_cmu_jumping_jacks_spread_arms_and_legs(cmu_jacks) -> None:
    joints = cmu_jacks.joints
    ankle_gap = np.abs(joints[:, J["left_ankle"], 0] - joints[:, J["right_ankle"], 0])
    assert np.ptp(ankle_gap) > 0.1  # feet jump apart within the excerpt's 0.8 s
    assert (joints[:, J["left_wrist"], 1] > joints[:, J["nose"], 1]).any()


def test_remove_travel_keeps_the_hop_in_place(hdm05_hop) -> None:
    hips = hdm05_hop.joints[:, [J["left_hip"], J["right_hip"]]].mean(axis=1)
    assert np.ptp(hips[:, [0, 2]], axis=0).max() > 0.3  # the raw hop travels
    still = remove_travel(hdm05_hop).joints
    hips = still[:, [J["left_hip"], J["right_hip"]]].mean(axis=1)
    assert np.ptp(hips[:, [0, 2]], axis=0).max() < 1e-5
    assert np.ptp(hips[:, 1]) > 0.15  # but still goes up and down
    ankles = still[:, [J["left_ankle"], J["right_ankle"]], 1].min(axis=1)
    assert ankles.max() > 0.07 + 0.05  # both feet leave the floor


def test_chain_joins_hops_without_jumps(hdm05_hop) -> None:
    hop = face_forward(remove_travel(hdm05_hop))
    chained = chain([hop, hop, hop])
    assert len(chained) == 3 * len(hop) - 2 * 12
    step = np.linalg.norm(np.diff(chained.joints, axis=0), axis=-1).max()
    assert step < 0.1  # no teleporting at the joins (120 fps)


def test_truncated_and_malformed_files_raise(tmp_path: Path) -> None:
    text = (FIXTURES / "cmu_13_29_first96.amc").read_text().splitlines()
    (tmp_path / "cut.amc").write_text("\n".join(text[:-5]) + "\n")
    with pytest.raises(MocapError, match="truncated"):
        parse_amc(tmp_path / "cut.amc")
    (tmp_path / "empty.amc").write_text(":FULLY-SPECIFIED\n:DEGREES\n")
    with pytest.raises(MocapError, match="no AMC frames"):
        parse_amc(tmp_path / "empty.amc")
    (tmp_path / "bad.asf").write_text(":version 1.10\n:name x\n")
    with pytest.raises(MocapError, match="not an ASF"):
        parse_asf(tmp_path / "bad.asf")
    bvh = (FIXTURES / "cmu_141_16_first72.bvh").read_text().splitlines()
    (tmp_path / "cut.bvh").write_text("\n".join(bvh[:-3]) + "\n")
    with pytest.raises(MocapError, match="truncated"):
        load_bvh(tmp_path / "cut.bvh", 0, "cmu")


def make_mocap_dir(root: Path) -> Path:
    """A miniature ../shared/data/mocap with the same layout, built from the fixtures.

    13_29 (train) and 14_20 (held out) are the same excerpt under two names; actor bk trains, actor tr
    (the same hop renamed) is held out.
    """
    cmu, hdm = root / "cmu", root / "hdm05"
    cmu.mkdir(parents=True)
    hdm.mkdir()
    for name in ("13", "14"):
        shutil.copy(FIXTURES / "cmu_13.asf", cmu / f"{name}.asf")
    for trial in ("13_29", "14_20"):
        shutil.copy(FIXTURES / "cmu_13_29_first96.amc", cmu / f"{trial}.amc")
    (cmu / "SeqNames.txt").write_text("13_29\n14_06\n14_20\n")
    (cmu / "BehaviorNames.txt").write_text("JumpJack\nJog\nSquat\nKneeRaise\nArmCircle\nTwist\nSideReach\nBox\n")
    (cmu / "zTrue.dat").write_text("1 1 1 1 2 2 2 2\n8 8 8\n1 1 1 1 1 1 1 1\n")
    shutil.copy(FIXTURES / "cmu_141_16_first72.bvh", cmu / "cmu_141_16.bvh")
    for actor in ("bk", "tr"):
        shutil.copy(FIXTURES / "hdm05_bk.asf", hdm / f"HDM_{actor}.asf")
        for k in (1, 2, 3, 4):  # four hops chained: longer than one 32-frame window at 30 fps
            shutil.copy(FIXTURES / "hdm05_bk_hop_020.amc", hdm / f"HDM_{actor}_hopBothLegs1hops_00{k}_120.amc")
    return root


def test_cmu_labels_map_behaviours_per_12_frames(tmp_path: Path) -> None:
    labels = cmu_labels(make_mocap_dir(tmp_path))
    other = CLASS_INDEX["OTHER"]
    assert set(labels) == {"13_29", "14_06", "14_20"}
    assert labels["13_29"].tolist() == [CLASS_INDEX["JUMPING_JACKS"]] * 48 + [other] * 48
    assert set(labels["14_06"]) == {CLASS_INDEX["BOXING"]}


def test_library_splits_train_and_validation(tmp_path: Path) -> None:
    root = make_mocap_dir(tmp_path)
    train, val = load_library(root, "train"), load_library(root, "val")
    assert [m.source for m in train] == ["cmu", "hdm05", "cmu"]
    assert [m.source for m in val] == ["cmu", "hdm05"]  # the wave is too short to hold part of it out
    assert set(train[1].labels) == {CLASS_INDEX["JUMPING"]} and len(train[1]) > len(val[0]) // 2
    wave = train[2]
    assert len(wave) == 72 and wave.labels[0] == CLASS_INDEX["OTHER"] and wave.labels[-1] == CLASS_INDEX["WAVING_1HAND"]
    for clip in train + val:
        assert (clip.joints[:, J["left_shoulder"], 0] > clip.joints[:, J["right_shoulder"], 0]).mean() > 0.9


def test_wave_is_labelled_only_while_the_hand_is_up(cmu_wave) -> None:
    labels = label_raised_hand(cmu_wave).labels
    raised = cmu_wave.joints[:, J["right_wrist"], 1] > cmu_wave.joints[:, J["right_shoulder"], 1] - 0.1
    np.testing.assert_array_equal(labels == CLASS_INDEX["WAVING_1HAND"], raised)
    assert 0 < raised.mean() < 1  # the excerpt starts with the arm coming up


def test_missing_mocap_dir_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(MocapError, match="motion-capture data not found"):
        load_library(tmp_path / "nowhere", "train")
